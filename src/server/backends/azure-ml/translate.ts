import { createHash } from "node:crypto";
import type { CommandJob, EnvironmentVersion, JobBase } from "@azure/arm-machinelearning";
import type { JobResult, JobStatus, ParsedCreateJobRequest } from "../../../spec";
import { storageMountEnvName } from "../../../spec";
import { lastKnownStatus, nativeJobName } from "../cloud-common";

export interface AzureMlSettings {
  subscriptionId: string;
  resourceGroup: string;
  workspace: string;
  /** Replaces `https://management.azure.com` (private endpoints, sovereign clouds, tests). */
  endpoint?: string;
  /**
   * The client id of the user-assigned managed identity every job runs as (`identity` of the job body,
   * `identityType: "Managed"`). Unset, jobs name no identity and Azure ML runs them with the
   * submitter's token (AMLToken).
   */
  jobIdentityClientId?: string;
}

/** Azure ML job names allow letters, digits, `-` and `_`, up to 255 characters. */
export const AZURE_JOB_NAME_MAX_LENGTH = 255;
/** The version every environment this backend registers has: one environment per image. */
export const ENVIRONMENT_VERSION = "1";
/** The tag carrying the Train API's job id. */
export const JOB_ID_TAG = "trainkit-job-id";

/** The Azure ML job name of a Train API job; the same job always gets the same name, so its PUT is idempotent. */
export function azureJobName(jobId: string, name: string): string {
  return nativeJobName(jobId, name, AZURE_JOB_NAME_MAX_LENGTH);
}

/**
 * The environment registered for an image. Environment versions cannot be changed once created, so
 * the name is derived from the image itself: every job using one image shares one environment.
 */
export function environmentName(image: string): string {
  return `trainkit-${createHash("sha256").update(image).digest("hex").slice(0, 24)}`;
}

/** The input or output name of mount `index` (names must be valid identifiers). */
export const mountBindingName = (index: number) => `storage_mount_${index}`;

/** The ARM id of the workspace. */
export const workspaceId = (s: AzureMlSettings) =>
  `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${s.workspace}`;

/** The ARM id of an environment version this backend registers. */
export function environmentId(settings: AzureMlSettings, image: string): string {
  return `${workspaceId(settings)}/environments/${environmentName(image)}/versions/${ENVIRONMENT_VERSION}`;
}

/** The environment version body for an image. */
export function toEnvironmentVersion(image: string): EnvironmentVersion {
  return {
    properties: {
      image,
      osType: "Linux",
      description: `Container image ${image}, registered for Train API jobs`,
      tags: { "trainkit-image": image },
    },
  };
}

/** Azure ML's `QueueSettings.jobTier` for each `job_config.capacity` the azure-ml backend takes. */
export const AZURE_JOB_TIER: Record<"on-demand" | "spot", string> = { "on-demand": "Standard", spot: "Spot" };

/** The command job a Train API job becomes. */
export function toCommandJob(
  jobId: string,
  request: ParsedCreateJobRequest<"azure-ml">,
  settings: AzureMlSettings,
  envId: string,
): JobBase {
  const config = request.job_config;
  const inputs: NonNullable<CommandJob["inputs"]> = {};
  const outputs: NonNullable<CommandJob["outputs"]> = {};
  const exported: string[] = [];
  request.storage_mounts.forEach((mount, i) => {
    const binding = mountBindingName(i);
    if (mount.read_only) {
      inputs[binding] = { jobInputType: "uri_folder", uri: mount.source_uri, mode: "ReadOnlyMount" };
      exported.push(`${storageMountEnvName(i)}="\${{inputs.${binding}}}"`);
    } else {
      outputs[binding] = { jobOutputType: "uri_folder", uri: mount.source_uri, mode: "ReadWriteMount" };
      exported.push(`${storageMountEnvName(i)}="\${{outputs.${binding}}}"`);
    }
  });
  // Azure ML chooses where it mounts each input and output and substitutes that path for
  // ${{inputs.<name>}} / ${{outputs.<name>}} in the command, the documented place for these
  // bindings; exporting them first gives the container the same STORAGE_MOUNT_<i>_PATH contract
  // as every other backend.
  const command = exported.length > 0 ? `export ${exported.join(" ")} && ${config.command}` : config.command;
  // The schema refuses a job variable named like a mount variable, which the command exports.
  const environmentVariables = config.environment_variables ?? {};
  const properties: CommandJob = {
    jobType: "Command",
    displayName: request.name,
    ...(config.experiment_name ? { experimentName: config.experiment_name } : {}),
    command,
    environmentId: envId,
    // Serverless jobs name no compute: Azure ML provisions it from `resources`.
    ...(config.compute === "serverless"
      ? {}
      : { computeId: `${workspaceId(settings)}/computes/${config.compute}` }),
    ...(config.resources
      ? {
          resources: {
            ...(config.resources.instance_type ? { instanceType: config.resources.instance_type } : {}),
            ...(config.resources.instance_count ? { instanceCount: config.resources.instance_count } : {}),
            ...(config.resources.shm_size ? { shmSize: config.resources.shm_size } : {}),
          },
        }
      : {}),
    ...(Object.keys(environmentVariables).length > 0 ? { environmentVariables } : {}),
    ...(config.limits
      ? { limits: { jobLimitsType: "Command", timeout: `PT${config.limits.timeout}S` } }
      : {}),
    ...(config.capacity ? { queueSettings: { jobTier: AZURE_JOB_TIER[config.capacity] } } : {}),
    ...(Object.keys(inputs).length > 0 ? { inputs } : {}),
    ...(Object.keys(outputs).length > 0 ? { outputs } : {}),
    // Mounts without stored credentials are made as the job's identity: naming one here makes that the
    // identity holding the buckets' data roles, whichever compute runs the job.
    ...(settings.jobIdentityClientId
      ? { identity: { identityType: "Managed", clientId: settings.jobIdentityClientId } }
      : {}),
    tags: { [JOB_ID_TAG]: jobId },
  };
  return { properties };
}

/** Each Azure ML `JobStatus` and the Train API status it means. */
export const AZURE_STATUS_TO_STATUS: Record<string, JobStatus | "unchanged"> = {
  NotStarted: "PENDING",
  Starting: "PENDING",
  Provisioning: "PENDING",
  Preparing: "PENDING",
  Queued: "PENDING",
  Scheduled: "PENDING",
  // A paused job holds no compute and waits to be resumed.
  Paused: "PENDING",
  Running: "IN_PROGRESS",
  Finalizing: "IN_PROGRESS",
  // The job runs until Azure ML reports it Canceled.
  CancelRequested: "IN_PROGRESS",
  // A job whose heartbeat stopped may come back; it has not ended.
  NotResponding: "IN_PROGRESS",
  Completed: "COMPLETED",
  Failed: "FAILED",
  Canceled: "CANCELED",
  Unknown: "unchanged",
};

/** The Train API status and result of a job as Azure ML reports it. */
export function statusOfAzureJob(
  job: JobBase,
  backendState: Readonly<Record<string, unknown>> | null,
): { status: JobStatus; result?: JobResult } {
  const native = job.properties.status ?? "Unknown";
  const mapped = AZURE_STATUS_TO_STATUS[native] ?? "unchanged";
  const status = mapped === "unchanged" ? lastKnownStatus(backendState) : mapped;
  if (status !== "FAILED") return { status };
  // The job resource carries no error text; the services a job exposes may, and Studio has the logs.
  const services = Object.values(job.properties.services ?? {});
  const errors = services.flatMap((s) => (s?.errorMessage ? [s.errorMessage] : []));
  const studio = job.properties.services?.Studio?.endpoint;
  const reason = [
    errors.length > 0 ? errors.join("; ") : "Azure ML reported the job Failed",
    studio ? `logs: ${studio}` : undefined,
  ]
    .filter(Boolean)
    .join("; ");
  return { status, result: { failure_reason: reason } };
}
