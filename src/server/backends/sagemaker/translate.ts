import type {
  CreateTrainingJobCommandInput,
  DescribeTrainingJobCommandOutput,
} from "@aws-sdk/client-sagemaker";
import type { JobResult, JobStatus, ParsedCreateJobRequest } from "../../../spec";
import { lastKnownStatus, nativeJobName, storageMountEnvironment } from "../cloud-common";

export interface SageMakerSettings {
  region: string;
  /** The execution role the training job runs as. */
  roleArn: string;
  /** `s3://bucket/prefix` for model artifacts; SageMaker writes under `<prefix>/<TrainingJobName>/`. */
  outputS3Uri: string;
  /** Replaces the regional endpoint (VPC endpoints, tests). */
  endpoint?: string;
}

/** SageMaker's limit on `TrainingJobName`, whose pattern is `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`. */
export const TRAINING_JOB_NAME_MAX_LENGTH = 63;
/** `StoppingCondition.MaxRuntimeInSeconds` when the job gives none: SageMaker's own default, one day. */
export const DEFAULT_MAX_RUNTIME_SECONDS = 86_400;
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
  const environment = { ...config.environment, ...mountEnv };
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
    },
    StoppingCondition: { MaxRuntimeInSeconds: config.max_runtime_seconds ?? DEFAULT_MAX_RUNTIME_SECONDS },
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
};

/** Secondary statuses that mean SageMaker stopped the job because it ran out of time. */
const OUT_OF_TIME = new Set(["MaxRuntimeExceeded", "MaxWaitTimeExceeded"]);

/** The Train API status and result of a training job as DescribeTrainingJob reports it. */
export function statusOfTrainingJob(
  described: Pick<
    DescribeTrainingJobCommandOutput,
    "TrainingJobStatus" | "SecondaryStatus" | "FailureReason"
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
    case "InProgress":
      return { status: IN_PROGRESS_SECONDARY_TO_STATUS[secondary] ?? lastKnownStatus(backendState) };
    default:
      return { status: lastKnownStatus(backendState) };
  }
}
