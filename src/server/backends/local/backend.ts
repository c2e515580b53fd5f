import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  type FSWatcher,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  watch,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { JobLogs, JobResult, LogsQuery } from "../../../spec";
import {
  type Backend,
  type BackendContext,
  BackendError,
  type BackendJob,
  type PollResult,
  type SubmitResult,
} from "../types";
import { confine, decodeMountUri, type PathRules } from "./confine";
import { endReason, lostEnd } from "./end-reason";
import { INHERITED_ENV, jobEnvironment } from "./environment";
import {
  createExclusive,
  jobFile,
  type LaunchRecord,
  openExclusive,
  readJson,
  type StatusRecord,
  type StopRecord,
  type SupervisorSpec,
  UntrustedFileError,
  writeJsonAndClose,
  writeJsonAtomic,
} from "./files";
import { detectIsolation, type Isolation, sandboxBaseArgs, usersInUse } from "./isolation";
import { linesFrom, offsetCursor, stderrExcerpt, tailLinesAt } from "./logs";
import { prepareMountDirectory, refuseKernelPaths } from "./mounts";
import {
  childrenOf,
  isRunning,
  type ProcessRef,
  processStartTime,
  signalGroup,
  signalProcess,
  signalUser,
  terminateJob,
} from "./proc";
import { supervisorScript } from "./script";
import { JOB_UID_RANGE, type LocalSettings } from "./settings";

type LocalJob = BackendJob<"local">;

/** The most a logs request reads from the end of a log file. */
const LOGS_MAX_BYTES = 1024 * 1024;

/** What the local backend keeps in the store for a job; the job directory remains the source of truth. */
export interface LocalBackendState extends Record<string, unknown> {
  job_dir: string;
  supervisor: ProcessRef;
  process?: ProcessRef;
  /** The replica that started the job: only it supervises, tracks and reports the job. */
  owner?: Owner;
}

/** A replica of the server, as far as local jobs go: its machine (and boot) and its data directory. */
export interface Owner {
  host: string;
  /** The kernel's id of this boot: a machine that restarted runs none of the processes it recorded. */
  boot_id: string;
  data_dir: string;
}

type Place = { kind: "own" | "sibling"; dir: string } | { kind: "remote"; owner: Owner };

function thisReplica(dataDir: string): Owner {
  let bootId = "";
  try {
    bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // Without /proc the host name alone tells machines apart.
  }
  return { host: hostname(), boot_id: bootId, data_dir: dataDir };
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
  /** How jobs are kept apart from the server and from each other on this host. */
  readonly isolation: Isolation;
  /** Where jobs that run as users of their own get their working directories (the root is not theirs to reach). */
  readonly workRoot: string | null;
  private readonly paths: PathRules;
  private readonly owner: Owner;
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
    this.owner = thisReplica(ctx.dataDir);
    this.isolation = detectIsolation(settings, serverEnv.PATH);
    const accounts = ctx.accounts ?? [];
    if (this.isolation.mode === "none" && accounts.length > 1) {
      throw new Error(
        `the local backend cannot keep jobs of the ${accounts.length} accounts apart on this host: ${this.isolation.reason}, ` +
          "so one account's job could read another's files and the server's secrets. Fix: run the server as root or " +
          "install bubblewrap (apt-get install bubblewrap), serve a single account, or leave local out of TRAINKIT_BACKENDS.",
      );
    }
    this.workRoot = this.isolation.ownUsers ? chooseWorkRoot(ctx.dataDir) : null;
    if (this.workRoot !== null) ensureWorkRoot(this.workRoot);
    this.paths = {
      allowedRoots: settings.allowedRoots,
      protectedPaths: [
        ctx.dataDir,
        ...(ctx.protectedPaths ?? []),
        ...(this.workRoot !== null ? [this.workRoot] : []),
      ],
    };
    ctx.log.info({ isolation: this.isolation.mode }, `local backend: ${this.isolation.reason}`);
    this.adoptRunningJobs();
  }

  hasCapacity(): boolean {
    return this.active.size < this.settings.maxConcurrent;
  }

  async submit(job: LocalJob): Promise<SubmitResult> {
    const dir = this.jobDir(job.id);
    const existing = this.observe(job.id);
    if (existing.launch !== null) return this.submitted(job.id, existing);

    const user = this.isolation.ownUsers ? this.allocateUser(job.accountId) : null;
    const workspace = this.prepareWorkspace(job, dir, user);
    const script = await supervisorScript(join(this.root, ".supervisor"));
    const config = job.request.job_config;
    const env = jobEnvironment(this.serverEnv, job.request, workspace.mounts);
    // The server's home is not the job's to write, nor, in a sandbox, to see.
    if (this.isolation.mode !== "none" && config.env?.HOME === undefined) env.HOME = workspace.cwd;
    const spec: SupervisorSpec = {
      argv: [...config.command, ...(config.args ?? [])],
      env,
      cwd: workspace.cwd,
      grace_seconds: this.settings.cancelGraceSeconds,
      log_max_bytes: this.settings.logMaxBytes,
      ...(config.timeout_seconds === undefined ? {} : { timeout_seconds: config.timeout_seconds }),
      ...(user !== null ? { uid: user.uid, gid: user.gid } : {}),
      ...(this.isolation.bwrap !== null ? { sandbox: this.sandboxArgs(workspace) } : {}),
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
      cloudJobIdentifier: { job_dir: dir, supervisor_pid: String(pid), host: this.owner.host },
      backendState: { job_dir: dir, supervisor: launch.supervisor, owner: this.owner },
      status: "IN_PROGRESS",
    };
  }

  async poll(job: LocalJob): Promise<PollResult> {
    const place = this.placeOf(job);
    // A job another replica started on another machine is that replica's to report: its processes
    // and files are not here, and their absence says nothing about how the job is doing.
    if (place.kind === "remote") return { status: "IN_PROGRESS" };
    const own = place.kind === "own";
    const seen = this.observe(job.id, place.dir);
    const state = this.stateOf(seen, job);
    const ended = this.endedResult(seen, job);
    if (ended !== null) {
      if (own) this.untrack(job.id);
      return { ...ended, ...(state ? { backendState: state } : {}) };
    }
    const supervisor = seen.status?.supervisor ?? seen.launch?.supervisor ?? state?.supervisor;
    if (supervisor !== undefined && isRunning(supervisor)) {
      if (own) this.track(job.id);
      return { status: "IN_PROGRESS", ...(state ? { backendState: state } : {}) };
    }
    // The supervisor is gone. It may have written its final record between the two reads above.
    const again = this.observe(job.id, place.dir);
    const endedNow = this.endedResult(again, job);
    if (endedNow !== null) {
      if (own) this.untrack(job.id);
      return endedNow;
    }
    const orphan = again.status?.process ?? state?.process;
    if (orphan !== undefined && isRunning(orphan)) {
      if (own) this.track(job.id);
      this.stopOrphanIfDue(job, again, orphan);
      return { status: "IN_PROGRESS", ...(state ? { backendState: state } : {}) };
    }
    if (own) this.untrack(job.id);
    if (again.stop !== null) return this.stoppedResult(again.stop.reason, job);
    const gone = this.goneReason(again, supervisor, orphan);
    return { status: "FAILED", result: { failure_reason: gone }, end: lostEnd(gone) };
  }

  async cancel(job: LocalJob): Promise<void> {
    const place = this.placeOf(job);
    // The replica that started it carries out the cancel recorded in the store.
    if (place.kind === "remote") return;
    const dir = place.dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createExclusive(jobFile(dir, "stop"), {
      reason: "canceled",
      requested_at: new Date().toISOString(),
    } satisfies StopRecord);
    const seen = this.observe(job.id, dir);
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
      terminateJob(orphan.pid, seen.status?.sandboxed === true);
    }
  }

  /** The cursor of a log's very start: a follower moving on to a restart's log reads it whole. */
  logStart(): string {
    return offsetCursor.encode(0);
  }

  /** The last lines of a job's stdout or stderr, or those written since `cursor`. */
  async logs(job: LocalJob, query: LogsQuery): Promise<JobLogs> {
    const place = this.placeOf(job);
    if (place.kind === "remote") {
      throw new BackendError(
        409,
        "local_job_on_another_replica",
        `job ${job.id} runs on ${place.owner.host}, under the replica whose data directory is ${place.owner.data_dir}; ` +
          "its logs are there: ask that replica, or read them on that machine",
      );
    }
    const path = jobFile(place.dir, query.stream);
    try {
      const read =
        query.cursor === undefined
          ? tailLinesAt(path, query.tail, LOGS_MAX_BYTES)
          : linesFrom(path, offsetCursor.decode(query.cursor), query.tail, LOGS_MAX_BYTES);
      return {
        job_id: job.id,
        stream: query.stream,
        lines: read.lines,
        next_cursor: offsetCursor.encode(read.end),
      };
    } catch (err) {
      if (!(err instanceof UntrustedFileError)) throw err;
      this.ctx.log.warn({ jobId: job.id, path }, "job log replaced by something other than a file");
      throw new BackendError(
        409,
        "log_not_a_file",
        `the ${query.stream} log of job ${job.id} was replaced by the job (${err.reason}); the server reads only regular files there`,
      );
    }
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

  /**
   * Where a job's files are: here, under another replica's data directory on this same machine
   * (whose processes are visible from here too), or on another machine.
   */
  private placeOf(job: LocalJob): Place {
    const owner = (job.backendState as Partial<LocalBackendState> | null)?.owner;
    const state = job.backendState as Partial<LocalBackendState> | null;
    if (owner === undefined || owner.data_dir === this.ctx.dataDir)
      return { kind: "own", dir: this.jobDir(job.id) };
    if (
      owner.host === this.owner.host &&
      owner.boot_id === this.owner.boot_id &&
      state?.job_dir !== undefined
    ) {
      return { kind: "sibling", dir: state.job_dir };
    }
    return { kind: "remote", owner };
  }

  private observe(jobId: string, dir: string = this.jobDir(jobId)): Observed {
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
        host: this.owner.host,
      },
      ...(supervisor
        ? {
            backendState: {
              job_dir: seen.dir,
              owner: this.owner,
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
    return {
      job_dir: seen.dir,
      supervisor,
      ...(proc ? { process: proc } : {}),
      ...(previous?.owner ? { owner: previous.owner } : {}),
    };
  }

  /**
   * Checks mounts and the working directory against the allowed roots and the server's own paths,
   * and creates the job's directory, its own working directory and missing writable mounts. A job
   * of its own user owns what is created for it, with its account's group, so that the account's
   * later jobs can write there too.
   */
  private prepareWorkspace(job: LocalJob, dir: string, user: JobUser | null): Workspace {
    const mounts = job.request.storage_mounts.map((mount, i) => {
      const field = `storage_mounts[${i}].source_uri`;
      const decoded = decodeMountUri(mount.source_uri, field);
      refuseKernelPaths(decoded, field);
      const path = confine(decoded, field, "invalid_mount", this.paths);
      const created = prepareMountDirectory(path, mount.read_only, field);
      // A level created just now could have been swapped for a link by another job: check again.
      const real = confine(path, field, "invalid_mount", this.paths);
      if (user !== null) {
        for (const level of created) {
          chownSync(level, user.uid, user.gid);
          chmodSync(level, 0o2770);
        }
        refuseUnreachable(real, user, field, "invalid_mount");
      }
      return { path: real, readOnly: mount.read_only };
    });
    const workingDir = job.request.job_config.working_dir;
    let given: string | undefined;
    if (workingDir !== undefined) {
      given = confine(workingDir, "job_config.working_dir", "invalid_working_dir", this.paths);
      if (statKind(given) !== "dir") {
        throw new BackendError(
          400,
          "invalid_working_dir",
          `job_config.working_dir: ${workingDir} is not an existing directory; create it or name another`,
        );
      }
      if (user !== null) refuseUnreachable(given, user, "job_config.working_dir", "invalid_working_dir");
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (given !== undefined) return { cwd: given, own: false, mounts };
    const work = this.workRoot !== null ? join(this.workRoot, job.id) : join(dir, "work");
    mkdirSync(work, { recursive: true, mode: 0o700 });
    if (user !== null) chownSync(work, user.uid, user.gid);
    return { cwd: work, own: true, mounts };
  }

  /** The sandbox of one job: the system paths, its working directory and its mounts, nothing else. */
  private sandboxArgs(workspace: Workspace): string[] {
    const args = [this.isolation.bwrap!, ...sandboxBaseArgs(this.settings.sandboxPaths)];
    // The server's own files never show, even where a system path holds them.
    for (const own of this.paths.protectedPaths) {
      if (!this.settings.sandboxPaths.some((p) => own === p || own.startsWith(`${p}/`))) continue;
      const kind = statKind(own);
      if (kind === "dir") args.push("--tmpfs", own);
      else if (kind === "other") args.push("--ro-bind", "/dev/null", own);
    }
    args.push("--bind", workspace.cwd, workspace.cwd);
    for (const mount of workspace.mounts) {
      args.push(mount.readOnly ? "--ro-bind" : "--bind", mount.path, mount.path);
    }
    args.push("--chdir", workspace.cwd, "--");
    return args;
  }

  /**
   * A user of its own for the job, and its account's group. The user is one no process runs as now,
   * taken in turn from `TRAINKIT_LOCAL_JOB_UID_BASE`; the group is the account's for good.
   */
  private allocateUser(accountId: string): JobUser {
    const base = this.settings.jobUidBase;
    const counterFile = join(this.root, "next-uid.json");
    const next = readJson<{ next: number }>(counterFile)?.next ?? 0;
    const used = usersInUse(base, JOB_UID_RANGE);
    let offset = next;
    for (let i = 0; i < JOB_UID_RANGE && used.has(base + (offset % JOB_UID_RANGE)); i++) offset++;
    const uid = base + (offset % JOB_UID_RANGE);
    writeJsonAtomic(counterFile, { next: (offset + 1) % JOB_UID_RANGE });

    const groupsFile = join(this.root, "account-groups.json");
    const groups = readJson<Record<string, number>>(groupsFile) ?? {};
    let gid = groups[accountId];
    if (gid === undefined) {
      gid = base + JOB_UID_RANGE + Object.keys(groups).length;
      writeJsonAtomic(groupsFile, { ...groups, [accountId]: gid });
    }
    return { uid, gid };
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
    const end = endReason(status, seen.stop);
    if (end?.kind === "preemption") {
      const result = exitResult(status, jobFile(seen.dir, "stderr")).result ?? {};
      return { status: "FAILED", result: { ...result, failure_reason: end.reason }, end };
    }
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
      if (elapsed >= this.settings.cancelGraceSeconds) killJob(orphan, seen.status);
      else terminateJob(orphan.pid, seen.status?.sandboxed === true);
      return;
    }
    const timeout = job.request.job_config.timeout_seconds;
    const startedAt = seen.status?.started_at;
    if (timeout !== undefined && startedAt !== undefined && (now - Date.parse(startedAt)) / 1000 >= timeout) {
      createExclusive(jobFile(seen.dir, "stop"), {
        reason: "timeout",
        requested_at: new Date(now).toISOString(),
      } satisfies StopRecord);
      terminateJob(orphan.pid, seen.status?.sandboxed === true);
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

interface JobUser {
  uid: number;
  gid: number;
}

interface Workspace {
  cwd: string;
  /** Whether `cwd` is the job's own fresh directory rather than a `working_dir` it named. */
  own: boolean;
  mounts: { path: string; readOnly: boolean }[];
}

/**
 * Creates the directory that holds the working directories of jobs with users of their own: it must
 * be the server's, a real directory, and writable by nobody else, or a job could swap what is in it.
 */
function ensureWorkRoot(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o711 });
  const stat = lstatSync(path);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `${path} must be a directory of the server's own user that nobody else can write to, as it holds ` +
        "the working directories of local jobs; remove it and restart, and the server creates it properly",
    );
  }
  chmodSync(path, 0o711);
}

/**
 * Refuses a mount the job's own user could not reach: a directory above it that neither others nor
 * the account's group may pass through would only fail later, inside the job, as "permission denied".
 */
function refuseUnreachable(path: string, user: JobUser, field: string, code: string): void {
  const dir = closedAbove(path, user);
  if (dir === null) return;
  const mode = (statSync(dir).mode & 0o7777).toString(8).padStart(4, "0");
  throw new BackendError(
    400,
    code,
    `${field}: ${path} cannot be reached by the job, which runs as a user of its own: ${dir} (mode ` +
      `${mode}) lets no other user through; allow it (chmod o+x ${dir}) or name a directory others can reach`,
  );
}

/** The first directory above `path` that `user` may not pass through, or null when there is none. */
function closedAbove(path: string, user: JobUser | null): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const stat = statSync(dir);
    const passes =
      user !== null && stat.uid === user.uid
        ? true
        : user !== null && stat.gid === user.gid
          ? (stat.mode & 0o010) !== 0
          : (stat.mode & 0o001) !== 0;
    if (!passes) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Where the working directories of jobs with users of their own go: beside the data directory when
 * other users can get there (`<data dir>-work`), else (a data directory under `/root`, say) in the
 * temporary directory, under a name derived from the data directory.
 */
function chooseWorkRoot(dataDir: string): string {
  const beside = join(dirname(dataDir), `${basename(dataDir)}-work`);
  if (closedAbove(beside, null) === null) return beside;
  const tag = createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  return join(tmpdir(), `trainkit-work-${tag}`);
}

/** Stops every process of a job whose supervisor is gone, as the supervisor would have. */
function killJob(main: ProcessRef, status: StatusRecord | null): void {
  signalGroup(main.pid, "SIGKILL");
  if (status?.sandboxed) for (const pid of childrenOf(main.pid)) signalProcess(pid, "SIGKILL");
  if (status?.uid !== undefined) signalUser(status.uid, "SIGKILL");
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
