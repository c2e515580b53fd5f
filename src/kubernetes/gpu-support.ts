import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { GPU_NODE_LABELS, GPU_TAINT } from "../components/gpu-pool";
import { GPU_RESOURCE } from "../components/kubernetes";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";

/** How GPUs become schedulable on the cluster's nodes. */
export const GpuInstaller = {
  /** NVIDIA's device plugin DaemonSet on GPU nodes whose drivers are already installed (EKS GPU AMIs, AKS GPU pools). */
  NvidiaDevicePlugin: "nvidia-device-plugin",
  /** NVIDIA's GPU operator Helm chart, which also installs drivers and the container toolkit, for bare nodes. */
  GpuOperator: "gpu-operator",
  /** Nothing: the cluster schedules GPUs itself (GKE with automatic driver installation runs its own device plugin). */
  None: "none",
} as const;
export type GpuInstaller = (typeof GpuInstaller)[keyof typeof GpuInstaller];

/** A Kueue GPU quota for one namespace's jobs (`GpuSupportArgs.kueue`). */
export interface KueueArgs extends KueueQuotaArgs {
  /** The namespace whose jobs the queue serves; a LocalQueue is made there. Required. */
  namespace: pulumi.Input<string>;
}

/** A Kueue GPU quota without the namespace it serves: what a `TrainingPlatform` takes as `kueue`. */
export interface KueueQuotaArgs {
  /**
   * GPUs the queue's jobs may hold at once, across the cluster: the ClusterQueue's `nvidia.com/gpu`
   * nominal quota. Jobs past it wait, suspended, instead of pending unschedulable. Required; at least 1.
   */
  gpuQuota: number;
  /** CPU the queue's jobs may hold at once. Defaults to `1000`, so the GPU quota is the one that binds. */
  cpuQuota?: pulumi.Input<string>;
  /** Memory the queue's jobs may hold at once. Defaults to `8Ti`, so the GPU quota is the one that binds. */
  memoryQuota?: pulumi.Input<string>;
  /** The LocalQueue's name, which jobs give as `job_config.queue`. Defaults to `gpu`. */
  queueName?: string;
  /**
   * Node labels the ResourceFlavor selects, so admitted jobs land on the right GPU nodes (e.g.
   * `{"trainkit.dev/gpu": "nvidia-l4"}`). Defaults to none: any node carrying GPUs.
   */
  nodeLabels?: Record<string, pulumi.Input<string>>;
}

/** Arguments of a {@link GpuSupport}; every field is optional. */
export interface GpuSupportArgs extends GpuInstallerArgs {
  /**
   * A Kueue GPU quota: a ResourceFlavor, a ClusterQueue holding `gpuQuota` GPUs and a LocalQueue in the jobs'
   * namespace. Kueue itself must already be installed (its controller and CRDs, e.g. from its release
   * manifest or Helm chart); this component only configures it. Defaults to none.
   */
  kueue?: KueueArgs;
}

/** How a {@link GpuSupport} makes GPUs schedulable: its arguments besides the Kueue quota. */
export interface GpuInstallerArgs {
  /**
   * What makes GPUs schedulable: `nvidia-device-plugin` (a DaemonSet on GPU nodes whose drivers are already
   * installed, as on EKS GPU AMIs and AKS GPU pools), `gpu-operator` (NVIDIA's Helm chart, which also installs
   * drivers and the container toolkit, for bare nodes), or `none` (GKE with automatic driver installation,
   * which runs its own device plugin; a second one would fight it). Defaults to `nvidia-device-plugin`.
   */
  installer?: GpuInstaller;
  /** The namespace the device plugin or the operator runs in. Defaults to `kube-system` (plugin) or `gpu-operator`. */
  namespace?: pulumi.Input<string>;
  /** The device plugin image. Defaults to `nvcr.io/nvidia/k8s-device-plugin:v0.17.0`. Only with the device plugin. */
  devicePluginImage?: pulumi.Input<string>;
  /** The GPU operator chart version. Defaults to `v24.9.0`. Only with `gpu-operator`. */
  gpuOperatorVersion?: pulumi.Input<string>;
  /**
   * Node label keys any of which marks a GPU node; the device plugin runs only there. Defaults to trainkit's
   * `trainkit.dev/gpu`, NVIDIA's `nvidia.com/gpu.present`, GKE's `cloud.google.com/gke-accelerator` and EKS's
   * `k8s.amazonaws.com/accelerator`.
   */
  gpuNodeLabelKeys?: string[];
}

/** The device plugin image `GpuSupport` deploys unless told otherwise. */
export const DEFAULT_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0";
/** The NVIDIA GPU operator Helm chart version `GpuSupport` installs unless told otherwise. */
export const DEFAULT_GPU_OPERATOR_VERSION = "v24.9.0";
/** Node label keys that mark a GPU node unless `gpuNodeLabelKeys` says otherwise: trainkit's, NVIDIA's, GKE's and EKS's. */
export const DEFAULT_GPU_NODE_LABEL_KEYS = [
  GPU_NODE_LABELS.gpu,
  "nvidia.com/gpu.present",
  "cloud.google.com/gke-accelerator",
  "k8s.amazonaws.com/accelerator",
] as const;
const INSTALLERS: readonly GpuInstaller[] = Object.values(GpuInstaller);

// Kueue's custom resources have no type in the kubernetes provider's schema, so they stay off the
// multi-language schema (see OffSchema); their names are outputs instead.
const offSchema = new OffSchema<{
  resourceFlavor: k8s.apiextensions.CustomResource | undefined;
  clusterQueue: k8s.apiextensions.CustomResource | undefined;
  localQueue: k8s.apiextensions.CustomResource | undefined;
}>();

/**
 * GPUs on a Kubernetes cluster made schedulable (the NVIDIA device plugin on GPU nodes only, tolerating
 * trainkit's GPU taint, or NVIDIA's GPU operator) and, when asked, shared out by a Kueue GPU quota.
 */
export class GpuSupport extends pulumi.ComponentResource {
  /** The NVIDIA device plugin DaemonSet on GPU nodes; undefined unless `installer` is `nvidia-device-plugin`. */
  public readonly devicePlugin?: k8s.apps.v1.DaemonSet;
  /** The NVIDIA GPU operator's Helm release; undefined unless `installer` is `gpu-operator`. */
  public readonly gpuOperator?: k8s.helm.v3.Release;
  /** The Kueue ResourceFlavor selecting the GPU nodes and tolerating their taint; undefined without `kueue`. */
  get resourceFlavor(): k8s.apiextensions.CustomResource | undefined {
    return offSchema.get(this, "resourceFlavor");
  }
  /** The Kueue ClusterQueue holding the GPU, CPU and memory quotas; undefined without `kueue`. */
  get clusterQueue(): k8s.apiextensions.CustomResource | undefined {
    return offSchema.get(this, "clusterQueue");
  }
  /** The Kueue LocalQueue in the jobs' namespace that feeds `clusterQueue`; undefined without `kueue`. */
  get localQueue(): k8s.apiextensions.CustomResource | undefined {
    return offSchema.get(this, "localQueue");
  }
  /** The LocalQueue jobs name as `job_config.queue`, when `kueue` was asked for. */
  public readonly queueName?: pulumi.Output<string>;
  /** The name of the Kueue ClusterQueue holding the quotas, when `kueue` was asked for. */
  public readonly clusterQueueName?: pulumi.Output<string>;

  constructor(name: string, args: GpuSupportArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:kubernetes:GpuSupport", name, {}, opts);
    const owner = ownerOf(this, "GpuSupport", name);
    const installer = args.installer ?? "nvidia-device-plugin";
    if (!INSTALLERS.includes(installer)) {
      throw new ArgumentError(
        `${owner}: installer must be one of ${INSTALLERS.join(", ")}; got ${shown(installer)}`,
      );
    }
    const parent = { parent: this };
    const keys = args.gpuNodeLabelKeys ?? [...DEFAULT_GPU_NODE_LABEL_KEYS];
    if (keys.length === 0) {
      throw new ArgumentError(
        `${owner}: gpuNodeLabelKeys must name at least one node label key; got []. Leave it out for the defaults.`,
      );
    }

    if (installer === "nvidia-device-plugin") {
      const labels = {
        "app.kubernetes.io/name": "nvidia-device-plugin",
        "app.kubernetes.io/managed-by": "trainkit",
      };
      this.devicePlugin = new k8s.apps.v1.DaemonSet(
        `${name}-device-plugin`,
        {
          metadata: { namespace: args.namespace ?? "kube-system", labels },
          spec: {
            selector: { matchLabels: labels },
            updateStrategy: { type: "RollingUpdate" },
            template: {
              metadata: { labels },
              spec: {
                priorityClassName: "system-node-critical",
                tolerations: [{ key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect }],
                affinity: {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      // Terms are ORed: a node carrying any of the keys is a GPU node.
                      nodeSelectorTerms: keys.map((key) => ({
                        matchExpressions: [{ key, operator: "Exists" }],
                      })),
                    },
                  },
                },
                containers: [
                  {
                    name: "nvidia-device-plugin",
                    image: args.devicePluginImage ?? DEFAULT_DEVICE_PLUGIN_IMAGE,
                    env: [{ name: "FAIL_ON_INIT_ERROR", value: "false" }],
                    // The plugin registers with the kubelet over a socket on the host; it needs no other privilege.
                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                    volumeMounts: [{ name: "device-plugin", mountPath: "/var/lib/kubelet/device-plugins" }],
                  },
                ],
                volumes: [{ name: "device-plugin", hostPath: { path: "/var/lib/kubelet/device-plugins" } }],
              },
            },
          },
        },
        parent,
      );
    } else if (installer === "gpu-operator") {
      this.gpuOperator = new k8s.helm.v3.Release(
        `${name}-gpu-operator`,
        {
          chart: "gpu-operator",
          version: args.gpuOperatorVersion ?? DEFAULT_GPU_OPERATOR_VERSION,
          repositoryOpts: { repo: "https://helm.ngc.nvidia.com/nvidia" },
          namespace: args.namespace ?? "gpu-operator",
          createNamespace: true,
          values: {
            daemonsets: {
              tolerations: [{ key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect }],
            },
          },
        },
        parent,
      );
    }

    if (args.kueue) {
      const kueue = args.kueue;
      const gpuQuota = wholeNumberArg(owner, "kueue.gpuQuota", kueue.gpuQuota, {
        least: 1,
        fallback: 0,
        unit: "GPUs",
      });
      const queueName = kueue.queueName ?? "gpu";
      const resourceFlavor = new k8s.apiextensions.CustomResource(
        `${name}-flavor`,
        {
          apiVersion: "kueue.x-k8s.io/v1beta1",
          kind: "ResourceFlavor",
          metadata: {},
          spec: {
            ...(kueue.nodeLabels ? { nodeLabels: kueue.nodeLabels } : {}),
            // Admitted jobs get the toleration for trainkit's GPU nodes from the flavor.
            tolerations: [
              { key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect },
            ],
          },
        },
        parent,
      );
      // Kueue refuses a workload asking for a resource its ClusterQueue does not cover, so CPU and
      // memory are covered too, with quotas large enough that GPUs are what runs out.
      const clusterQueue = new k8s.apiextensions.CustomResource(
        `${name}-cluster-queue`,
        {
          apiVersion: "kueue.x-k8s.io/v1beta1",
          kind: "ClusterQueue",
          metadata: {},
          spec: {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": kueue.namespace } },
            queueingStrategy: "BestEffortFIFO",
            resourceGroups: [
              {
                coveredResources: ["cpu", "memory", GPU_RESOURCE],
                flavors: [
                  {
                    name: resourceFlavor.metadata.name,
                    resources: [
                      { name: "cpu", nominalQuota: kueue.cpuQuota ?? "1000" },
                      { name: "memory", nominalQuota: kueue.memoryQuota ?? "8Ti" },
                      { name: GPU_RESOURCE, nominalQuota: gpuQuota },
                    ],
                  },
                ],
              },
            ],
          },
        },
        parent,
      );
      const localQueue = new k8s.apiextensions.CustomResource(
        `${name}-local-queue`,
        {
          apiVersion: "kueue.x-k8s.io/v1beta1",
          kind: "LocalQueue",
          metadata: { name: queueName, namespace: kueue.namespace },
          spec: { clusterQueue: clusterQueue.metadata.name },
        },
        parent,
      );
      offSchema.set(this, "resourceFlavor", resourceFlavor);
      offSchema.set(this, "clusterQueue", clusterQueue);
      offSchema.set(this, "localQueue", localQueue);
      this.queueName = localQueue.metadata.name;
      this.clusterQueueName = clusterQueue.metadata.name;
    }

    this.registerOutputs({ queueName: this.queueName, clusterQueueName: this.clusterQueueName });
  }
}
