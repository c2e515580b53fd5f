// Names the Kubernetes backend and the Kubernetes components must agree on. This file imports
// nothing, so the Train API server can use it without loading Pulumi.

/** The extended resource the NVIDIA device plugin advertises, and that GPU quotas count. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The label Kueue reads to put a Job in a LocalQueue. */
export const KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";

/** The environment variables the Train API's `kubernetes` backend reads. */
export const KUBERNETES_SETTINGS = {
  /** Where jobs go when they name no namespace. Required. */
  namespace: "TRAINKIT_KUBERNETES_NAMESPACE",
  /** The ServiceAccount the jobs' pods run as. */
  serviceAccount: "TRAINKIT_KUBERNETES_SERVICE_ACCOUNT",
  /** Another API server than the kubeconfig's. */
  endpoint: "TRAINKIT_KUBERNETES_ENDPOINT",
} as const;
