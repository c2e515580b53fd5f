import * as pulumi from "@pulumi/pulumi";
import { OffSchema } from "../components/off-schema";
import { ArgumentError, shown } from "../components/sentences";
import { TrainingJob, type TrainingJobArgs } from "./training-job";

// `TrainingJob` is a dynamic resource: its provider is a serialized JavaScript closure, so only TypeScript and
// JavaScript programs can declare one. `TrainingJobComponent` wraps it in a component whose args Pulumi's
// component analyzer can read (named interfaces and enums instead of the per-backend union), so that the
// component provider host in plugins/job serves it to Python, Go, .NET, Java and YAML programs.

/** Where a job runs: a Train API backend, or a vendor's own training API. */
export const JobBackend = {
  /** Vertex AI custom jobs, through the Train API. */
  VertexAi: "vertex-ai",
  /** SageMaker training jobs, through the Train API. */
  Sagemaker: "sagemaker",
  /** Azure Machine Learning command jobs, through the Train API. */
  AzureMl: "azure-ml",
  /** Kubernetes Jobs, through the Train API. */
  Kubernetes: "kubernetes",
  /** A container on the Train API's own host. */
  Local: "local",
  /** Baseten's training API. */
  Baseten: "baseten",
  /** TensorOne's training API. */
  Tensorone: "tensorone",
  /** Custom training runs on a model registry's API. */
  Customtraining: "customtraining",
  /** Simplismart's training API. */
  Simplismart: "simplismart",
} as const;
export type JobBackend = (typeof JobBackend)[keyof typeof JobBackend];

/** How far `pulumi up` follows a job before it returns. */
export const JobWaitFor = {
  /** Until the API accepted the job. */
  Submitted: "submitted",
  /** Until the job left PENDING. */
  Running: "running",
  /** Until the job ended; an end other than COMPLETED fails the deployment. */
  Completed: "completed",
} as const;
export type JobWaitFor = (typeof JobWaitFor)[keyof typeof JobWaitFor];

/** An event on which the Train API restarts a job under its retry policy. */
export const JobRetryEvent = {
  /** The job's spot or preemptible capacity was taken back. */
  Preemption: "preemption",
  /** The job's container failed. */
  Failure: "failure",
  /** The backend had no capacity for the job. */
  NoCapacity: "no_capacity",
} as const;
export type JobRetryEvent = (typeof JobRetryEvent)[keyof typeof JobRetryEvent];

/** When the Train API restarts a job under the same id (`TrainingJobComponentArgs.retryPolicy`). */
export interface JobRetryPolicyArgs {
  /** Restarts at most, 0 to 100. Required. */
  maxRestarts: pulumi.Input<number>;
  /** The events that restart the job. Required. */
  on: pulumi.Input<JobRetryEvent>[];
  /** Wait before the first restart, in seconds. Defaults to 10. */
  backoffSeconds?: pulumi.Input<number>;
  /** The wait doubles with each restart up to this many seconds. Defaults to 600. */
  maxBackoffSeconds?: pulumi.Input<number>;
}

/** One storage location mounted into the job's container, found there through `STORAGE_MOUNT_<i>_PATH`. */
export interface JobStorageMountArgs {
  /**
   * What to mount, as the backend can reach it: `gs://` (vertex-ai), `s3://` (sagemaker),
   * `azureml://datastores/<name>/paths/<path>` (azure-ml), `pvc://<claim>/<path>` (kubernetes),
   * `file:///<path>` or an absolute path (local). Required.
   */
  sourceUri: pulumi.Input<string>;
  /** Where the container sees it: an absolute path, distinct among the job's mounts. Required. */
  mountPath: pulumi.Input<string>;
  /** Whether the job may only read it. Defaults to false. */
  readOnly?: pulumi.Input<boolean>;
}

/** Arguments of a {@link TrainingJobComponent}: a `TrainingJob`'s, with the job body as a free-form object. */
export interface TrainingJobComponentArgs {
  /** Where the job runs: a Train API backend or a vendor. Changing it submits a new job. Required. */
  backend: JobBackend;
  /**
   * The job's name on the API and, where the backend uses names, on the cloud (a vendor shows it with a mark
   * appended). Changing it submits a new job. Required.
   */
  name: pulumi.Input<string>;
  /**
   * What runs: the backend's job body in snake_case exactly as the Train API takes it (e.g.
   * `worker_pool_specs` for vertex-ai), or a vendor's own job body. Checked against the backend's shape when
   * the job is previewed, with errors naming the field. Changing it submits a new job. Required.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a job body is free-form here; the provider checks it per backend.
  jobConfig: pulumi.Input<Record<string, any>>;
  /** Storage mounted into the job, in order. Train API backends only. Changing them submits a new job. Defaults to none. */
  storageMounts?: JobStorageMountArgs[];
  /**
   * Base URL of the Train API (or the vendor's API). Defaults to the stack config `trainkit:apiUrl` (for a
   * vendor `trainkit:<vendor>ApiUrl`), else the environment variable `TRAINKIT_API_URL`.
   */
  apiUrl?: pulumi.Input<string>;
  /**
   * The API key (secret): stored as a secret whatever form it is given in. Defaults to the stack config
   * `trainkit:apiKey` (for a vendor `trainkit:<vendor>ApiKey`; set it with `--secret`), else the environment
   * variable `TRAINKIT_API_KEY`.
   */
  apiKey?: pulumi.Input<string>;
  /** The Train API account the job belongs to. Defaults to the stack config `trainkit:accountId`, else `TRAINKIT_ACCOUNT_ID`. */
  accountId?: pulumi.Input<string>;
  /** Send a Google ID token for a Train API on Cloud Run behind IAM. Defaults to true for a `*.run.app` URL. */
  googleIdToken?: pulumi.Input<boolean>;
  /** How far `pulumi up` follows the job. Defaults to `submitted`. */
  waitFor?: JobWaitFor;
  /** How long to watch before failing the deployment (the job keeps running), in seconds. Defaults to 3600. */
  waitTimeoutSeconds?: pulumi.Input<number>;
  /** Time allowed for one HTTP request to the API before it is retried, in seconds. Defaults to 30. */
  requestTimeoutSeconds?: pulumi.Input<number>;
  /** When the Train API restarts the job. Train API backends only. Changing it submits a new job. Defaults to no restarts. */
  retryPolicy?: JobRetryPolicyArgs;
  /** TensorOne only: resume the job from its latest checkpoint whenever `pulumi up` finds it stopped. Defaults to false. */
  resumeStopped?: pulumi.Input<boolean>;
}

/** How one run of a job ended (`JobAttempt.end`). */
export interface JobAttemptEnd {
  /** What ended it: `preemption`, `failure`, `no_capacity`, `completed`, ... */
  kind: string;
  /** The backend's reason. */
  reason: string;
}

/** One run of a job on its backend (`TrainingJobComponent.attempts`). */
export interface JobAttempt {
  /** The run's number, from 1. */
  attempt: number;
  /** The backend's own identifiers of this run. */
  cloudJobIdentifier?: Record<string, string>;
  /** When the run started (ISO 8601). */
  startedAt?: string;
  /** When the run ended (ISO 8601). */
  endedAt?: string;
  /** Why the run ended, once it has. */
  end?: JobAttemptEnd;
}

const BACKEND_VALUES: readonly string[] = Object.values(JobBackend);
const offSchema = new OffSchema<{ job: TrainingJob }>();

/**
 * A training job for programs in any Pulumi language: a component holding one `TrainingJob` (a dynamic
 * resource) and giving its outputs. `pulumi up` submits the job, `pulumi refresh` reads its status,
 * `pulumi destroy` cancels it, as for `TrainingJob`.
 */
export class TrainingJobComponent extends pulumi.ComponentResource {
  /** The `TrainingJob` this component holds (TypeScript only). */
  get job(): TrainingJob {
    return offSchema.get(this, "job");
  }
  /** The API's id of the job (a UUID on the Train API; the vendor's job id otherwise). */
  public readonly jobId: pulumi.Output<string>;
  /** PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELED or EXPIRED, as of the last `up` or `refresh`. */
  public readonly status: pulumi.Output<string>;
  /** The cloud's or vendor's own identifiers of the job (`job_name`, `training_job_name`, ...), once it has them. */
  public readonly cloudJobIdentifier?: pulumi.Output<Record<string, string>>;
  /** Why the job failed, expired or was canceled, when it did. */
  public readonly failureReason?: pulumi.Output<string>;
  /** For a vendor job, the vendor's own status word. */
  public readonly vendorStatus?: pulumi.Output<string>;
  /** When the API created the job (ISO 8601). */
  public readonly createdAt: pulumi.Output<string>;
  /** When the job last changed (ISO 8601). */
  public readonly updatedAt: pulumi.Output<string>;
  /** How many times the Train API restarted the job under its `retryPolicy`. */
  public readonly restarts?: pulumi.Output<number>;
  /** The job's runs on its backend, oldest first. */
  public readonly attempts?: pulumi.Output<JobAttempt[]>;

  constructor(name: string, args: TrainingJobComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:job:TrainingJobComponent", name, {}, opts);
    if (!BACKEND_VALUES.includes(args?.backend)) {
      throw new ArgumentError(
        `TrainingJobComponent ${name}: backend must be one of ${BACKEND_VALUES.join(", ")}; got ${shown(args?.backend)}`,
      );
    }
    const given: Record<string, unknown> = {
      backend: args.backend,
      name: args.name,
      jobConfig: args.jobConfig,
      storageMounts: args.storageMounts,
      apiUrl: args.apiUrl,
      apiKey: args.apiKey,
      accountId: args.accountId,
      googleIdToken: args.googleIdToken,
      waitFor: args.waitFor,
      waitTimeoutSeconds: args.waitTimeoutSeconds,
      requestTimeoutSeconds: args.requestTimeoutSeconds,
      retryPolicy: args.retryPolicy,
      resumeStopped: args.resumeStopped,
    };
    // TrainingJob's args are a union by backend; the provider's check holds the job to its backend's shape.
    const jobArgs = Object.fromEntries(
      Object.entries(given).filter(([, v]) => v !== undefined),
    ) as unknown as TrainingJobArgs;
    const job = offSchema.set(this, "job", new TrainingJob(name, jobArgs, { parent: this }));
    this.jobId = job.jobId;
    this.status = job.status;
    this.cloudJobIdentifier = job.cloudJobIdentifier as pulumi.Output<Record<string, string>>;
    this.failureReason = job.failureReason as pulumi.Output<string>;
    this.vendorStatus = job.vendorStatus as pulumi.Output<string>;
    this.createdAt = job.createdAt;
    this.updatedAt = job.updatedAt;
    this.restarts = job.restarts as pulumi.Output<number>;
    this.attempts = job.attempts as pulumi.Output<JobAttempt[]>;
    this.registerOutputs({
      jobId: this.jobId,
      status: this.status,
      cloudJobIdentifier: this.cloudJobIdentifier,
      failureReason: this.failureReason,
      vendorStatus: this.vendorStatus,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
      restarts: this.restarts,
      attempts: this.attempts,
    });
  }
}
