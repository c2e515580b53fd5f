import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OffSchema } from "../components/off-schema";
import { ArgumentError, shown } from "../components/sentences";

/** The Pod Security Standards a jobs namespace may enforce; `privileged` is left out on purpose. */
export const POD_SECURITY_LEVELS: readonly string[] = ["restricted", "baseline"];

import { type GpuInstallerArgs, GpuSupport, type KueueQuotaArgs } from "./gpu-support";
import { TrainingApi, type TrainingApiSettings } from "./training-api";

/** Arguments of a Kubernetes {@link TrainingPlatform}: `image` and `apiKeys` are required. */
export interface TrainingPlatformArgs {
  /** The Train API image. Required. See `TrainingApi.image`. */
  image: pulumi.Input<string>;
  /**
   * The API keys (secret), each with the accounts it may act for (`{"<api-key>": ["<account-id>", ...]}`).
   * Required unless `apiKeysJson` is set. See `TrainingApi.apiKeys`.
   */
  apiKeys?: pulumi.Input<Record<string, string[]>>;
  /** The API keys as JSON text (secret); conflicts with `apiKeys`. See `TrainingApi.apiKeysJson`. */
  apiKeysJson?: pulumi.Input<string>;
  /** The namespace the API runs in, made by the platform. Defaults to `trainkit`. */
  namespace?: string;
  /** The namespace jobs run in, made by the platform. Defaults to `trainkit-jobs`. */
  jobsNamespace?: string;
  /**
   * The Pod Security Standard enforced on the jobs' namespace: `restricted` (non-root only), or `baseline`,
   * which admits stock CUDA and PyTorch images that run as root (jobs give `run_as_user: 0`) while still
   * refusing privileged pods and host access. Defaults to `restricted`.
   */
  jobsPodSecurity?: string;
  /**
   * The StorageClass of the API's embedded database claim: `standard-rwo` on GKE, `managed-csi` on AKS, `gp3`
   * on EKS (`CLOUD_STORAGE_CLASSES`). Defaults to the cluster's default StorageClass.
   */
  storageClassName?: pulumi.Input<string>;
  /**
   * GPU support: the installer (see `GpuSupport.installer`), or `{ enabled: false }` when the cluster already
   * schedules GPUs and no Kueue quota is wanted. Defaults to the NVIDIA device plugin.
   */
  gpu?: PlatformGpuArgs;
  /**
   * A Kueue GPU quota for the jobs' namespace (Kueue must be installed). Its LocalQueue's name is the
   * `queue` jobs give. Defaults to none.
   */
  kueue?: KueueQuotaArgs;
  /** Further `TrainingApi` arguments (database URL, replicas, data volume, who may reach it). Defaults to none. */
  api?: TrainingApiSettings;
}

/** A `TrainingPlatform`'s GPU support: a `GpuSupport`'s installer arguments, or none at all. */
export interface PlatformGpuArgs extends GpuInstallerArgs {
  /**
   * Make a `GpuSupport` at all. Defaults to true; false when the cluster already schedules GPUs (e.g. a
   * trainkit EKS `GpuCluster`, which runs the device plugin) and no Kueue quota is wanted.
   */
  enabled?: boolean;
}

// Child trainkit components have no type in the multi-language schema (see OffSchema).
const offSchema = new OffSchema<{ gpuSupport: GpuSupport | undefined; api: TrainingApi }>();

/**
 * A training platform on an existing Kubernetes cluster: a namespace for jobs with their own ServiceAccount,
 * GPU support (and a Kueue GPU quota when asked), and the Train API allowed to run Jobs there.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  /** The namespace jobs run in, enforcing `jobsPodSecurity`. */
  public readonly jobsNamespace: k8s.core.v1.Namespace;
  /** The ServiceAccount jobs run as; it holds no Kubernetes permissions and mounts no token. */
  public readonly jobServiceAccount: k8s.core.v1.ServiceAccount;
  /** The GPU installer and Kueue quota; undefined when `gpu.enabled` is false. */
  get gpuSupport(): GpuSupport | undefined {
    return offSchema.get(this, "gpuSupport");
  }
  /** The Train API, allowed to run Jobs in the jobs' namespace only. */
  get api(): TrainingApi {
    return offSchema.get(this, "api");
  }
  /** The Train API's URL inside the cluster. */
  public readonly apiUrl: pulumi.Output<string>;
  /** The name of the namespace the Train API runs in. */
  public readonly namespace: pulumi.Output<string>;
  /** The name of the jobs' namespace, where the API creates Jobs. */
  public readonly jobsNamespaceName: pulumi.Output<string>;
  /** The LocalQueue jobs name as `job_config.queue`, when `kueue` was asked for. */
  public readonly queueName?: pulumi.Output<string>;

  constructor(name: string, args: TrainingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:kubernetes:TrainingPlatform", name, {}, opts);
    // `gpu: false`, the argument's form before it became an object, is still accepted from JavaScript.
    const gpuArg =
      (args?.gpu as PlatformGpuArgs | false | undefined) === false ? { enabled: false } : args?.gpu;
    const { enabled: gpuEnabled = true, ...installerArgs } = gpuArg ?? {};
    if (args?.kueue && !gpuEnabled) {
      throw new ArgumentError(
        `TrainingPlatform ${name}: kueue needs GPU support, but gpu.enabled is false; leave gpu.enabled out (or give its installer, "none" on GKE) to keep the quota`,
      );
    }
    const parent = { parent: this };
    const apiNamespace = args.namespace ?? "trainkit";
    const jobsNamespace = args.jobsNamespace ?? "trainkit-jobs";
    if (apiNamespace === jobsNamespace) {
      throw new ArgumentError(
        `TrainingPlatform ${name}: jobsNamespace must differ from namespace so that jobs cannot read the API's Secret; got ${jobsNamespace} for both`,
      );
    }

    const podSecurity = args.jobsPodSecurity ?? "restricted";
    if (!POD_SECURITY_LEVELS.includes(podSecurity)) {
      throw new ArgumentError(
        `TrainingPlatform ${name}: jobsPodSecurity must be restricted or baseline (baseline admits images that run as root); got ${shown(podSecurity)}`,
      );
    }
    this.jobsNamespace = new k8s.core.v1.Namespace(
      `${name}-jobs`,
      {
        metadata: {
          name: jobsNamespace,
          labels: {
            "pod-security.kubernetes.io/enforce": podSecurity,
            "app.kubernetes.io/managed-by": "trainkit",
          },
        },
      },
      parent,
    );
    this.jobServiceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-job-runner`,
      { metadata: { namespace: this.jobsNamespace.metadata.name }, automountServiceAccountToken: false },
      parent,
    );

    if (gpuEnabled) {
      const gpuSupport = new GpuSupport(
        `${name}-gpu`,
        {
          ...installerArgs,
          ...(args.kueue ? { kueue: { ...args.kueue, namespace: this.jobsNamespace.metadata.name } } : {}),
        },
        parent,
      );
      offSchema.set(this, "gpuSupport", gpuSupport);
      this.queueName = gpuSupport.queueName;
    }

    const api = new TrainingApi(
      `${name}-api`,
      {
        ...(args.api ?? {}),
        image: args.image,
        apiKeys: args.apiKeys,
        apiKeysJson: args.apiKeysJson,
        storageClassName: args.storageClassName,
        namespace: apiNamespace,
        jobsNamespace: this.jobsNamespace.metadata.name,
        jobServiceAccount: this.jobServiceAccount.metadata.name,
      },
      parent,
    );
    offSchema.set(this, "api", api);

    this.apiUrl = api.url;
    this.namespace = api.namespaceName;
    this.jobsNamespaceName = this.jobsNamespace.metadata.name;
    this.registerOutputs({
      apiUrl: this.apiUrl,
      namespace: this.namespace,
      jobsNamespace: this.jobsNamespaceName,
      queueName: this.queueName,
    });
  }
}
