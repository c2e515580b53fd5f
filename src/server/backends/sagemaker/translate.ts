import type {
  CreateTrainingJobCommandInput,
  DescribeTrainingJobCommandOutput,
} from "@aws-sdk/client-sagemaker";
import {
  type JobResult,
  type JobStatus,
  type ParsedCreateJobRequest,
  SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS,
} from "../../../spec";
import { lastKnownStatus, nativeJobName, storageMountEnvironment } from "../cloud-common";

export interface SageMakerSettings {
  region: string;
  /** The execution role the training job runs as. */
  roleArn: string;
  /** `s3://bucket/prefix` for model artifacts; SageMaker writes under `<prefix>/<TrainingJobName>/`. */
  outputS3Uri: string;
  /** Replaces the regional endpoint (VPC endpoints, tests). */
  endpoint?: string;
  /** Replaces the regional CloudWatch Logs endpoint the job's log is read from (VPC endpoints, tests). */
  logsEndpoint?: string;
}

/** SageMaker's limit on `TrainingJobName`, whose pattern is `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`. */
export const TRAINING_JOB_NAME_MAX_LENGTH = 63;
/** `StoppingCondition.MaxRuntimeInSeconds` when the job gives none: SageMaker's own default, one day. */
export const DEFAULT_MAX_RUNTIME_SECONDS = SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS;
/** The tag carrying the Train API's job id, so the training job can be traced back from the console. */
export const JOB_ID_TAG = "trainkit-job-id";

/** Where SageMaker puts input channel `name` inside the container. */
export const channelPath = (name: string) => `/opt/ml/input/data/${name}`;
/** The channel name of mount `index` (channel names allow letters, digits, `.`, `-`, `_`). */
export const channelName = (index: number) => `mount-${index}`;

/**
 * The training job name for a Train API job: derived from its id, so a create retried after a lost
 * response is refused with `ResourceInUse` instead of starting a second job.
 */
export function trainingJobName(jobId: string, name: string): string {
  return nativeJobName(jobId, name, TRAINING_JOB_NAME_MAX_LENGTH);
}

/** The CreateTrainingJob request a Train API job becomes. */
export function toCreateTrainingJob(
  jobId: string,
  request: ParsedCreateJobRequest<"sagemaker">,
  settings: SageMakerSettings,
): CreateTrainingJobCommandInput {
  const config = request.job_config;
  const mounts = request.storage_mounts;
  // Read-only mounts become input channels streamed in FastFile mode (no copy before the job
  // starts); the one writable mount the schema allows becomes the checkpoint directory, which
  // SageMaker syncs to S3 while the job runs, at the path the job asked for.
  const checkpoint = mounts.find((m) => !m.read_only);
  const mountEnv = storageMountEnvironment(mounts, (m, i) =>
    m.read_only ? channelPath(channelName(i)) : m.mount_path,
  );
  const channels = mounts.flatMap((m, i) =>
    m.read_only
      ? [
          {
            ChannelName: channelName(i),
            DataSource: {
              S3DataSource: {
                S3DataType: "S3Prefix" as const,
                S3Uri: m.source_uri,
                S3DataDistributionType: "FullyReplicated" as const,
              },
            },
            InputMode: "FastFile" as const,
          },
        ]
      : [],
  );
  // The schema refuses a job variable named like a mount variable, so neither overrides the other;
  // the mount variables are written first as on every backend.
  const environment = { ...mountEnv, ...config.environment };
  const spot = config.capacity === "spot";
  const maxRuntime = config.max_runtime_seconds ?? DEFAULT_MAX_RUNTIME_SECONDS;
  return {
    TrainingJobName: trainingJobName(jobId, request.name),
    AlgorithmSpecification: {
      TrainingImage: config.image,
      TrainingInputMode: "FastFile",
      ...(config.command ? { ContainerEntrypoint: config.command } : {}),
      ...(config.args ? { ContainerArguments: config.args } : {}),
    },
    RoleArn: settings.roleArn,
    OutputDataConfig: { S3OutputPath: settings.outputS3Uri },
    ResourceConfig: {
      InstanceType: config.resource_config.instance_type as NonNullable<
        CreateTrainingJobCommandInput["ResourceConfig"]
      >["InstanceType"],
      InstanceCount: config.resource_config.instance_count,
      VolumeSizeInGB: config.resource_config.volume_size_in_gb,
      ...(config.resource_config.training_plan_arn
        ? { TrainingPlanArn: config.resource_config.training_plan_arn }
        : {}),
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: maxRuntime,
      // Managed spot training needs a wait limit of at least the run time; without one given, the
      // job may wait for spot capacity as long as it may run.
      ...(spot ? { MaxWaitTimeInSeconds: config.max_wait_time_seconds ?? maxRuntime } : {}),
      ...(config.max_pending_time_seconds !== undefined
        ? { MaxPendingTimeInSeconds: config.max_pending_time_seconds }
        : {}),
    },
    ...(spot ? { EnableManagedSpotTraining: true } : {}),
    ...(config.hyperparameters ? { HyperParameters: config.hyperparameters } : {}),
    ...(Object.keys(environment).length > 0 ? { Environment: environment } : {}),
    ...(channels.length > 0 ? { InputDataConfig: channels } : {}),
    ...(checkpoint
      ? { CheckpointConfig: { S3Uri: checkpoint.source_uri, LocalPath: checkpoint.mount_path } }
      : {}),
    Tags: [{ Key: JOB_ID_TAG, Value: jobId }],
  };
}

/**
 * The Train API status of an `InProgress` training job by its `SecondaryStatus`: before the
 * training container runs, the job is PENDING; from `Training` on, IN_PROGRESS. A spot job that was
 * interrupted waits for capacity again, so it is PENDING too.
 */
export const IN_PROGRESS_SECONDARY_TO_STATUS: Record<string, JobStatus> = {
  Pending: "PENDING",
  Starting: "PENDING",
  LaunchingMLInstances: "PENDING",
  PreparingTrainingStack: "PENDING",
  Downloading: "PENDING",
  DownloadingTrainingImage: "PENDING",
  Interrupted: "PENDING",
  Training: "IN_PROGRESS",
  Uploading: "IN_PROGRESS",
  Restarting: "IN_PROGRESS",
  Updating: "IN_PROGRESS",
  // The secondary statuses of a job that is ending: the primary status follows within moments, and
  // until it does the job has not ended.
  Stopping: "IN_PROGRESS",
  Stopped: "IN_PROGRESS",
  Completed: "IN_PROGRESS",
  Failed: "IN_PROGRESS",
  MaxRuntimeExceeded: "IN_PROGRESS",
  MaxWaitTimeExceeded: "IN_PROGRESS",
};

/**
 * Each SageMaker `TrainingJobStatus` and the Train API status it means; an `InProgress` job is read by
 * its secondary status, and a job stopped or failed for running out of time is EXPIRED. A job being
 * deleted is on its way out whatever it was doing, so it is CANCELED rather than left as it last was.
 */
export const SAGEMAKER_STATUS_TO_STATUS: Record<string, JobStatus | "by secondary status"> = {
  InProgress: "by secondary status",
  Completed: "COMPLETED",
  Failed: "FAILED",
  Stopping: "IN_PROGRESS",
  Stopped: "CANCELED",
  Deleting: "CANCELED",
};

/** Secondary statuses that mean SageMaker stopped the job because it ran out of time. */
const OUT_OF_TIME = new Set(["MaxRuntimeExceeded", "MaxWaitTimeExceeded"]);

/** The Train API status and result of a training job as DescribeTrainingJob reports it. */
export function statusOfTrainingJob(
  described: Partial<
    Pick<DescribeTrainingJobCommandOutput, "TrainingJobStatus" | "SecondaryStatus" | "FailureReason">
  >,
  backendState: Readonly<Record<string, unknown>> | null,
): { status: JobStatus; result?: JobResult } {
  const secondary = described.SecondaryStatus ?? "";
  const reason = described.FailureReason?.trim();
  switch (described.TrainingJobStatus) {
    case "Completed":
      return { status: "COMPLETED" };
    case "Failed":
      return {
        status: OUT_OF_TIME.has(secondary) ? "EXPIRED" : "FAILED",
        result: {
          failure_reason:
            reason || `SageMaker reported the training job Failed (${secondary || "no reason given"})`,
        },
      };
    case "Stopped":
      if (OUT_OF_TIME.has(secondary)) {
        return {
          status: "EXPIRED",
          result: { failure_reason: reason || `SageMaker stopped the training job: ${secondary}` },
        };
      }
      return { status: "CANCELED" };
    case "Stopping":
      return { status: "IN_PROGRESS" };
    case "Deleting":
      return {
        status: "CANCELED",
        result: {
          failure_reason: `SageMaker is deleting the training job${secondary ? ` (it was ${secondary})` : ""}; it will not finish`,
        },
      };
    case "InProgress":
      return { status: IN_PROGRESS_SECONDARY_TO_STATUS[secondary] ?? lastKnownStatus(backendState) };
    default:
      return { status: lastKnownStatus(backendState) };
  }
}
