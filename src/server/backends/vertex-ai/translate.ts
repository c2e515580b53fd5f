import {
  type JobCapacity,
  type JobResult,
  type JobStatus,
  type ParsedCreateJobRequest,
  VERTEX_JOB_ID_LABEL,
} from "../../../spec";
import { lastKnownStatus, storageMountEnvironment } from "../cloud-common";

// The Vertex AI REST API v1 shapes this backend sends and reads (projects.locations.customJobs),
// in the camelCase of the JSON mapping. Only the fields used here are declared.

export interface VertexMachineSpec {
  machineType: string;
  acceleratorType?: string;
  acceleratorCount?: number;
  reservationAffinity?: { reservationAffinityType: string; key?: string; values?: string[] };
}

export interface VertexWorkerPoolSpec {
  machineSpec: VertexMachineSpec;
  /** int64 in the API, which the JSON mapping writes as a string. */
  replicaCount: string;
  containerSpec: {
    imageUri: string;
    command?: string[];
    args?: string[];
    env?: { name: string; value: string }[];
  };
  diskSpec?: { bootDiskType?: string; bootDiskSizeGb?: number };
}

export interface VertexCustomJob {
  name?: string;
  displayName: string;
  labels: Record<string, string>;
  jobSpec: {
    workerPoolSpecs: VertexWorkerPoolSpec[];
    scheduling?: {
      timeout?: string;
      restartJobOnWorkerRestart?: boolean;
      strategy?: string;
      disableRetries?: boolean;
      maxWaitDuration?: string;
    };
    serviceAccount?: string;
    baseOutputDirectory?: { outputUriPrefix: string };
  };
  state?: string;
  error?: { code?: number; message?: string };
}

export interface VertexSettings {
  project: string;
  region: string;
  /** Runs jobs as this service account unless the job names its own. */
  serviceAccount?: string;
  /** `gs://bucket[/prefix]`; each job's outputs go under `<bucket>/trainkit/<job id>/`. */
  stagingBucket?: string;
  /** Replaces `https://<region>-aiplatform.googleapis.com` (private endpoints, tests). */
  endpoint?: string;
  /** Replaces `https://logging.googleapis.com`, where job logs are read (private endpoints, tests). */
  loggingEndpoint?: string;
}

/** The label carrying the Train API's job id: how a resubmission finds the CustomJob it already made. */
export const JOB_ID_LABEL = VERTEX_JOB_ID_LABEL;

/** Vertex AI's `Scheduling.Strategy` for each `job_config.capacity`. */
export const VERTEX_STRATEGY: Record<JobCapacity, string> = {
  "on-demand": "STANDARD",
  spot: "SPOT",
  "flex-start": "FLEX_START",
};

/** Where Vertex AI mounts `gs://bucket/path` inside the container (Cloud Storage FUSE). */
export function gcsFusePath(sourceUri: string): string {
  return `/gcs/${sourceUri.slice("gs://".length).replace(/\/+$/, "")}`;
}

/** The CustomJob a Train API job becomes. */
export function toCustomJob(
  jobId: string,
  request: ParsedCreateJobRequest<"vertex-ai">,
  settings: VertexSettings,
): VertexCustomJob {
  const config = request.job_config;
  // Vertex mounts every bucket the job's service account can read under /gcs/ on every worker, so a
  // mount needs no declaration: the container only has to be told the path. Vertex does not enforce
  // read_only; the service account's bucket permissions do.
  const mountEnv = storageMountEnvironment(request.storage_mounts, (m) => gcsFusePath(m.source_uri));
  const workerPoolSpecs = config.worker_pool_specs.map((pool): VertexWorkerPoolSpec => {
    // Mount variables come first: Vertex expands $(NAME) in a value only from variables defined
    // before it, so the job's own variables can build on $(STORAGE_MOUNT_0_PATH).
    const env = [
      ...Object.entries(mountEnv).map(([name, value]) => ({ name, value })),
      ...(pool.container_spec.env ?? []),
    ];
    const affinity = pool.machine_spec.reservation_affinity;
    return {
      machineSpec: {
        machineType: pool.machine_spec.machine_type,
        ...(pool.machine_spec.accelerator_type !== undefined
          ? {
              acceleratorType: pool.machine_spec.accelerator_type,
              acceleratorCount: pool.machine_spec.accelerator_count ?? 1,
            }
          : {}),
        ...(affinity
          ? {
              reservationAffinity: {
                reservationAffinityType: affinity.reservation_affinity_type,
                ...(affinity.key !== undefined ? { key: affinity.key } : {}),
                ...(affinity.values !== undefined ? { values: affinity.values } : {}),
              },
            }
          : {}),
      },
      replicaCount: String(pool.replica_count),
      containerSpec: {
        imageUri: pool.container_spec.image_uri,
        ...(pool.container_spec.command ? { command: pool.container_spec.command } : {}),
        ...(pool.container_spec.args ? { args: pool.container_spec.args } : {}),
        ...(env.length > 0 ? { env } : {}),
      },
      ...(pool.disk_spec
        ? {
            diskSpec: {
              ...(pool.disk_spec.boot_disk_type ? { bootDiskType: pool.disk_spec.boot_disk_type } : {}),
              ...(pool.disk_spec.boot_disk_size_gb
                ? { bootDiskSizeGb: pool.disk_spec.boot_disk_size_gb }
                : {}),
            },
          }
        : {}),
    };
  });
  const given = config.scheduling ?? {};
  const scheduling = {
    ...(given.timeout ? { timeout: given.timeout } : {}),
    ...(given.restart_job_on_worker_restart !== undefined
      ? { restartJobOnWorkerRestart: given.restart_job_on_worker_restart }
      : {}),
    ...(config.capacity ? { strategy: VERTEX_STRATEGY[config.capacity] } : {}),
    ...(given.disable_retries !== undefined ? { disableRetries: given.disable_retries } : {}),
    ...(given.max_wait_duration ? { maxWaitDuration: given.max_wait_duration } : {}),
  };
  const serviceAccount = config.service_account ?? settings.serviceAccount;
  return {
    displayName: request.name,
    labels: { ...config.labels, [JOB_ID_LABEL]: jobId },
    jobSpec: {
      workerPoolSpecs,
      ...(Object.keys(scheduling).length > 0 ? { scheduling } : {}),
      ...(serviceAccount ? { serviceAccount } : {}),
      ...(settings.stagingBucket
        ? {
            baseOutputDirectory: {
              outputUriPrefix: `${settings.stagingBucket.replace(/\/+$/, "")}/trainkit/${jobId}`,
            },
          }
        : {}),
    },
  };
}

/** Each Vertex AI `JobState` and the Train API status it means. */
export const VERTEX_STATE_TO_STATUS: Record<string, JobStatus | "unchanged"> = {
  JOB_STATE_UNSPECIFIED: "unchanged",
  JOB_STATE_QUEUED: "PENDING",
  JOB_STATE_PENDING: "PENDING",
  JOB_STATE_RUNNING: "IN_PROGRESS",
  // A job being updated keeps running; a job being cancelled runs until it is CANCELLED.
  JOB_STATE_UPDATING: "IN_PROGRESS",
  JOB_STATE_CANCELLING: "IN_PROGRESS",
  // Paused jobs hold no workers and wait to be resumed, like a queued job.
  JOB_STATE_PAUSED: "PENDING",
  JOB_STATE_SUCCEEDED: "COMPLETED",
  JOB_STATE_PARTIALLY_SUCCEEDED: "COMPLETED",
  JOB_STATE_FAILED: "FAILED",
  JOB_STATE_CANCELLED: "CANCELED",
  JOB_STATE_EXPIRED: "EXPIRED",
};

/** The Train API status and result of a CustomJob as Vertex AI reports it. */
export function statusOfCustomJob(
  job: Pick<VertexCustomJob, "state" | "error">,
  backendState: Readonly<Record<string, unknown>> | null,
): { status: JobStatus; result?: JobResult } {
  const mapped = VERTEX_STATE_TO_STATUS[job.state ?? "JOB_STATE_UNSPECIFIED"] ?? "unchanged";
  const status = mapped === "unchanged" ? lastKnownStatus(backendState) : mapped;
  const message = job.error?.message?.trim();
  if (status === "FAILED" || status === "EXPIRED" || (status === "CANCELED" && message)) {
    return {
      status,
      result: { failure_reason: message || `Vertex AI reported ${job.state} without an error message` },
    };
  }
  if (job.state === "JOB_STATE_PARTIALLY_SUCCEEDED" && message) {
    return { status, result: { failure_reason: `partially succeeded: ${message}` } };
  }
  return { status };
}
