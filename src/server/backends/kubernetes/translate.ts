// The client is an ES module; its types are taken as such, and its code is loaded by `./client`.
import type { V1EnvVar, V1Job, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node" with {
  "resolution-mode": "import",
};
import { GPU_NODE_LABELS, GPU_TAINT } from "../../../components/gpu-pool";
import { GPU_RESOURCE, KUEUE_QUEUE_LABEL } from "../../../components/kubernetes";
import type { JobResult, JobStatus, ParsedCreateJobRequest } from "../../../spec";
import { nativeJobName, storageMountEnvironment } from "../cloud-common";

export interface KubernetesSettings {
  /** Where jobs go when their `job_config.namespace` names none. */
  namespace: string;
  /** The ServiceAccount the jobs' pods run as; the namespace's `default` when unset. */
  serviceAccount?: string;
  /** Replaces the kubeconfig's API server (a private endpoint, the tests). */
  endpoint?: string;
}

/** The label carrying the Train API's job id, on the Job and on its pods. */
export const JOB_ID_LABEL = "trainkit.dev/job-id";
/** Marks every Job the Train API creates; the label selector its list reads select them by. */
export const MANAGED_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_SELECTOR = `${MANAGED_LABEL}=trainkit`;
/** The label carrying the account that submitted the job, so a namespace can be filtered by caller. */
export const ACCOUNT_LABEL = "trainkit.dev/account-id";
/** The one container of every job pod; logs and termination states are read from it. */
export const CONTAINER_NAME = "trainer";
/**
 * `ttlSecondsAfterFinished` when the job gives none: a day, long enough for the reconciler to see
 * the end and for someone to read the pods' logs, short enough that finished Jobs do not pile up.
 */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 86_400;
/** Job names are DNS labels: the Job controller copies the name into a pod label, limited to 63. */
export const JOB_NAME_MAX_LENGTH = 63;

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * The Job name for a Train API job: derived from its id, so a create retried after a lost response
 * is refused with 409 AlreadyExists and the first Job is adopted instead of a second one started.
 */
export function kubernetesJobName(jobId: string, name: string): string {
  return nativeJobName(jobId, name.toLowerCase(), JOB_NAME_MAX_LENGTH);
}

/** The namespace a job runs in. */
export function namespaceOf(
  request: ParsedCreateJobRequest<"kubernetes">,
  settings: KubernetesSettings,
): string {
  return request.job_config.namespace ?? settings.namespace;
}

/** `pvc://claim/sub/path` as the claim and the path inside it (empty for the claim's root). */
export function parseClaimUri(uri: string): { claim: string; subPath: string } {
  const rest = uri.slice("pvc://".length);
  const slash = rest.indexOf("/");
  if (slash < 0) return { claim: rest, subPath: "" };
  return { claim: rest.slice(0, slash), subPath: rest.slice(slash + 1).replace(/^\/+|\/+$/g, "") };
}

/** The batch/v1 Job a Train API job becomes. */
export function toKubernetesJob(
  jobId: string,
  accountId: string,
  request: ParsedCreateJobRequest<"kubernetes">,
  settings: KubernetesSettings,
): V1Job {
  const config = request.job_config;
  const gpus = config.resources?.gpu ?? 0;
  const { volumes, volumeMounts } = claimVolumes(request.storage_mounts);
  // Kubernetes mounts each claim where the job asks, so the mount path is what the container is told.
  const mountEnv = storageMountEnvironment(request.storage_mounts, (m) => m.mount_path);
  // Mount variables come first: Kubernetes expands $(NAME) in a value only from variables defined
  // before it, so the job's own variables can build on $(STORAGE_MOUNT_0_PATH).
  const env: V1EnvVar[] = [...Object.entries(mountEnv), ...Object.entries(config.env ?? {})].map(
    ([name, value]) => ({ name, value }),
  );
  const nodeSelector = {
    ...config.node_selector,
    // trainkit's GPU pools label their nodes with how they are bought.
    ...(config.capacity ? { [GPU_NODE_LABELS.capacity]: config.capacity } : {}),
  };

  const labels: Record<string, string> = {
    [MANAGED_LABEL]: "trainkit",
    [JOB_ID_LABEL]: jobId,
    // Label values are short and restricted; an account id that does not fit stays in the annotation.
    ...(accountId.length <= 63 && LABEL_VALUE.test(accountId) ? { [ACCOUNT_LABEL]: accountId } : {}),
    ...(config.queue ? { [KUEUE_QUEUE_LABEL]: config.queue } : {}),
  };
  const requests: Record<string, string> = {
    ...(config.resources?.cpu ? { cpu: config.resources.cpu } : {}),
    ...(config.resources?.memory ? { memory: config.resources.memory } : {}),
  };
  // Memory is limited at what was asked so a job that grows past it is OOMKilled (and says so)
  // instead of starving its neighbours; CPU is left unlimited because throttling a data loader
  // slows the whole job while idle cores sit next to it.
  const limits: Record<string, string> = {
    ...(config.resources?.memory ? { memory: config.resources.memory } : {}),
    ...(gpus > 0 ? { [GPU_RESOURCE]: String(gpus) } : {}),
  };
  // Non-root stays the rule unless the job asks for root by user id 0; the namespace's Pod Security level
  // then decides whether the pod may start.
  const root = config.run_as_user === 0;
  const identity = {
    runAsNonRoot: !root,
    ...(config.run_as_user !== undefined ? { runAsUser: config.run_as_user } : {}),
    ...(config.run_as_group !== undefined ? { runAsGroup: config.run_as_group } : {}),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: kubernetesJobName(jobId, request.name),
      namespace: namespaceOf(request, settings),
      labels,
      annotations: { "trainkit.dev/job-name": request.name, [ACCOUNT_LABEL]: accountId },
    },
    spec: {
      backoffLimit: config.backoff_limit ?? 0,
      ...(config.active_deadline_seconds !== undefined
        ? { activeDeadlineSeconds: config.active_deadline_seconds }
        : {}),
      ttlSecondsAfterFinished: config.ttl_seconds_after_finished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
      ...(config.completions !== undefined ? { completions: config.completions } : {}),
      ...(config.parallelism !== undefined ? { parallelism: config.parallelism } : {}),
      // Kueue admits a queued Job by unsuspending it; created suspended, no pod starts before that.
      ...(config.queue ? { suspend: true } : {}),
      template: {
        metadata: { labels: { [JOB_ID_LABEL]: jobId } },
        spec: {
          restartPolicy: "Never",
          ...(settings.serviceAccount ? { serviceAccountName: settings.serviceAccount } : {}),
          // Training code has no business with the Kubernetes API; a token it never uses is only
          // something to steal.
          automountServiceAccountToken: false,
          securityContext: { ...identity, seccompProfile: { type: "RuntimeDefault" } },
          ...(gpus > 0
            ? {
                tolerations: [
                  { key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect },
                ],
              }
            : {}),
          ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
          containers: [
            {
              name: CONTAINER_NAME,
              image: config.image,
              ...(config.command ? { command: config.command } : {}),
              ...(config.args ? { args: config.args } : {}),
              ...(env.length > 0 ? { env } : {}),
              resources: {
                ...(Object.keys(requests).length > 0 ? { requests } : {}),
                ...(Object.keys(limits).length > 0 ? { limits } : {}),
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                runAsNonRoot: !root,
              },
              volumeMounts: [...volumeMounts, { name: "dshm", mountPath: "/dev/shm" }],
            },
          ],
          // The container runtime's 64 MiB /dev/shm is too small for PyTorch data loader workers.
          volumes: [...volumes, { name: "dshm", emptyDir: { medium: "Memory" } }],
        },
      },
    },
  };
}

/**
 * One volume per claim, however many mounts use it; the volume is read-only only when every mount
 * of it is, and each mount carries its own `readOnly` and `subPath`.
 */
function claimVolumes(mounts: ParsedCreateJobRequest<"kubernetes">["storage_mounts"]): {
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
} {
  const byClaim = new Map<string, { name: string; readOnly: boolean }>();
  const volumeMounts = mounts.map((mount) => {
    const { claim, subPath } = parseClaimUri(mount.source_uri);
    let volume = byClaim.get(claim);
    if (!volume) {
      volume = { name: `claim-${byClaim.size}`, readOnly: true };
      byClaim.set(claim, volume);
    }
    volume.readOnly &&= mount.read_only;
    return {
      name: volume.name,
      mountPath: mount.mount_path,
      readOnly: mount.read_only,
      ...(subPath ? { subPath } : {}),
    };
  });
  const volumes = [...byClaim].map(([claim, v]) => ({
    name: v.name,
    persistentVolumeClaim: { claimName: claim, readOnly: v.readOnly },
  }));
  return { volumes, volumeMounts };
}

/** Container waiting reasons that do not clear up by waiting a little. */
export const STUCK_WAITING_REASONS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

/** Why the job's pods have not started, when a pod says so: an image that will not pull, an unschedulable pod. */
export function waitingReasonOf(pods: readonly V1Pod[]): string | undefined {
  for (const pod of pods) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const waiting = status.state?.waiting;
      if (waiting?.reason && STUCK_WAITING_REASONS.has(waiting.reason)) {
        return `pod ${pod.metadata?.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
      }
    }
  }
  for (const pod of pods) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
      return `pod ${pod.metadata?.name}: Unschedulable${scheduled.message ? `: ${scheduled.message}` : ""}`;
    }
  }
  return undefined;
}

/** How the job's last failed pod ended: its container's reason (OOMKilled, Error), exit code and message. */
export function podFailureOf(pods: readonly V1Pod[]): { text: string; exitCode?: number } | undefined {
  const failed = pods.filter((p) => p.status?.phase === "Failed").sort((a, b) => timeOf(b) - timeOf(a));
  for (const pod of failed) {
    const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
    const ended = status?.state?.terminated ?? status?.lastState?.terminated;
    if (ended) {
      const message = ended.message?.trim();
      return {
        text: `pod ${pod.metadata?.name}: container ${CONTAINER_NAME} terminated with ${ended.reason ?? "an error"} (exit code ${ended.exitCode})${message ? `: ${message}` : ""}`,
        exitCode: ended.exitCode,
      };
    }
    if (pod.status?.reason) {
      return {
        text: `pod ${pod.metadata?.name}: ${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ""}`,
      };
    }
  }
  return undefined;
}

function timeOf(pod: V1Pod): number {
  const t = pod.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

/**
 * Each batch/v1 `JobConditionType` and the Train API status a true condition of that type means. A
 * Job reaching its success or failure criteria first gets `SuccessCriteriaMet` or `FailureTarget`
 * while its remaining pods are stopped, and only then `Complete` or `Failed`: it has not ended yet.
 * A `Failed` condition whose reason is `DeadlineExceeded` is EXPIRED.
 */
export const KUBERNETES_CONDITION_TO_STATUS: Record<string, JobStatus> = {
  Suspended: "PENDING",
  SuccessCriteriaMet: "IN_PROGRESS",
  FailureTarget: "IN_PROGRESS",
  Complete: "COMPLETED",
  Failed: "FAILED",
};

/** Whether the Job has finished and how; undefined while it runs or waits. */
export function finishedConditionOf(
  job: V1Job,
): { type: "Complete" | "Failed"; reason?: string; message?: string } | undefined {
  for (const condition of job.status?.conditions ?? []) {
    if (condition.status !== "True") continue;
    if (condition.type === "Complete" || condition.type === "Failed") {
      return {
        type: condition.type,
        ...(condition.reason ? { reason: condition.reason } : {}),
        ...(condition.message ? { message: condition.message } : {}),
      };
    }
  }
  return undefined;
}

/**
 * The Train API status of a Job still running or waiting. Suspended (Kueue has not admitted it yet)
 * or without a ready pod (pods being scheduled, GPU nodes scaling up, images pulling) it is PENDING;
 * once a pod is ready, or pods have already run, it is IN_PROGRESS. A job seen running stays
 * IN_PROGRESS while a failed pod is replaced, rather than moving back; one that Kueue preempted
 * (suspended again to free its GPUs for another queue) is PENDING until it is readmitted.
 */
export function activeStatusOf(job: V1Job, lastStatus: JobStatus | undefined): "PENDING" | "IN_PROGRESS" {
  const suspended = job.status?.conditions?.some((c) => c.type === "Suspended" && c.status === "True");
  if (job.spec?.suspend || suspended) return "PENDING";
  if (lastStatus === "IN_PROGRESS") return "IN_PROGRESS";
  const s = job.status ?? {};
  const active = s.active ?? 0;
  // `ready` is reported since Kubernetes 1.24; without it an active pod is taken as running.
  const ready = s.ready ?? active;
  if (ready > 0) return "IN_PROGRESS";
  if (active > 0 && (s.succeeded ?? 0) + (s.failed ?? 0) > 0) return "IN_PROGRESS";
  return "PENDING";
}

/** The terminal status and result of a finished Job. */
export function finishedStatusOf(
  finished: NonNullable<ReturnType<typeof finishedConditionOf>>,
  podFailure: ReturnType<typeof podFailureOf>,
  waitingReason: string | undefined,
): { status: JobStatus; result?: JobResult } {
  if (finished.type === "Complete") return { status: "COMPLETED" };
  const status: JobStatus = finished.reason === "DeadlineExceeded" ? "EXPIRED" : "FAILED";
  const parts = [
    `Kubernetes marked the Job Failed (${finished.reason ?? "no reason given"})${finished.message ? `: ${finished.message}` : ""}`,
    podFailure?.text,
    // A job that never started says why it was waiting, which is what its owner has to fix.
    !podFailure && waitingReason ? `it was still waiting: ${waitingReason}` : undefined,
  ].filter((p): p is string => p !== undefined);
  return {
    status,
    result: {
      failure_reason: parts.join("; "),
      ...(podFailure?.exitCode !== undefined ? { exit_code: podFailure.exitCode } : {}),
    },
  };
}
