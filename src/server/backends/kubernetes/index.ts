import { setTimeout as sleep } from "node:timers/promises";
import type { V1Job, V1JobList, V1Pod } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { KUBERNETES_SETTINGS } from "../../../components/kubernetes";
import type { JobLogs, JobStatus, LogsQuery } from "../../../spec";
import {
  type CloudRetryOptions,
  checkEndpoint,
  cloudError,
  DEFAULT_CLOUD_RETRY,
  DEFAULT_MIN_POLL_INTERVAL_SECONDS,
  lastKnownStatus,
  MIN_POLL_INTERVAL_SETTING,
  messageOf,
  minPollIntervalMs,
  PollGate,
  readCloudSettings,
  submitRateSetting,
} from "../cloud-common";
import {
  type Backend,
  type BackendContext,
  BackendError,
  type BackendFactory,
  type BackendJob,
  type PollResult,
  type SubmitResult,
  type SyncResult,
} from "../types";
import {
  findKubeConfig,
  type KubeClients,
  KubeConfigFileError,
  type KubeConfigSource,
  makeClients,
} from "./client";
import { endReason } from "./end-reason";
import {
  ALL_AT_TIME,
  linesAfter,
  logLine,
  type PodLogPosition,
  podLogCursor,
  positionAfter,
  sinceSecondsFor,
  type TimedLine,
  timedLines,
} from "./logs";
import {
  activeStatusOf,
  CONTAINER_NAME,
  finishedConditionOf,
  finishedStatusOf,
  JOB_ID_LABEL,
  type KubernetesSettings,
  kubernetesJobName,
  MANAGED_SELECTOR,
  namespaceOf,
  podFailureOf,
  toKubernetesJob,
  waitingReasonOf,
} from "./translate";
import { JobWatch } from "./watch";

export { findKubeConfig, type KubeConfigSource } from "./client";
export {
  ACCOUNT_LABEL,
  activeStatusOf,
  CONTAINER_NAME,
  DEFAULT_TTL_SECONDS_AFTER_FINISHED,
  finishedConditionOf,
  finishedStatusOf,
  JOB_ID_LABEL,
  type KubernetesSettings,
  kubernetesJobName,
  MANAGED_LABEL,
  MANAGED_SELECTOR,
  parseClaimUri,
  podFailureOf,
  toKubernetesJob,
  waitingReasonOf,
} from "./translate";

const CLOUD = "Kubernetes";

/** Jobs per page of a list; a namespace with more is read in several pages (`limit`/`continue`). */
export const LIST_PAGE_SIZE = 500;

/**
 * How long `sync` trusts a namespace's watch before listing the namespace again anyway: a watch
 * connection that stalls without closing delivers nothing and reports nothing, and this bounds how
 * long that could hide a change.
 */
export const WATCH_RELIST_MS = 5 * 60_000;

/**
 * The field selector of `sync`'s namespace-wide pod list: pods neither running nor succeeded, that
 * is Pending (a waiting job's pods, whose containers have not all started) and Failed (an ended
 * job's failed pods), and the long-unused Unknown. Pods support `status.phase` selectors, `!=`,
 * and chaining with commas (test/fixtures/published/kubernetes/pod-list.json).
 */
export const PENDING_OR_FAILED_PODS = "status.phase!=Running,status.phase!=Succeeded";

/** Why `readingOf` reads a job's pods: its Job ended Failed, or it waits with pods that exist. */
type PodsNeed = "failed" | "waiting";

/**
 * How `readingOf` learns about a job's pods: `poll` reads them per job; `sync` answers from one
 * read of the namespace, remembered for the waiting reasons.
 */
interface PodSource {
  /** The pods of a job whose Job ended Failed. */
  failed(jobId: string, namespace: string): Promise<V1Pod[]>;
  /** Why a waiting job's pods have not started; `before` when the source has no word of the job. */
  waiting(jobId: string, namespace: string, before: string | undefined): Promise<string | undefined>;
}

/** One namespace-wide pod read: when it was made, and the waiting reason of each job it covered. */
interface WaitingRead {
  at: number;
  reasons: Map<string, string | undefined>;
}

export interface KubernetesBackendOptions {
  retry?: CloudRetryOptions;
  /**
   * Least time between two reads of one job's Job object; polls in between report the stored
   * status. Defaults to `DEFAULT_MIN_POLL_INTERVAL_SECONDS` (30 s), which keeps a thousand tracked
   * jobs at about 33 API server reads a second; the factory reads `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS`.
   * `sync` reads a namespace's waiting jobs' pods (for why they wait) at most once per this too.
   */
  minPollIntervalMs?: number;
  /** Jobs (and pods) per page of `sync`'s lists. Defaults to `LIST_PAGE_SIZE`. */
  listPageSize?: number;
  /**
   * Whether `sync` keeps a watch on each namespace's Train API Jobs and answers from it, telling the
   * reconciler of each change as it happens, instead of listing every sync. Defaults to true; the
   * factory reads `TRAINKIT_KUBERNETES_WATCH`.
   */
  watch?: boolean;
  /** Longest time `sync` answers from a watch before listing again anyway. Defaults to `WATCH_RELIST_MS`. */
  watchRelistMs?: number;
  /**
   * Submissions per minute the reconciler paces to. Left out (the default), submissions are not
   * paced: the API server has no quota on Job creation and throttles with 429 under load, which the
   * backend honours; the factory reads `TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE`.
   */
  submitsPerMinute?: number;
}

/** A failed API server call: its HTTP status (none when the server was not reached) and `Status` body. */
class KubeFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly reason: string | undefined,
    message: string,
    readonly retryAfterSeconds: number | undefined,
    /** The server could not be reached (refused, reset, timed out): worth another try. */
    readonly unreachable = false,
  ) {
    super(message);
  }

  get transient(): boolean {
    return this.unreachable || this.status === 429 || (this.status !== undefined && this.status >= 500);
  }
}

/**
 * Runs jobs as batch/v1 Jobs through `@kubernetes/client-node`, authenticated by the kubeconfig
 * (or the pod's service account in the cluster). Throttling (429), 5xx answers and unreachable
 * servers are retried with exponential backoff, honouring `Retry-After`; creates are safe to retry
 * because the Job's name is derived from the job id.
 */
export class KubernetesBackend implements Backend<"kubernetes"> {
  readonly name = "kubernetes" as const;
  private clients: Promise<KubeClients> | undefined;
  private readonly gate: PollGate;
  private readonly retry: Required<CloudRetryOptions>;
  private readonly listPageSize: number;
  /**
   * Jobs whose cancel this process sent. A Job deleted by its cancel is gone without a trace, so
   * this is how a later poll tells it from a Job someone else deleted. The reconciler sends a
   * cancel again before its first poll after a restart, so nothing here needs to survive one; an
   * entry goes once a poll has reported the job's end.
   */
  private readonly canceled = new Set<string>();
  private readonly watching: boolean;
  private readonly watchRelistMs: number;
  /** Per namespace: its watch, and when `sync` last listed it (or the watch last listed it). */
  private readonly watches = new Map<string, JobWatch>();
  private readonly listedAt = new Map<string, number>();
  /**
   * Per namespace, the last read of its waiting jobs' pods: `sync` reads them again only once
   * `minPollIntervalMs` has passed, so syncs the watch brings on in between cost no pod list.
   */
  private readonly waitingReads = new Map<string, WaitingRead>();
  private readonly minPollIntervalMs: number;
  readonly submitsPerMinute?: number;

  constructor(
    readonly settings: KubernetesSettings,
    private readonly kubeConfig: KubeConfigSource,
    private readonly ctx: BackendContext,
    options: KubernetesBackendOptions = {},
  ) {
    this.minPollIntervalMs = options.minPollIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000;
    this.gate = new PollGate(this.minPollIntervalMs);
    this.retry = { ...DEFAULT_CLOUD_RETRY, ...options.retry };
    this.listPageSize = options.listPageSize ?? LIST_PAGE_SIZE;
    this.watching = options.watch ?? true;
    this.watchRelistMs = options.watchRelistMs ?? WATCH_RELIST_MS;
    if (options.submitsPerMinute !== undefined) this.submitsPerMinute = options.submitsPerMinute;
  }

  async submit(job: BackendJob<"kubernetes">): Promise<SubmitResult> {
    const body = toKubernetesJob(job.id, job.accountId, job.request, this.settings);
    const name = body.metadata!.name!;
    const namespace = body.metadata!.namespace!;
    // The namespace's watch tells of this Job's changes from the start, not from the next sync.
    this.watchOf(namespace);
    try {
      await this.call((c) => c.batch.createNamespacedJob({ namespace, body }));
      return this.submitted(namespace, name, "PENDING");
    } catch (err) {
      if (!(err instanceof KubeFailure) || err.reason !== "AlreadyExists")
        throw toBackendError("creating the Job", err);
    }
    // The name is derived from the job id, so the Job holding it is the one an earlier submit of
    // this very job created (its answer lost, or a retry of it). The label check keeps a
    // hand-made Job that happens to hold the name from being taken for it.
    const existing = await this.readJob(namespace, name);
    if (!existing || existing.metadata?.labels?.[JOB_ID_LABEL] !== job.id) {
      throw new BackendError(
        409,
        "cloud_conflict",
        `${CLOUD} already holds a Job ${namespace}/${name} that was not made for job ${job.id}; delete it or submit the job under another name`,
      );
    }
    this.ctx.log.info({ jobId: job.id, namespace, kubernetesJob: name }, "adopted existing Job");
    const finished = finishedConditionOf(existing);
    return this.submitted(namespace, name, finished ? undefined : activeStatusOf(existing, undefined));
  }

  async poll(job: BackendJob<"kubernetes">): Promise<PollResult> {
    if (!this.gate.shouldRead(job.id)) return { status: lastKnownStatus(job.backendState) };
    const { namespace, name } = this.locate(job);
    return this.readingOf(job, await this.readJob(namespace, name), this.podsPerJob);
  }

  /**
   * Reads the state of all the Train API's Jobs, filtered by the label every Job it creates carries:
   * from each namespace's watch while it is current, otherwise with one list per namespace (paged
   * by `listPageSize`). The first sync of a namespace starts its watch, which from then on tells
   * the reconciler of each change as it happens (`ctx.notify`). A job whose Job neither holds
   * (deleted, or created after the list began) is left out, for `poll` to read. Pods are read per
   * namespace, not per job (`podsForSync`).
   */
  async sync(jobs: readonly BackendJob<"kubernetes">[]): Promise<SyncResult> {
    const byNamespace = new Map<string, BackendJob<"kubernetes">[]>();
    for (const job of jobs) {
      const { namespace } = this.locate(job);
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), job]);
    }
    const settled: SyncResult = new Map();
    for (const [namespace, tracked] of byNamespace) {
      const fresh =
        Date.now() - (this.listedAt.get(namespace) ?? Number.NEGATIVE_INFINITY) < this.watchRelistMs;
      const watched = fresh ? this.watchOf(namespace)?.current() : undefined;
      let lookup = watched;
      if (!lookup) {
        const listed = await this.listJobs(namespace);
        lookup = (name) => listed.byName.get(name);
        this.watchOf(namespace);
      }
      const read: [BackendJob<"kubernetes">, V1Job][] = [];
      for (const job of tracked) {
        const found = lookup(this.locate(job).name);
        // A missing Job, or one this process deleted, is for `poll` to explain.
        if (!found || found.metadata?.labels?.[JOB_ID_LABEL] !== job.id || this.canceled.has(job.id))
          continue;
        read.push([job, found]);
      }
      const pods = await this.podsForSync(namespace, read);
      for (const [job, found] of read) settled.set(job.id, await this.readingOf(job, found, pods));
    }
    return settled;
  }

  /** The namespace's watch, started on first use; undefined when watching is off. */
  private watchOf(namespace: string): JobWatch | undefined {
    if (!this.watching) return undefined;
    let watch = this.watches.get(namespace);
    if (!watch) {
      watch = new JobWatch(
        namespace,
        async () => {
          const clients = await this.connect();
          return clients.listWatch<V1Job>(
            `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
            async () => (await this.listJobs(namespace)).list,
            MANAGED_SELECTOR,
          );
        },
        (changed) => {
          const jobId = changed.metadata?.labels?.[JOB_ID_LABEL];
          if (jobId) this.ctx.notify(jobId);
        },
        this.ctx.log,
        { retryInitialMs: this.retry.initialDelayMs, retryMaxMs: this.retry.maxDelayMs },
      );
      this.watches.set(namespace, watch);
      watch.start();
    }
    return watch;
  }

  /** Stops the watches. */
  async close(): Promise<void> {
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
  }

  /**
   * The namespace's Jobs the Train API made, read page by page: by name, and as one list carrying
   * the resourceVersion it is current at (a continued list is one snapshot, the first page's).
   */
  private async listJobs(namespace: string): Promise<{ byName: Map<string, V1Job>; list: V1JobList }> {
    const found = new Map<string, V1Job>();
    const items: V1Job[] = [];
    let resourceVersion: string | undefined;
    let next: string | undefined;
    do {
      const page = await this.call((c) =>
        c.batch.listNamespacedJob({
          namespace,
          labelSelector: MANAGED_SELECTOR,
          limit: this.listPageSize,
          ...(next ? { _continue: next } : {}),
        }),
      ).catch((err) => {
        throw toBackendError("listing the Jobs", err);
      });
      for (const item of page.items) if (item.metadata?.name) found.set(item.metadata.name, item);
      items.push(...page.items);
      resourceVersion ??= page.metadata?.resourceVersion;
      next = page.metadata?._continue || undefined;
    } while (next);
    this.listedAt.set(namespace, Date.now());
    return { byName: found, list: { items, metadata: { ...(resourceVersion ? { resourceVersion } : {}) } } };
  }

  /** What a read Job (or its absence) says of the job: the one mapping `poll` and `sync` share. */
  private async readingOf(
    job: BackendJob<"kubernetes">,
    found: V1Job | undefined,
    pods: PodSource,
  ): Promise<PollResult> {
    const { namespace, name } = this.locate(job);
    const state = (status: JobStatus, extra: Record<string, unknown> = {}) => ({
      namespace,
      jobName: name,
      lastStatus: status,
      ...extra,
    });
    const canceled = this.canceled.has(job.id);
    if (!found || (canceled && found.metadata?.deletionTimestamp)) {
      this.gate.forget(job.id);
      this.canceled.delete(job.id);
      if (canceled) return { status: "CANCELED", backendState: state("CANCELED") };
      return {
        status: "FAILED",
        result: {
          failure_reason: `the Kubernetes Job ${namespace}/${name} was deleted before the Train API saw it finish, by someone other than the Train API or by its ttlSecondsAfterFinished; give the job a longer ttl_seconds_after_finished or leave its Job alone`,
        },
        backendState: state("FAILED"),
      };
    }
    const waitingBefore =
      typeof job.backendState?.waiting === "string" ? job.backendState.waiting : undefined;
    const finished = finishedConditionOf(found);
    if (finished) {
      this.gate.forget(job.id);
      this.canceled.delete(job.id);
      const failedPods = finished.type === "Failed" ? await pods.failed(job.id, namespace) : [];
      const { status, result } = finishedStatusOf(finished, podFailureOf(failedPods), waitingBefore);
      const end = status === "FAILED" ? endReason(failedPods) : undefined;
      return { status, ...(result ? { result } : {}), ...(end ? { end } : {}), backendState: state(status) };
    }
    const status = activeStatusOf(found, lastStatusOf(job));
    // Pods that exist but are not running are read to say why (an image that does not pull, no
    // GPU node to schedule on); a running job costs no read past its Job.
    let waiting: string | undefined;
    if (podsNeed(job, found) === "waiting") {
      waiting = await pods.waiting(job.id, namespace, waitingBefore);
      if (waiting && waiting !== waitingBefore) {
        this.ctx.log.warn({ jobId: job.id, namespace, kubernetesJob: name, waiting }, "job is waiting");
      }
    }
    return { status, backendState: state(status, waiting ? { waiting } : {}) };
  }

  /**
   * Deletes the Job, its pods with it. Suspending would keep the Job for inspection, but a queued
   * Job's `suspend` belongs to Kueue, which unsuspends what it admits, and a suspended Job never
   * finishes, so its `ttlSecondsAfterFinished` would never clean it up. Background propagation
   * answers at once; the garbage collector stops the pods with their usual grace period.
   */
  async cancel(job: BackendJob<"kubernetes">): Promise<void> {
    const { namespace, name } = this.locate(job);
    this.canceled.add(job.id);
    this.gate.forget(job.id);
    try {
      await this.call((c) =>
        c.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" }),
      );
    } catch (err) {
      // Already gone: deleted by an earlier cancel whose answer was lost, or after it finished.
      if (err instanceof KubeFailure && err.status === 404) return;
      throw toBackendError("deleting the Job", err);
    }
  }

  /** The cursor of a log's very start: a follower moving on to a restart's log reads it whole. */
  logStart(): string {
    return podLogCursor.encode(null);
  }

  /**
   * The newest pod's log: the last `tail` lines, or with `cursor` at most `tail` lines written after
   * it. Kubernetes keeps a container's stdout and stderr as one log, so only `stdout` is served, and
   * holds both; each line carries its time and pod. A cursor continues in its pod; once a newer pod
   * replaced it (a retry), the read goes on from the new pod's first line.
   */
  async logs(job: BackendJob<"kubernetes">, query: LogsQuery): Promise<JobLogs> {
    if (query.stream !== "stdout") {
      throw new BackendError(
        400,
        "stream_not_separated",
        "the kubernetes backend keeps a container's stdout and stderr as one log; ask for stream=stdout to read both",
      );
    }
    const after = query.cursor === undefined ? undefined : podLogCursor.decode(query.cursor);
    const { namespace } = this.locate(job);
    const pods = await this.podsOf(namespace, job.id);
    const newest = pods.sort((a, b) => created(b) - created(a))[0];
    const base = { job_id: job.id, stream: query.stream };
    if (
      !newest?.metadata?.name ||
      !newest.status?.containerStatuses?.some((c) => c.state?.running || c.state?.terminated)
    ) {
      return { ...base, lines: [], entries: [], next_cursor: podLogCursor.encode(after ?? null) };
    }
    const podName = newest.metadata.name;
    const samePod = after && after.pod === podName ? after : null;
    let text: string;
    try {
      text = await this.call((c) =>
        c.core.readNamespacedPodLog({
          name: podName,
          namespace,
          container: CONTAINER_NAME,
          timestamps: true,
          ...(after === undefined
            ? { tailLines: query.tail }
            : samePod
              ? { sinceSeconds: sinceSecondsFor(samePod.timestamp, Date.now()) }
              : {}),
        }),
      );
    } catch (err) {
      throw toBackendError("reading the pod's log", err);
    }
    const lines = timedLines(String(text ?? ""));
    let kept: TimedLine[];
    let position: PodLogPosition | null;
    if (after === undefined) {
      kept = lines.slice(-query.tail);
      // Lines before the window may share the last line's time: the position stands after them all.
      const last = lines.at(-1);
      position = last ? { pod: podName, timestamp: last.timestamp, seen: ALL_AT_TIME } : null;
    } else {
      kept = linesAfter(lines, samePod).slice(0, query.tail);
      // With nothing new from a newer pod, the position stays at no pod: the next read starts that pod.
      position = positionAfter(podName, kept, samePod);
    }
    const entries = kept.map((line) => logLine(line, podName));
    return {
      ...base,
      lines: entries.map((e) => e.text),
      entries,
      next_cursor: podLogCursor.encode(position),
    };
  }

  private submitted(namespace: string, name: string, status: JobStatus | undefined): SubmitResult {
    return {
      cloudJobIdentifier: { namespace, job_name: name },
      backendState: { namespace, jobName: name, lastStatus: status ?? "PENDING" },
      ...(status ? { status } : {}),
    };
  }

  private locate(job: BackendJob<"kubernetes">): { namespace: string; name: string } {
    const s = job.backendState;
    const namespace =
      typeof s?.namespace === "string" ? s.namespace : namespaceOf(job.request, this.settings);
    const name = typeof s?.jobName === "string" ? s.jobName : kubernetesJobName(job.id, job.request.name);
    return { namespace, name };
  }

  private async readJob(namespace: string, name: string): Promise<V1Job | undefined> {
    try {
      return await this.call((c) => c.batch.readNamespacedJob({ name, namespace }));
    } catch (err) {
      if (err instanceof KubeFailure && err.status === 404) return undefined;
      throw toBackendError("reading the Job", err);
    }
  }

  private async podsOf(namespace: string, jobId: string): Promise<V1Pod[]> {
    try {
      const list = await this.call((c) =>
        c.core.listNamespacedPod({ namespace, labelSelector: `${JOB_ID_LABEL}=${jobId}` }),
      );
      return list.items;
    } catch (err) {
      throw toBackendError("listing the Job's pods", err);
    }
  }

  /**
   * The job's pods for explaining its state, or none when they cannot be read: the Job's own
   * status is what the poll reports, and a missing `pods` permission must not hold it back.
   */
  private async podsIfReadable(jobId: string, namespace: string): Promise<V1Pod[]> {
    try {
      return await this.podsOf(namespace, jobId);
    } catch (err) {
      this.ctx.log.warn({ jobId, namespace, err: messageOf(err) }, "could not read the job's pods");
      return [];
    }
  }

  /** `poll`'s pod source: the job's own pods, read when asked. */
  private readonly podsPerJob: PodSource = {
    failed: (jobId, namespace) => this.podsIfReadable(jobId, namespace),
    waiting: async (jobId, namespace) => waitingReasonOf(await this.podsIfReadable(jobId, namespace)),
  };

  /**
   * The pods `sync` needs for one namespace's read Jobs, in one paged list of the namespace's pods
   * that carry the job-id label and are neither running nor succeeded (`PENDING_OR_FAILED_PODS`)
   * when two or more jobs need pods, per job when one does.
   *
   * A job whose Job ended Failed needs its pods once, fresh. Its Failed pods are what explain it;
   * Succeeded pods explain nothing (`podFailureOf` and `endReason` pass over them), and a Job the
   * controller counts no pod of as stopping (`status.terminating` 0; `active` is 0 once it ended)
   * has no pod left Pending or Running. Where `terminating` is not 0, or not reported (clusters
   * without the JobPodReplacementPolicy gate), a pod still stopping may carry the disruption that
   * ended the Job, so that Job's pods are read on their own, whatever their phase.
   *
   * Waiting jobs' reasons come from pods that have not started, which are Pending. They are read
   * again at most once per `minPollIntervalMs` per namespace; in between, each sync answers from
   * the last read, and a job that read did not cover keeps the reason it had.
   */
  private async podsForSync(
    namespace: string,
    read: [BackendJob<"kubernetes">, V1Job][],
  ): Promise<PodSource> {
    const failed = new Set<string>();
    const waiting: string[] = [];
    for (const [job, found] of read) {
      const need = podsNeed(job, found);
      if (need === "failed" && found.status?.terminating === 0) failed.add(job.id);
      if (need === "waiting") waiting.push(job.id);
    }
    const last = this.waitingReads.get(namespace);
    const waitingDue = waiting.length > 0 && (!last || Date.now() - last.at >= this.minPollIntervalMs);
    const wanted = failed.size + (waitingDue ? waiting.length : 0);
    let grouped: Map<string, V1Pod[]> | undefined;
    if (wanted >= 2) {
      const at = Date.now();
      grouped = await this.pendingOrFailedPods(namespace);
      if (grouped) this.rememberWaiting(namespace, at, waiting, grouped);
    } else if (waitingDue) {
      const jobId = waiting[0]!;
      const at = Date.now();
      try {
        const pods = await this.podsOf(namespace, jobId);
        this.rememberWaiting(namespace, at, waiting, new Map([[jobId, pods]]));
      } catch (err) {
        this.ctx.log.warn({ jobId, namespace, err: messageOf(err) }, "could not read the job's pods");
      }
    }
    const remembered = this.waitingReads.get(namespace);
    return {
      failed: async (jobId, ns) =>
        // When the namespace's read failed, each failed job's pods are read on their own.
        grouped && failed.has(jobId) ? (grouped.get(jobId) ?? []) : this.podsIfReadable(jobId, ns),
      waiting: async (jobId, _ns, before) =>
        remembered?.reasons.has(jobId) ? remembered.reasons.get(jobId) : before,
    };
  }

  /**
   * Records, for the syncs that follow, the waiting reasons a pod read made at `at` gives: of the
   * jobs that were waiting, and of every other job it found pods of, which may be waiting by the
   * next sync.
   */
  private rememberWaiting(
    namespace: string,
    at: number,
    waiting: readonly string[],
    podsByJob: ReadonlyMap<string, V1Pod[]>,
  ): void {
    const reasons = new Map<string, string | undefined>();
    for (const jobId of new Set([...waiting, ...podsByJob.keys()]))
      reasons.set(jobId, waitingReasonOf(podsByJob.get(jobId) ?? []));
    this.waitingReads.set(namespace, { at, reasons });
  }

  /**
   * The namespace's pods that carry the job-id label (the key alone selects them, whatever job
   * they belong to) and are Pending or Failed, by job id, read page by page; undefined when they
   * cannot be read, which is logged and leaves the jobs' statuses to their Jobs.
   */
  private async pendingOrFailedPods(namespace: string): Promise<Map<string, V1Pod[]> | undefined> {
    const byJob = new Map<string, V1Pod[]>();
    let next: string | undefined;
    try {
      do {
        const page = await this.call((c) =>
          c.core.listNamespacedPod({
            namespace,
            labelSelector: JOB_ID_LABEL,
            fieldSelector: PENDING_OR_FAILED_PODS,
            limit: this.listPageSize,
            ...(next ? { _continue: next } : {}),
          }),
        );
        for (const pod of page.items) {
          const jobId = pod.metadata?.labels?.[JOB_ID_LABEL];
          if (!jobId) continue;
          const pods = byJob.get(jobId);
          if (pods) pods.push(pod);
          else byJob.set(jobId, [pod]);
        }
        next = page.metadata?._continue || undefined;
      } while (next);
    } catch (err) {
      this.ctx.log.warn(
        { namespace, err: messageOf(toBackendError("listing the pods", err)) },
        "could not read the namespace's pods",
      );
      return undefined;
    }
    return byJob;
  }

  /** One API server call, retried while the server throttles, fails with 5xx or cannot be reached. */
  private async call<T>(request: (clients: KubeClients) => Promise<T>): Promise<T> {
    const clients = await this.connect();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await request(clients);
      } catch (err) {
        const failure = kubeFailure(err);
        if (!failure.transient || attempt >= this.retry.maxAttempts) throw failure;
        const backoff = Math.min(this.retry.initialDelayMs * 2 ** (attempt - 1), this.retry.maxDelayMs);
        const asked = failure.retryAfterSeconds === undefined ? 0 : failure.retryAfterSeconds * 1000;
        await sleep(Math.min(Math.max(backoff, asked), this.retry.maxDelayMs));
      }
    }
  }

  private async connect(): Promise<KubeClients> {
    this.clients ??= makeClients(this.kubeConfig, this.settings.endpoint);
    try {
      return await this.clients;
    } catch (err) {
      this.clients = undefined;
      // A broken kubeconfig is the server's to fix, not the job's fault: the failure is retryable so
      // the job waits as PENDING instead of being marked FAILED with it.
      if (err instanceof KubeConfigFileError) {
        this.ctx.log.error(
          { file: err.file, line: err.line, reason: err.reason },
          "the kubeconfig could not be loaded",
        );
      } else {
        this.ctx.log.error({ err: messageOf(err) }, "the kubeconfig could not be loaded");
      }
      throw new BackendError(
        503,
        "cloud_credentials_unavailable",
        `${CLOUD} credentials could not be loaded from the kubeconfig: ${messageOf(err)}; fix the file KUBECONFIG names, or run in the cluster with a service account`,
        true,
      );
    }
  }
}

/** The status the reconciler last recorded for the job. */
function lastStatusOf(job: BackendJob<"kubernetes">): JobStatus | undefined {
  return job.backendState?.lastStatus as JobStatus | undefined;
}

/** Whether a read Job makes `readingOf` look at its job's pods, and why. */
function podsNeed(job: BackendJob<"kubernetes">, found: V1Job): PodsNeed | undefined {
  const finished = finishedConditionOf(found);
  if (finished) return finished.type === "Failed" ? "failed" : undefined;
  if (activeStatusOf(found, lastStatusOf(job)) === "PENDING" && (found.status?.active ?? 0) > 0)
    return "waiting";
  return undefined;
}

function created(pod: V1Pod): number {
  const t = pod.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

/** Reads the API server's `Status` body (`{reason, message, code}`) from what the client threw. */
function kubeFailure(err: unknown): KubeFailure {
  if (err instanceof KubeFailure) return err;
  const e = err as { code?: unknown; body?: unknown; headers?: Record<string, string> };
  // The client's ApiException carries the HTTP status as a number; a network error's `code` is a
  // system error name. Anything else (a kubeconfig the client refuses) would fail the same way again.
  if (typeof e.code !== "number") {
    const unreachable = typeof e.code === "string" && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(e.code);
    return new KubeFailure(undefined, undefined, messageOf(err), undefined, unreachable);
  }
  let body = e.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // a non-JSON body is reported as text below
    }
  }
  const status = body as { reason?: string; message?: string } | undefined;
  const message = status?.message ?? (typeof body === "string" && body ? body : messageOf(err));
  const retryAfter = Number(e.headers?.["retry-after"]);
  return new KubeFailure(
    e.code,
    status?.reason,
    message,
    Number.isFinite(retryAfter) ? retryAfter : undefined,
  );
}

/**
 * A failed call as the Train API reports it. A namespace's ResourceQuota refusing a Job comes back
 * as 403 Forbidden, but it is a quota the owner can raise, not a missing permission.
 */
function toBackendError(action: string, err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  const failure = kubeFailure(err);
  const quota = failure.status === 403 && /exceeded quota/i.test(failure.message);
  return cloudError(CLOUD, action, {
    ...(failure.status !== undefined ? { status: failure.status } : {}),
    ...(quota ? { code: "QuotaExceeded" } : failure.reason ? { code: failure.reason } : {}),
    message: failure.message,
  });
}

/**
 * The `kubernetes` backend. Needs `TRAINKIT_KUBERNETES_NAMESPACE` and a kubeconfig (`KUBECONFIG`,
 * `~/.kube/config`, or the pod's service account in the cluster); reads
 * `TRAINKIT_KUBERNETES_SERVICE_ACCOUNT`, `TRAINKIT_KUBERNETES_ENDPOINT`, `TRAINKIT_KUBERNETES_WATCH` and
 * `TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE`.
 */
export const kubernetesBackend: BackendFactory<"kubernetes"> = (env, ctx) => {
  const dnsLabel = (v: string) =>
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 63
      ? undefined
      : "must be a lowercase DNS label (letters, digits and '-', at most 63 characters)";
  const read = readCloudSettings(env, [
    { name: KUBERNETES_SETTINGS.namespace, required: true, check: dnsLabel },
    {
      name: KUBERNETES_SETTINGS.serviceAccount,
      required: false,
      check: (v) =>
        /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v) && v.length <= 253
          ? undefined
          : "must be a ServiceAccount name (lowercase letters, digits, '-' and '.')",
    },
    { name: KUBERNETES_SETTINGS.endpoint, required: false, check: checkEndpoint },
    MIN_POLL_INTERVAL_SETTING,
    {
      name: "TRAINKIT_KUBERNETES_WATCH",
      required: false,
      check: (v) => (["true", "false"].includes(v) ? undefined : "must be true or false (unset it for true)"),
    },
    submitRateSetting("TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE", undefined),
  ]);
  if ("missing" in read) return read;
  const v = read.values;
  let source: KubeConfigSource | undefined;
  try {
    source = findKubeConfig(env);
  } catch (err) {
    throw new Error(`KUBECONFIG ${messageOf(err)}.`);
  }
  if (!source) return { missing: ["KUBECONFIG (or ~/.kube/config, or an in-cluster service account)"] };
  const endpoint = v[KUBERNETES_SETTINGS.endpoint];
  return {
    backend: new KubernetesBackend(
      {
        namespace: v[KUBERNETES_SETTINGS.namespace]!,
        ...(v[KUBERNETES_SETTINGS.serviceAccount]
          ? { serviceAccount: v[KUBERNETES_SETTINGS.serviceAccount] }
          : {}),
        ...(endpoint ? { endpoint } : {}),
      },
      source,
      ctx,
      {
        minPollIntervalMs: minPollIntervalMs(v.TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS),
        watch: v.TRAINKIT_KUBERNETES_WATCH !== "false",
        ...(v.TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE
          ? { submitsPerMinute: Number(v.TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE) }
          : {}),
      },
    ),
  };
};
