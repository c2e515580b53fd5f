import * as pulumi from "@pulumi/pulumi";
import type { Backend, JobConfigFor, JobStatus, RetryEvent, Vendor, VendorJobConfigFor } from "../spec";
import type { AttemptOutput, TrainingJobProvider, WaitFor } from "./provider";

/** A value, or an Input of it at any depth, so outputs of other resources can go anywhere in a job spec. */
export type DeepInput<T> = pulumi.Input<
  T extends readonly (infer U)[] ? DeepInput<U>[] : T extends object ? { [K in keyof T]: DeepInput<T[K]> } : T
>;

/** One storage location mounted into the job's container, found there through `STORAGE_MOUNT_<i>_PATH`. */
export interface StorageMountArgs {
  /**
   * What to mount, as the backend can reach it: `gs://` (vertex-ai), `s3://` (sagemaker),
   * `azureml://datastores/<name>/paths/<path>` (azure-ml), `pvc://<claim>/<path>` (kubernetes),
   * `file:///<path>` or an absolute path (local).
   */
  sourceUri: pulumi.Input<string>;
  /** Where the container sees it: an absolute path, distinct among the job's mounts. */
  mountPath: pulumi.Input<string>;
  /** Whether the job may only read it. Defaults to false. */
  readOnly?: pulumi.Input<boolean>;
}

interface TrainingJobCommonArgs {
  /**
   * The job's name on the API and, where the backend uses names, on the cloud: letters, digits,
   * `.`, `_` and `-`, starting with a letter or digit. Changing it submits a new job.
   */
  name: pulumi.Input<string>;
  /** Storage mounted into the job, in order (`STORAGE_MOUNT_0_PATH`, ...). Changing them submits a new job. Defaults to none. */
  storageMounts?: pulumi.Input<pulumi.Input<StorageMountArgs>[]>;
  /**
   * Base URL of the Train API, such as `http://127.0.0.1:8080`. Defaults to the stack config
   * `trainkit:apiUrl`, else the environment variable `TRAINKIT_API_URL`.
   */
  apiUrl?: pulumi.Input<string>;
  /**
   * The API key, sent as `x-api-key`. Always stored as a secret. Defaults to the stack config
   * `trainkit:apiKey` (set it with `--secret`), else the environment variable `TRAINKIT_API_KEY`;
   * keys from those sources are never written to the stack's state.
   */
  apiKey?: pulumi.Input<string>;
  /**
   * The account the job belongs to, sent as `x-selected-account-id`. Defaults to the stack config
   * `trainkit:accountId`, else the environment variable `TRAINKIT_ACCOUNT_ID`.
   */
  accountId?: pulumi.Input<string>;
  /**
   * Send a Google ID token for `apiUrl`'s service as `Authorization: Bearer`, for a Train API on Cloud Run
   * behind IAM: google-auth-library gets it from the caller's standard credentials
   * (`GOOGLE_APPLICATION_CREDENTIALS`, `gcloud auth application-default login`, a metadata server), whose
   * identity needs `roles/run.invoker` on the service. Defaults to true for a `*.run.app` URL, false otherwise.
   */
  googleIdToken?: pulumi.Input<boolean>;
  /**
   * How long `pulumi up` watches the job: `submitted` returns once the API accepted it, `running`
   * once it left PENDING, `completed` once it ended. A job that ends other than COMPLETED while
   * watched fails the deployment but stays in the stack. Defaults to `submitted`.
   */
  waitFor?: pulumi.Input<WaitFor>;
  /**
   * When the Train API restarts the job under the same id: on which events (`preemption`,
   * `failure`, `no_capacity`), how often at most, and the back-off between restarts. A job that
   * writes checkpoints to a writable storage mount resumes from them. With `waitFor: completed`,
   * `pulumi up` keeps waiting through the restarts. Train API backends only. Changing it submits a
   * new job. Defaults to no restarts.
   */
  retryPolicy?: pulumi.Input<{
    maxRestarts: pulumi.Input<number>;
    on: pulumi.Input<pulumi.Input<RetryEvent>[]>;
    backoffSeconds?: pulumi.Input<number>;
    maxBackoffSeconds?: pulumi.Input<number>;
  }>;
  /** How long to watch before failing the deployment (the job keeps running). Defaults to 3600. */
  waitTimeoutSeconds?: pulumi.Input<number>;
  /** Time allowed for one HTTP request to the API before it is retried. Defaults to 30. */
  requestTimeoutSeconds?: pulumi.Input<number>;
}

interface VendorJobCommonArgs
  extends Omit<
    TrainingJobCommonArgs,
    "name" | "storageMounts" | "apiUrl" | "apiKey" | "accountId" | "googleIdToken" | "retryPolicy"
  > {
  /**
   * The job's name, by the rules of the vendor's name field: human-readable for `tensorone` (at
   * most 91 characters) and `customtraining`; letters, digits, `.`, `_` and `-` for `baseten` and
   * `simplismart`. The vendor shows it with a mark appended (`-` and 8 hex digits) that tells this
   * submission's job from any other. Changing it submits a new job.
   */
  name: pulumi.Input<string>;
  /**
   * Base URL of the vendor's API. Defaults to the stack config `trainkit:<vendor>ApiUrl`, else the
   * environment variable `TRAINKIT_<VENDOR>_API_URL`, else the vendor's public API
   * (`https://api.baseten.co`, `https://api.tensorone.ai`,
   * `https://training-suite.app.simplismart.ai`); `customtraining` has no public default and needs
   * one of them set.
   */
  apiUrl?: pulumi.Input<string>;
  /**
   * The vendor's API key, sent as that vendor's Authorization header. Always stored as a secret.
   * Defaults to the stack config `trainkit:<vendor>ApiKey` (set it with `--secret`), else the
   * environment variable `TRAINKIT_<VENDOR>_API_KEY`; never the Train API's key.
   */
  apiKey?: pulumi.Input<string>;
}

/**
 * A job for one backend. `jobConfig` mirrors that cloud's native job API in snake_case, exactly as
 * the Train API takes it, so the editor completes it from the `backend` you chose. For a vendor's
 * own training API (`baseten`, `tensorone`, `customtraining`, `simplismart`), `jobConfig` is that
 * vendor's job body in its own field names, plus the path parameter that places the job
 * (`training_project_id` for Baseten, `model_id` for custom training runs).
 */
export type TrainingJobArgs<B extends Backend | Vendor = Backend | Vendor> = {
  [K in B]: K extends Backend
    ? TrainingJobCommonArgs & {
        /** Where the job runs: `vertex-ai`, `sagemaker`, `azure-ml`, `kubernetes` or `local`. Changing it submits a new job. */
        backend: K;
        /** What runs, in the backend's own job shape. Changing it submits a new job. */
        jobConfig: DeepInput<JobConfigFor<K>>;
      }
    : K extends Vendor
      ? VendorJobCommonArgs & {
          /** The vendor whose training API runs the job. Changing it submits a new job. */
          backend: K;
          /**
           * The vendor's job body. Its name field (`training_job.name`, `name`, `run_label`,
           * `experiment_name`) may be left out: `name` is written there. Changing it submits a new job.
           */
          jobConfig: DeepInput<VendorJobConfigFor<K>>;
        } & (K extends "tensorone"
            ? {
                /**
                 * Resume the job from its latest checkpoint whenever `pulumi up` finds it stopped
                 * (by `pulumi refresh`, or `pulumi up --refresh`): a job stopped in TensorOne's
                 * console is started again instead of staying stopped. Changing it updates in place.
                 * Defaults to false.
                 */
                resumeStopped?: pulumi.Input<boolean>;
              }
            : unknown)
      : never;
}[B];

// The serialized provider is this small object and nothing else: every method loads the real
// implementation by package name in the provider host, so the closure captures no module, no
// config and no secret, and the host runs whichever trainkit the project has installed.
const provider: pulumi.dynamic.ResourceProvider & { impl?: TrainingJobProvider } = {
  async configure(req) {
    return implementation(this).configure(req);
  },
  async check(olds, news) {
    return implementation(this).check(olds, news);
  },
  async diff(id, olds, news) {
    return implementation(this).diff(id, olds, news);
  },
  async create(inputs) {
    return implementation(this).create(inputs);
  },
  async read(id, props) {
    return implementation(this).read(id, props ?? {});
  },
  async update(id, olds, news) {
    return implementation(this).update(id, olds, news);
  },
  async delete(id, props) {
    return implementation(this).delete(id, props);
  },
};

function implementation(holder: { impl?: TrainingJobProvider }): TrainingJobProvider {
  if (!holder.impl) {
    // The engine starts the provider host in the project directory. Resolving from there finds the
    // trainkit the project installed, or this package itself when the project is trainkit's own
    // repository (a package may require itself by name only from a file inside it).
    const { createRequire } = require("node:module");
    const load = createRequire(`${process.cwd()}/`);
    holder.impl = new (load("trainkit/job/provider").TrainingJobProvider)() as TrainingJobProvider;
  }
  return holder.impl;
}

/**
 * A training job submitted to the Train API, or to a vendor's own training API (Baseten, TensorOne,
 * custom training runs on a model registry, Simplismart) when `backend` names one. `pulumi up`
 * submits it (and watches it as `waitFor` says), `pulumi refresh` reads its status,
 * `pulumi destroy` cancels it (for TensorOne: stops it, saving a checkpoint). Changing what runs
 * (backend, name, jobConfig, storageMounts) cancels the job and submits a new one; changing how it
 * is watched or reached updates it in place.
 */
export class TrainingJob<B extends Backend | Vendor = Backend | Vendor> extends pulumi.dynamic.Resource {
  /** The API's id of the job (a UUID on the Train API; the vendor's job id otherwise), also the resource's id. */
  declare public readonly jobId: pulumi.Output<string>;
  /** PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELED or EXPIRED, as of the last `up` or `refresh`. */
  declare public readonly status: pulumi.Output<JobStatus>;
  /**
   * The cloud's own job identifier (`job_name`, `training_job_name`, ...), once the backend has one;
   * for a vendor, its ids and the job's name there, mark included (`training_project_id`,
   * `training_job_id` and `training_job_name`; `job_id` and `name`; `model_id`, `run_id` and
   * `run_label`; `request_id` and `experiment_name`).
   */
  declare public readonly cloudJobIdentifier: pulumi.Output<Record<string, string> | undefined>;
  /** Why the job failed, expired or was canceled, when it did. */
  declare public readonly failureReason: pulumi.Output<string | undefined>;
  /** For a vendor job, the vendor's own status word (TensorOne's `stopped`, Baseten's `TRAINING_JOB_RUNNING`). */
  declare public readonly vendorStatus: pulumi.Output<string | undefined>;
  /** When the API created the job; for an API that does not say, when `pulumi up` first saw it. */
  declare public readonly createdAt: pulumi.Output<string>;
  /** When the job last changed, as the API reports it; the creation time where the API does not say. */
  declare public readonly updatedAt: pulumi.Output<string>;
  /** How many times the Train API restarted the job under its `retryPolicy`, as of the last `up` or `refresh`. */
  declare public readonly restarts: pulumi.Output<number | undefined>;
  /** The job's runs on its backend, oldest first: native identifier, start, end and why each ended. */
  declare public readonly attempts: pulumi.Output<AttemptOutput[] | undefined>;
  /** The backend or vendor the job was submitted to, as given in `backend`. */
  declare public readonly backend: pulumi.Output<B>;
  /** The job's name as given; a vendor shows it with the submission's mark appended. */
  declare public readonly name: pulumi.Output<string>;

  /**
   * Declares one job. Arguments the engine does not know yet (outputs of other resources) are checked
   * once known, with errors naming the field (`jobConfig.worker_pool_specs[0]...`); the API key is
   * made secret in the state whatever form it was given in.
   */
  constructor(name: string, args: TrainingJobArgs<B>, opts?: pulumi.CustomResourceOptions) {
    const props: pulumi.Inputs = {
      backend: args.backend,
      name: args.name,
      jobConfig: args.jobConfig,
      storageMounts: "storageMounts" in args ? args.storageMounts : undefined,
      apiUrl: args.apiUrl,
      // Secret in the inputs too, not only in the outputs, so that no copy of the key in the
      // state is plain text even when the program passed a plain string.
      apiKey: args.apiKey === undefined ? undefined : pulumi.secret(args.apiKey),
      accountId: "accountId" in args ? args.accountId : undefined,
      googleIdToken: "googleIdToken" in args ? args.googleIdToken : undefined,
      waitFor: args.waitFor,
      waitTimeoutSeconds: args.waitTimeoutSeconds,
      requestTimeoutSeconds: args.requestTimeoutSeconds,
      resumeStopped: "resumeStopped" in args ? args.resumeStopped : undefined,
      retryPolicy: "retryPolicy" in args ? args.retryPolicy : undefined,
      jobId: undefined,
      restarts: undefined,
      attempts: undefined,
      status: undefined,
      cloudJobIdentifier: undefined,
      failureReason: undefined,
      vendorStatus: undefined,
      createdAt: undefined,
      updatedAt: undefined,
    };
    const secretOutputs = ["apiKey", ...(opts?.additionalSecretOutputs ?? [])];
    super(
      provider,
      name,
      props,
      { ...opts, additionalSecretOutputs: secretOutputs },
      "trainkit",
      "TrainingJob",
    );
  }
}
