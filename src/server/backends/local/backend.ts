import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  type FSWatcher,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
  watch,
} from "node:fs";
import { join } from "node:path";
import type { JobLogs, JobResult, LogsQuery } from "../../../spec";
import {
  type Backend,
  type BackendContext,
  BackendError,
  type BackendJob,
  type PollResult,
  type SubmitResult,
} from "../types";
import { INHERITED_ENV, jobEnvironment, mountDirectories } from "./environment";
import {
  createExclusive,
  jobFile,
  type LaunchRecord,
  openExclusive,
  readJson,
  type StatusRecord,
  type StopRecord,
  type SupervisorSpec,
  writeJsonAndClose,
  writeJsonAtomic,
} from "./files";
import { linesFrom, offsetCursor, stderrExcerpt, tailLinesAt } from "./logs";
import { prepareMountDirectory } from "./mounts";
import { isRunning, type ProcessRef, processStartTime, signalGroup, signalProcess } from "./proc";
import { supervisorScript } from "./script";
import type { LocalSettings } from "./settings";

type LocalJob = BackendJob<"local">;

/** The most a logs request reads from the end of a log file. */
const LOGS_MAX_BYTES = 1024 * 1024;

/** What the local backend keeps in the store for a job; the job directory remains the source of truth. */
export interface LocalBackendState extends Record<string, unknown> {
  job_dir: string;
  supervisor: ProcessRef;
  process?: ProcessRef;
}

/** Everything known about a job from its directory. */
interface Observed {
  dir: string;
  launch: LaunchRecord | null;
  status: StatusRecord | null;
  stop: StopRecord | null;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * Runs jobs as plain processes on this machine, each under a detached supervisor (see supervisor.ts).
 * Every fact about a job lives in its directory, so a fresh instance after a restart adopts running
 * jobs by reading the same files.
 */
export class LocalBackend implements Backend<"local"> {
  readonly name = "local" as const;
  readonly root: string;
  private readonly active = new Set<string>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly children = new Map<string, ChildProcess>();
  private closed = false;

  constructor(
    private readonly settings: LocalSettings,
    private readonly serverEnv: NodeJS.ProcessEnv,
    private readonly ctx: BackendContext,
  ) {
    this.root = join(ctx.dataDir, "local");
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.adoptRunningJobs();
  }

  hasCapacity(): boolean {
    return this.active.size < this.settings.maxConcurrent;
  }

  async submit(job: LocalJob): Promise<SubmitResult> {
    const dir = this.jobDir(job.id);
    const existing = this.observe(job.id);
    if (existing.launch !== null) return this.submitted(job.id, existing);

    const cwd = this.prepareWorkspace(job, dir);
    const script = await supervisorScript(join(this.root, ".supervisor"));
    const config = job.request.job_config;
    const spec: SupervisorSpec = {
      argv: [...config.command, ...(config.args ?? [])],
      env: jobEnvironment(this.serverEnv, job.request),
      cwd,
      grace_seconds: this.settings.cancelGraceSeconds,
      ...(config.timeout_seconds === undefined ? {} : { timeout_seconds: config.timeout_seconds }),
    };
    writeJsonAtomic(jobFile(dir, "spec"), spec);

    // From the exclusive create to the launch record nothing yields to the event loop, so only a crash
    // in these few synchronous lines can leave a claim without a record, and even then the job is
    // never started twice: poll reports it gone instead.
    const claim = openExclusive(jobFile(dir, "launch"));
    if (claim === null) return this.submitted(job.id, this.observe(job.id));
    const child = this.spawnSupervisor(script, dir);
    const pid = child?.pid;
    if (child === null || pid === undefined) {
      // Nothing started, so giving the claim back is safe and lets a retry launch the job.
      closeSync(claim);
      unlinkSync(jobFile(dir, "launch"));
      child?.on("error", () => {});
      throw new BackendError(
        503,
        "local_spawn_failed",
        `could not start the supervisor for job ${job.id} (${process.execPath}); see ${jobFile(dir, "supervisorLog")}`,
        true,
      );
    }
    const launch: LaunchRecord = {
      supervisor: { pid, start_time: processStartTime(pid) ?? "" },
      launched_at: new Date().toISOString(),
    };
    writeJsonAndClose(claim, launch);
    child.unref();
    this.children.set(job.id, child);
    child.once("exit", () => {
      this.children.delete(job.id);
      this.checkEnded(job.id);
    });
    this.track(job.id);
    // Only the program is logged: arguments may carry tokens.
    this.ctx.log.info({ jobId: job.id, supervisorPid: pid, program: spec.argv[0] }, "local job started");
    return {
      cloudJobIdentifier: { job_dir: dir, supervisor_pid: String(pid) },
      backendState: { job_dir: dir, supervisor: launch.supervisor },
      status: "IN_PROGRESS",
    };
  }

  async poll(job: LocalJob): Promise<PollResult> {
    const seen = this.observe(job.id);
    const state = this.stateOf(seen, job);
    const ended = this.endedResult(seen, job);
    if (ended !== null) {
      this.untrack(job.id);
      return { ...ended, ...(state ? { backendState: state } : {}) };
    }
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor ?? state?.supervisor;
    if (supervisor !== undefined && isRunning(supervisor)) {
      this.track(job.id);
      return { status: "IN_PROGRESS", ...(state ? { backendState: state } : {}) };
    }
    // The supervisor is gone. It may have written its final record between the two reads above.
    const again = this.observe(job.id);
    const endedNow = this.endedResult(again, job);
    if (endedNow !== null) {
      this.untrack(job.id);
      return endedNow;
    }
    const orphan = again.status?.process ?? state?.process;
    if (orphan !== undefined && isRunning(orphan)) {
      this.track(job.id);
      this.stopOrphanIfDue(job, again, orphan);
      return { status: "IN_PROGRESS", ...(state ? { backendState: state } : {}) };
    }
    this.untrack(job.id);
    if (again.stop !== null) return this.stoppedResult(again.stop.reason, job);
    return { status: "FAILED", result: { failure_reason: this.goneReason(again, supervisor, orphan) } };
  }

  async cancel(job: LocalJob): Promise<void> {
    const dir = this.jobDir(job.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createExclusive(jobFile(dir, "stop"), {
      reason: "canceled",
      requested_at: new Date().toISOString(),
    } satisfies StopRecord);
    const seen = this.observe(job.id);
    if (seen.status?.state === "ended") return;
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor;
    if (supervisor !== undefined && isRunning(supervisor)) {
      signalProcess(supervisor.pid, "SIGTERM");
      return;
    }
    const orphan = seen.status?.process;
    if (orphan !== undefined && isRunning(orphan)) {
      // Nobody supervises this process any more: stop it from here. Later polls escalate to SIGKILL
      // once the grace period is over, even if this server restarts in between.
      signalGroup(orphan.pid, "SIGTERM");
    }
  }

  /** The last lines of a job's stdout or stderr, or those written since `cursor`. */
  async logs(job: LocalJob, query: LogsQuery): Promise<JobLogs> {
    const file = jobFile(this.jobDir(job.id), query.stream);
    const read =
      query.cursor === undefined
        ? tailLinesAt(file, query.tail, LOGS_MAX_BYTES)
        : linesFrom(file, offsetCursor.decode(query.cursor), query.tail, LOGS_MAX_BYTES);
    return {
      job_id: job.id,
      stream: query.stream,
      lines: read.lines,
      next_cursor: offsetCursor.encode(read.end),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const child of this.children.values()) child.removeAllListeners("exit");
    this.children.clear();
  }

  /** The directory of a job's files. */
  jobDir(jobId: string): string {
    if (!JOB_ID.test(jobId)) {
      throw new BackendError(
        400,
        "invalid_job_id",
        `job id ${JSON.stringify(jobId)} cannot name a directory`,
      );
    }
    return join(this.root, jobId);
  }

  private observe(jobId: string): Observed {
    const dir = this.jobDir(jobId);
    return {
      dir,
      launch: readJson<LaunchRecord>(jobFile(dir, "launch")),
      status: readJson<StatusRecord>(jobFile(dir, "status")),
      stop: readJson<StopRecord>(jobFile(dir, "stop")),
    };
  }

  private submitted(jobId: string, seen: Observed): SubmitResult {
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor;
    // The status is left to poll, which also reports a job that ended or whose processes are gone.
    if (seen.status?.state !== "ended" && supervisor !== undefined && isRunning(supervisor)) {
      this.track(jobId);
    }
    return {
      cloudJobIdentifier: {
        job_dir: seen.dir,
        ...(supervisor ? { supervisor_pid: String(supervisor.pid) } : {}),
      },
      ...(supervisor
        ? {
            backendState: {
              job_dir: seen.dir,
              supervisor,
              ...(seen.status?.process ? { process: seen.status.process } : {}),
            },
          }
        : {}),
      status: "IN_PROGRESS",
    };
  }

  private stateOf(seen: Observed, job: LocalJob): LocalBackendState | null {
    const previous = job.backendState as Partial<LocalBackendState> | null;
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor ?? previous?.supervisor;
    if (supervisor === undefined) return null;
    const proc = seen.status?.process ?? previous?.process;
    return { job_dir: seen.dir, supervisor, ...(proc ? { process: proc } : {}) };
  }

  /** Checks mounts and the working directory, and creates the job's directory and writable mounts. */
  private prepareWorkspace(job: LocalJob, dir: string): string {
    mountDirectories(job.request).forEach((path, i) => {
      prepareMountDirectory(
        path,
        job.request.storage_mounts[i]!.read_only,
        `storage_mounts[${i}].source_uri`,
      );
    });
    const workingDir = job.request.job_config.working_dir;
    if (workingDir !== undefined && statKind(workingDir) !== "dir") {
      throw new BackendError(
        400,
        "invalid_working_dir",
        `job_config.working_dir: ${workingDir} is not an existing directory; create it or name another`,
      );
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (workingDir !== undefined) return workingDir;
    const work = join(dir, "work");
    mkdirSync(work, { recursive: true });
    return work;
  }

  private spawnSupervisor(script: string, dir: string): ChildProcess | null {
    const supervisorLog = openSync(jobFile(dir, "supervisorLog"), "a", 0o600);
    try {
      return spawn(process.execPath, [script, dir], {
        cwd: dir,
        env: this.supervisorEnv(),
        stdio: ["ignore", supervisorLog, supervisorLog],
        detached: true,
      });
    } catch (err) {
      this.ctx.log.error({ dir, err: String(err) }, "cannot start local job supervisor");
      return null;
    } finally {
      closeSync(supervisorLog);
    }
  }

  private supervisorEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of INHERITED_ENV) {
      const value = this.serverEnv[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  private endedResult(seen: Observed, job: LocalJob): PollResult | null {
    const status = seen.status;
    if (status?.state !== "ended") return null;
    switch (status.outcome) {
      case "canceled":
      case "timeout":
        return this.stoppedResult(status.outcome, job);
      case "spawn_failed":
        return {
          status: "FAILED",
          result: { failure_reason: `could not start the job: ${status.error ?? "unknown error"}` },
        };
      default:
        return exitResult(status, jobFile(seen.dir, "stderr"));
    }
  }

  private stoppedResult(reason: StopRecord["reason"], job: LocalJob): PollResult {
    if (reason === "canceled")
      return { status: "CANCELED", result: { failure_reason: "canceled on request" } };
    const seconds = job.request.job_config.timeout_seconds;
    const limit = seconds === undefined ? "its timeout" : `timeout_seconds (${seconds})`;
    return { status: "EXPIRED", result: { failure_reason: `ran longer than ${limit} and was stopped` } };
  }

  /** For a job whose supervisor died: enforce the timeout and the cancel grace period from here. */
  private stopOrphanIfDue(job: LocalJob, seen: Observed, orphan: ProcessRef): void {
    const now = Date.now();
    if (seen.stop !== null) {
      const elapsed = (now - Date.parse(seen.stop.requested_at)) / 1000;
      signalGroup(orphan.pid, elapsed >= this.settings.cancelGraceSeconds ? "SIGKILL" : "SIGTERM");
      return;
    }
    const timeout = job.request.job_config.timeout_seconds;
    const startedAt = seen.status?.started_at;
    if (timeout !== undefined && startedAt !== undefined && (now - Date.parse(startedAt)) / 1000 >= timeout) {
      createExclusive(jobFile(seen.dir, "stop"), {
        reason: "timeout",
        requested_at: new Date(now).toISOString(),
      } satisfies StopRecord);
      signalGroup(orphan.pid, "SIGTERM");
    }
  }

  private goneReason(
    seen: Observed,
    supervisor: ProcessRef | undefined,
    orphan: ProcessRef | undefined,
  ): string {
    if (supervisor === undefined && orphan === undefined) {
      return `process gone: there is no record of this job being started here (${seen.dir} holds no launch record)`;
    }
    const who =
      orphan !== undefined
        ? `its process (pid ${orphan.pid}) and supervisor (pid ${supervisor?.pid ?? "unknown"})`
        : `its supervisor (pid ${supervisor?.pid})`;
    return (
      `process gone: ${who} stopped running without recording how the job ended ` +
      `(the machine restarted or the processes were killed); logs are in ${seen.dir}`
    );
  }

  private track(jobId: string): void {
    this.active.add(jobId);
    if (this.closed || this.watchers.has(jobId)) return;
    try {
      const watcher = watch(this.jobDir(jobId), (_event, filename) => {
        if (filename === null || filename === "status.json") this.checkEnded(jobId);
      });
      watcher.on("error", () => this.unwatch(jobId));
      this.watchers.set(jobId, watcher);
    } catch (err) {
      // Polling still finds the end; only the early notice is lost.
      this.ctx.log.warn({ jobId, err: String(err) }, "cannot watch local job directory");
    }
  }

  private untrack(jobId: string): void {
    this.active.delete(jobId);
    this.unwatch(jobId);
  }

  private unwatch(jobId: string): void {
    this.watchers.get(jobId)?.close();
    this.watchers.delete(jobId);
  }

  /** Frees the job's slot and tells the server as soon as its supervisor recorded the end or vanished. */
  private checkEnded(jobId: string): void {
    if (this.closed || !this.active.has(jobId)) return;
    const seen = this.observe(jobId);
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor;
    const ended = seen.status?.state === "ended";
    if (!ended && supervisor !== undefined && isRunning(supervisor)) return;
    if (!ended && seen.status?.process !== undefined && isRunning(seen.status.process)) return;
    this.untrack(jobId);
    this.ctx.notify(jobId);
  }

  /** Counts jobs that a previous server started and that still run, so that the limit holds after a restart. */
  private adoptRunningJobs(): void {
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || !JOB_ID.test(entry.name)) continue;
      const seen = this.observe(entry.name);
      if (seen.launch === null || seen.status?.state === "ended") continue;
      const supervisor = seen.status?.supervisor ?? seen.launch.supervisor;
      const proc = seen.status?.process;
      if (isRunning(supervisor) || (proc !== undefined && isRunning(proc))) this.track(entry.name);
    }
  }
}

function statKind(path: string): "dir" | "other" | "missing" {
  try {
    return statSync(path).isDirectory() ? "dir" : "other";
  } catch {
    return "missing";
  }
}

function exitResult(status: StatusRecord, stderrPath: string): PollResult {
  if (status.exit_code === 0) return { status: "COMPLETED", result: { exit_code: 0 } };
  const excerpt = stderrExcerpt(stderrPath);
  const tail = excerpt === "" ? "" : `; last lines of stderr:\n${excerpt}`;
  const result: JobResult =
    typeof status.exit_code === "number"
      ? { exit_code: status.exit_code, failure_reason: `exited with code ${status.exit_code}${tail}` }
      : { failure_reason: `was killed by signal ${status.signal ?? "unknown"}${tail}` };
  return { status: "FAILED", result };
}
