import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  BACKENDS,
  type Backend,
  CREATE_JOB_REQUESTS,
  decodeSimplismartJsonFields,
  issuesToDetails,
  isTerminal,
  isVendor,
  type JobAttempt,
  type JobStatus,
  type RetryEvent,
  type RetryPolicy,
  type RetryPolicyInput,
  type StorageMount,
  VENDOR_NAME_PATH,
  VENDOR_NAMES,
  VENDORS,
  type Vendor,
  vendorJobConfigSchema,
} from "../spec";
import { BASETEN_DEFAULT_URL, BasetenClient } from "./clients/baseten";
import { CustomTrainingClient } from "./clients/customtraining";
import { isCloudRunUrl } from "./clients/google-id-token";
import { SIMPLISMART_DEFAULT_URL, SimplismartClient } from "./clients/simplismart";
import { TENSORONE_DEFAULT_URL, TENSORONE_STOPPED, TensorOneClient } from "./clients/tensorone";
import { TrainApiClient } from "./clients/trainapi";
import {
  type ApiSettings,
  type JobClient,
  type JobSnapshot,
  type SubmitRequest,
  UnconfirmedError,
  type VendorSubmitRequest,
} from "./clients/types";
import { warn, withName } from "./clients/vendor";
import { pulumiInfo, WaitProgress } from "./progress";

// This module is what the serialized `TrainingJob` provider loads, by package name, in the process
// Pulumi starts for dynamic providers. It must therefore be plain data in, plain data out: no
// Pulumi runtime, no Outputs, and the inputs arrive without secret markers because the dynamic
// provider host tells the engine it does not accept secrets.

/** How long `create` keeps watching the job: until the API accepted it, until it started, or until it ended. */
export const WAIT_FOR = ["submitted", "running", "completed"] as const;
/** One of {@link WAIT_FOR}: how far a `TrainingJob`'s `pulumi up` follows the job before it returns. */
export type WaitFor = (typeof WAIT_FOR)[number];

/** How long `pulumi up` watches a job when `waitTimeoutSeconds` is not set: one hour. */
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 3600;
/** Time allowed for one HTTP request when `requestTimeoutSeconds` is not set. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 30;

/** The value the engine puts where an input is not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A storage mount as a `TrainingJob` takes it: the API's mount in Pulumi's camelCase. */
export interface StorageMountProps {
  /** What is mounted, as the backend reaches it (`gs://...`, `s3://...`, `pvc://<claim>/<path>`). */
  sourceUri: string;
  /** The absolute path the container sees it at. */
  mountPath: string;
  /** Whether the job may only read it; undefined where the API left it out, which means false. */
  readOnly?: boolean;
}

/** A `TrainingJob`'s inputs as the provider receives them. */
export interface TrainingJobInputs {
  /** The Train API backend or the vendor the job goes to. */
  backend: Backend | Vendor;
  /** The job's name, without the vendor mark. */
  name: string;
  /** The backend's or vendor's job body. */
  jobConfig: Record<string, unknown>;
  /** Storage mounted into the job, in order; Train API backends only. */
  storageMounts?: StorageMountProps[];
  /** The API's base URL; undefined falls back to stack config, then the environment. */
  apiUrl?: string;
  /** The API key. Secret in the state; undefined falls back to stack config, then the environment. */
  apiKey?: string;
  /** The Train API account the job belongs to; undefined falls back to stack config, then the environment. */
  accountId?: string;
  /** Whether to send a Google ID token; undefined means true for a `*.run.app` URL. */
  googleIdToken?: boolean;
  /** How far `create` follows the job. Defaults to `submitted`. */
  waitFor?: WaitFor;
  /** How long `create` follows it, in seconds. Defaults to {@link DEFAULT_WAIT_TIMEOUT_SECONDS}. */
  waitTimeoutSeconds?: number;
  /** Time allowed for one HTTP request, in seconds. Defaults to {@link DEFAULT_REQUEST_TIMEOUT_SECONDS}. */
  requestTimeoutSeconds?: number;
  /** TensorOne only: resume the job from its latest checkpoint whenever `pulumi up` finds it stopped. */
  resumeStopped?: boolean;
  /** Train API only: when the API restarts the job (its `retry_policy`); undefined for never. */
  retryPolicy?: RetryPolicyProps;
}

/** A job's retry policy as a `TrainingJob` takes it: the API's `retry_policy` in Pulumi's camelCase. */
export interface RetryPolicyProps {
  /** Restarts at most, 0 to 100. */
  maxRestarts: number;
  /** The events that restart the job: `preemption`, `failure`, `no_capacity`. */
  on: RetryEvent[];
  /** Wait before the first restart, in seconds. Defaults to 10. */
  backoffSeconds?: number;
  /** The wait doubles with each restart up to this many seconds. Defaults to 600. */
  maxBackoffSeconds?: number;
}

/** One run of a job on its backend, as a `TrainingJob`'s `attempts` output shows it. */
export interface AttemptOutput {
  attempt: number;
  cloudJobIdentifier?: Record<string, string>;
  startedAt?: string;
  endedAt?: string;
  /** What ended it (`preemption`, `failure`, `completed`, ...) and the backend's reason. */
  end?: { kind: string; reason: string };
}

/** A `TrainingJob`'s state: its inputs, and the job as the API last reported it. */
export interface TrainingJobOutputs extends TrainingJobInputs {
  /** The API's id of the job, also the resource's id. */
  jobId: string;
  /** The job's status as of the last create, read or update. */
  status: JobStatus;
  /** The cloud's or vendor's own identifiers of the job; undefined until the backend has one. */
  cloudJobIdentifier?: Record<string, string>;
  /** Why the job failed, expired or was canceled; undefined otherwise. */
  failureReason?: string;
  /** The vendor's own status word, for a vendor job. */
  vendorStatus?: string;
  /** When the API created the job (ISO 8601); when `create` first saw it for an API that does not say. */
  createdAt: string;
  /** When the job last changed (ISO 8601); `createdAt` where the API does not say. */
  updatedAt: string;
  /** Restarts under `retryPolicy` so far, for a Train API job. */
  restarts?: number;
  /** The job's runs on its backend, oldest first, for a Train API job. */
  attempts?: AttemptOutput[];
}

/** Inputs whose change means a different job: the job is canceled and a new one submitted. */
export const REPLACE_PROPERTIES = ["backend", "name", "jobConfig", "storageMounts", "retryPolicy"] as const;
/** Inputs that only change how the job is watched or reached: updated in place, nothing resubmitted. */
export const UPDATE_PROPERTIES = [
  "waitFor",
  "waitTimeoutSeconds",
  "requestTimeoutSeconds",
  "apiUrl",
  "apiKey",
  "accountId",
  "googleIdToken",
  "resumeStopped",
] as const;

const WATCH_DEFAULTS: Record<(typeof UPDATE_PROPERTIES)[number], unknown> = {
  waitFor: "submitted",
  waitTimeoutSeconds: DEFAULT_WAIT_TIMEOUT_SECONDS,
  requestTimeoutSeconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
  apiUrl: undefined,
  apiKey: undefined,
  accountId: undefined,
  googleIdToken: undefined,
  resumeStopped: false,
};

/** One API setting: the input, the stack config key and the environment variable that can set it. */
interface Setting {
  readonly prop: "apiUrl" | "apiKey" | "accountId";
  readonly config: string;
  readonly env: string;
  readonly example: string;
  /** The value when nothing sets it: a vendor's public API. */
  readonly fallback?: string;
}

const SETTINGS: readonly [Setting, Setting, Setting] = [
  {
    prop: "apiUrl",
    config: "trainkit:apiUrl",
    env: "TRAINKIT_API_URL",
    example: "pulumi config set trainkit:apiUrl http://127.0.0.1:8080",
  },
  {
    prop: "apiKey",
    config: "trainkit:apiKey",
    env: "TRAINKIT_API_KEY",
    example: "pulumi config set --secret trainkit:apiKey <key>",
  },
  {
    prop: "accountId",
    config: "trainkit:accountId",
    env: "TRAINKIT_ACCOUNT_ID",
    example: "pulumi config set trainkit:accountId <account>",
  },
];

/** Each vendor's public API, as its documentation shows it. The custom training document names no host. */
const VENDOR_DEFAULT_URLS: Record<Vendor, string | undefined> = {
  baseten: BASETEN_DEFAULT_URL,
  tensorone: TENSORONE_DEFAULT_URL,
  customtraining: undefined,
  simplismart: SIMPLISMART_DEFAULT_URL,
};

/** How messages name each API. */
const API_NAMES: Record<Vendor, string> = {
  baseten: "Baseten",
  tensorone: "TensorOne",
  customtraining: "the custom training API",
  simplismart: "Simplismart",
};

/**
 * A vendor's URL and key have settings of their own (`trainkit:basetenApiKey`,
 * `TRAINKIT_BASETEN_API_KEY`): falling back to the Train API's would send that key to a third party.
 */
function vendorSettings(vendor: Vendor): readonly [Setting, Setting] {
  const env = `TRAINKIT_${vendor.toUpperCase()}`;
  return [
    {
      prop: "apiUrl",
      config: `trainkit:${vendor}ApiUrl`,
      env: `${env}_API_URL`,
      example: `pulumi config set trainkit:${vendor}ApiUrl <url>`,
      fallback: VENDOR_DEFAULT_URLS[vendor],
    },
    {
      prop: "apiKey",
      config: `trainkit:${vendor}ApiKey`,
      env: `${env}_API_KEY`,
      example: `pulumi config set --secret trainkit:${vendor}ApiKey <key>`,
    },
  ];
}

const ALL_SETTINGS: readonly Setting[] = [...SETTINGS, ...VENDORS.flatMap((v) => vendorSettings(v))];

function settingsOf(backend: unknown): readonly Setting[] {
  return isVendor(backend) ? vendorSettings(backend) : SETTINGS;
}

function apiName(backend: unknown): string {
  return isVendor(backend) ? API_NAMES[backend] : "the Train API";
}

const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5_000;
const CANCEL_WAIT_MS = 30_000;

const MOUNT_KEYS_TO_API: Record<string, string> = {
  sourceUri: "source_uri",
  mountPath: "mount_path",
  readOnly: "read_only",
};
const MOUNT_KEYS_FROM_API = Object.fromEntries(Object.entries(MOUNT_KEYS_TO_API).map(([k, v]) => [v, k]));

type Props = Record<string, unknown>;

/**
 * The `TrainingJob` dynamic provider. One instance lives in the provider host for the whole
 * deployment; `configure` runs once, before any other method.
 */
export class TrainingJobProvider implements pulumi.dynamic.ResourceProvider {
  /** Stack configuration values by key (`trainkit:apiUrl`, `trainkit:basetenApiKey`, ...). */
  private stack: Record<string, string> = {};

  /** Reads `trainkit:apiUrl`, `trainkit:apiKey`, `trainkit:accountId` and each vendor's URL and key from the stack's configuration. */
  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.stack = {};
    for (const s of ALL_SETTINGS) {
      let value: string | undefined;
      try {
        value = req.config.get(s.config);
      } catch {
        // A host that received no configuration at all cannot look keys up; that is no configuration.
        value = undefined;
      }
      if (typeof value === "string" && value !== "") this.stack[s.config] = value;
    }
  }

  async check(_olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs: Props = { ...news };

    const backend = news.backend;
    if (isVendor(backend)) {
      const spec = checkVendorSpec(backend, news);
      failures.push(...spec.failures);
      if (spec.normalized) Object.assign(inputs, spec.normalized);
    } else if (backend !== UNKNOWN && !BACKENDS.includes(backend as Backend)) {
      failures.push({
        property: "backend",
        reason:
          `for a vendor's training API use ${VENDORS.join(", ")}; for the Train API, ` +
          `must be one of ${BACKENDS.join(", ")}; got ${show(backend)}`,
      });
    } else if (backend !== UNKNOWN) {
      const spec = checkSpec(backend as Backend, news);
      failures.push(...spec.failures);
      if (spec.normalized) Object.assign(inputs, spec.normalized);
    }

    const waitFor = news.waitFor ?? "submitted";
    if (waitFor !== UNKNOWN && !WAIT_FOR.includes(waitFor as WaitFor)) {
      failures.push({
        property: "waitFor",
        reason: `must be one of ${WAIT_FOR.join(", ")}; got ${show(waitFor)}`,
      });
    }
    inputs.waitFor = waitFor;
    for (const [prop, fallback] of [
      ["waitTimeoutSeconds", DEFAULT_WAIT_TIMEOUT_SECONDS],
      ["requestTimeoutSeconds", DEFAULT_REQUEST_TIMEOUT_SECONDS],
    ] as const) {
      const value = news[prop] ?? fallback;
      if (value !== UNKNOWN && !(typeof value === "number" && Number.isFinite(value) && value > 0)) {
        failures.push({
          property: prop,
          reason: `must be a number of seconds greater than 0; got ${show(value)}`,
        });
      }
      inputs[prop] = value;
    }

    const googleIdToken = news.googleIdToken;
    if (googleIdToken !== undefined && googleIdToken !== UNKNOWN && typeof googleIdToken !== "boolean") {
      failures.push({
        property: "googleIdToken",
        reason: `must be true or false; got ${show(googleIdToken)}`,
      });
    }

    const resumeStopped = news.resumeStopped;
    if (resumeStopped !== undefined && resumeStopped !== UNKNOWN) {
      if (typeof resumeStopped !== "boolean") {
        failures.push({
          property: "resumeStopped",
          reason: `must be true or false; got ${show(resumeStopped)}`,
        });
      } else if (resumeStopped && backend !== "tensorone" && backend !== UNKNOWN) {
        failures.push({
          property: "resumeStopped",
          reason: `applies to TensorOne only, whose jobs can be resumed from a checkpoint; remove it for ${show(backend)}`,
        });
      }
    }

    const apiUrl = news.apiUrl;
    if (typeof apiUrl === "string" && apiUrl !== UNKNOWN) {
      const problem = urlProblem(apiUrl, isVendor(backend) ? backend : undefined);
      if (problem) failures.push({ property: "apiUrl", reason: problem });
    }
    for (const s of settingsOf(backend)) {
      const value = news[s.prop];
      if (value === UNKNOWN) continue;
      if (value !== undefined && (typeof value !== "string" || value === "")) {
        // The value itself is left out: for apiKey it is a secret.
        failures.push({ property: s.prop, reason: `must be a non-empty string; ${settingHint(s)}` });
      } else if (value === undefined && this.fromStackOrEnv(s) === undefined) {
        failures.push({ property: s.prop, reason: `is not set; ${settingHint(s)}` });
      }
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
    let replaces: string[] = REPLACE_PROPERTIES.filter(
      (prop) => specJson(olds, prop) !== specJson(news, prop),
    );
    if (replaces.length > 0) {
      // Inputs that differ as written may still mean the same job once defaults are filled in (state
      // written by an older provider, or a default spelt out): compare them as check leaves them.
      const oldSpec = normalizeSpec(olds);
      const newSpec = normalizeSpec(news);
      replaces = replaces.filter((prop) => canonicalJson(oldSpec[prop]) !== canonicalJson(newSpec[prop]));
    }
    const updates = UPDATE_PROPERTIES.filter(
      (prop) =>
        canonicalJson(olds[prop] ?? WATCH_DEFAULTS[prop]) !==
        canonicalJson(news[prop] ?? WATCH_DEFAULTS[prop]),
    );
    // A job last seen stopped that is to be resumed is an update even when no input changed.
    const resume = news.resumeStopped === true && olds.vendorStatus === TENSORONE_STOPPED;
    return {
      changes: replaces.length > 0 || updates.length > 0 || resume,
      replaces,
      // A replacement job would compete with the old one for the same GPUs and write to the same
      // output mounts; cancelling the old job first avoids both, at the cost of a short gap.
      deleteBeforeReplace: replaces.length > 0,
    };
  }

  async create(inputs: Props): Promise<pulumi.dynamic.CreateResult> {
    const props = inputs as unknown as TrainingJobInputs;
    const target = this.target(props);
    // A fresh key per create call, reused by every retry inside it. The key is not derived from the
    // inputs: a job is a run, not a declaration, so the same spec submitted again after a destroy,
    // a failed run or `pulumi up --replace` must start a new run, which a key derived from the spec
    // would prevent for as long as the server remembers it. The window a fresh key leaves open (the
    // provider dies after the API accepted the job but before the engine recorded its id) is one
    // the engine reports itself, as a pending create the user is asked to resolve. Vendor APIs take
    // no key; their clients mark the job's name with it and look the job up by that mark instead of
    // resubmitting blindly.
    const job =
      target.kind === "vendor"
        ? await target.client.submit({ name: props.name, jobConfig: props.jobConfig }, randomUUID())
        : await target.client.submit(
            {
              backend: props.backend as Backend,
              name: props.name,
              jobConfig: props.jobConfig,
              storageMounts: toApiMounts(props.storageMounts ?? []),
              ...(props.retryPolicy ? { retryPolicy: toApiRetryPolicy(props.retryPolicy) } : {}),
            },
            randomUUID(),
          );
    const outs = await this.watch(target.client, job, props, inputs, new Date().toISOString());
    return { id: job.id, outs };
  }

  async read(id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
    const state = props as unknown as TrainingJobOutputs;
    const job = await this.client(state)
      .get(id)
      .catch((err: unknown) => unconfirmed(err, id, props));
    // The job's status could not be read where the vendor does not document how: it stays as last seen.
    if (job === "unconfirmed") return { id, props };
    // An id the API no longer knows means the job is gone; an empty result drops it from the stack.
    if (!job) return {};
    return { id, props: outputsOf(state, job, state.createdAt) };
  }

  async update(id: string, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
    const props = news as unknown as TrainingJobInputs;
    const client = this.client(props);
    const read = await client.get(id).catch((err: unknown) => unconfirmed(err, id, olds));
    let job = read === "unconfirmed" ? lastSeen(id, olds) : read;
    if (job && props.resumeStopped === true && job.native_status === TENSORONE_STOPPED) {
      if (client instanceof TensorOneClient) job = await client.resume(id);
    }
    if (!job) {
      throw new Error(
        `job ${id} is no longer known to ${apiName(props.backend)} at ${this.setting(props, settingsOf(props.backend)[0]!)}; ` +
          "run `pulumi refresh` to drop it from the stack, then `pulumi up` to submit it again",
      );
    }
    // The state is rebuilt from the new inputs alone, so a key moved from the inputs to the stack
    // config leaves the state with it.
    const created = typeof olds.createdAt === "string" ? olds.createdAt : new Date().toISOString();
    const outs = await this.watch(client, job, props, news, created);
    return { outs };
  }

  async delete(id: string, props: Props): Promise<void> {
    const client = this.client(props as unknown as TrainingJobOutputs);
    const outcome = await client.cancel(id);
    if (outcome !== "canceled") return;
    // The API accepts a cancel before the job has stopped. Waiting (briefly) for the stop means a
    // replacement submitted right after finds the capacity the old job held.
    const deadline = Date.now() + CANCEL_WAIT_MS;
    let delay = POLL_FIRST_MS;
    while (Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 1.5, POLL_MAX_MS);
      const job = await client.get(id).catch(() => undefined);
      if (!job || isTerminal(job.status)) return;
    }
  }

  /**
   * Watches a submitted job as `waitFor` asks. Any failure from here on is raised as an
   * initialization error carrying the job id and state, so the engine keeps the job in the stack
   * (and `pulumi destroy` can cancel it) instead of forgetting a job that is running.
   */
  private async watch(
    client: Watchable,
    submitted: JobSnapshot,
    props: TrainingJobInputs,
    inputs: Props,
    seenAt: string,
  ): Promise<Props> {
    const waitFor = props.waitFor ?? "submitted";
    const timeoutSeconds = props.waitTimeoutSeconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS;
    let job = submitted;
    let problem: string | undefined;
    const output = outputOf(client);
    const progress =
      waitFor === "submitted"
        ? undefined
        : new WaitProgress(
            props.name,
            pulumiInfo(),
            WaitProgress.intervalFrom(process.env),
            output && (async (id) => (await output(id, 1)).at(-1)),
          );
    try {
      const waited = await waitForJob(client, job, waitFor, timeoutSeconds, apiName(props.backend), {
        progress,
        output,
      });
      job = waited.job;
      problem = waited.problem;
    } catch (err) {
      problem = `watching job ${job.id} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    const outs = outputsOf(props, job, seenAt);
    if (problem !== undefined) {
      throw new JobInitializationError(problem, job.id, { ...outs, __provider: inputs.__provider });
    }
    return outs;
  }

  private client(props: Partial<TrainingJobInputs>): Watchable {
    return this.target(props).client;
  }

  /** The client of the API `backend` names: the Train API, or the vendor's own. */
  private target(props: Partial<TrainingJobInputs>): Target {
    const policy = { timeoutMs: (props.requestTimeoutSeconds ?? DEFAULT_REQUEST_TIMEOUT_SECONDS) * 1000 };
    const backend = props.backend;
    if (isVendor(backend)) {
      const [url, key] = vendorSettings(backend);
      const settings = { url: this.setting(props, url), apiKey: this.setting(props, key) };
      const config = props.jobConfig ?? {};
      const client =
        backend === "baseten"
          ? new BasetenClient(settings, String(config.training_project_id), policy)
          : backend === "tensorone"
            ? new TensorOneClient(settings, policy)
            : backend === "customtraining"
              ? new CustomTrainingClient(settings, String(config.model_id), policy)
              : new SimplismartClient(settings, String(config.org), policy);
      return { kind: "vendor", client };
    }
    const url = this.setting(props, SETTINGS[0]);
    const settings: ApiSettings = {
      url,
      apiKey: this.setting(props, SETTINGS[1]),
      accountId: this.setting(props, SETTINGS[2]),
      googleIdToken: props.googleIdToken ?? isCloudRunUrl(url),
    };
    return { kind: "trainapi", client: new TrainApiClient(settings, policy) };
  }

  private setting(props: Partial<TrainingJobInputs>, s: Setting): string {
    const value = props[s.prop] ?? this.fromStackOrEnv(s);
    if (value === undefined) throw new Error(`TrainingJob ${s.prop} is not set; ${settingHint(s)}`);
    return value;
  }

  private fromStackOrEnv(s: Setting): string | undefined {
    return this.stack[s.config] ?? (process.env[s.env] || undefined) ?? s.fallback;
  }
}

/**
 * A read that could not tell whether the job still exists (an inferred endpoint answered 404): the
 * job is kept as last seen, with a warning, instead of being dropped from the stack.
 */
function unconfirmed(err: unknown, id: string, state: Props): "unconfirmed" {
  if (!(err instanceof UnconfirmedError)) throw err;
  warn(
    `job ${id} is kept in the stack as last seen (${String(state.status ?? "status unknown")}): ${err.message}. ` +
      "If the job is gone, remove it with `pulumi state delete <urn>`",
  );
  return "unconfirmed";
}

/** The job as the state last recorded it. */
function lastSeen(id: string, state: Props): JobSnapshot {
  return {
    id,
    name: String(state.name ?? ""),
    status: (state.status as JobStatus | undefined) ?? "PENDING",
    cloud_job_identifier: (state.cloudJobIdentifier as Record<string, string> | undefined) ?? null,
    created_at: typeof state.createdAt === "string" ? state.createdAt : undefined,
    updated_at: typeof state.updatedAt === "string" ? state.updatedAt : undefined,
    result: typeof state.failureReason === "string" ? { failure_reason: state.failureReason } : null,
  };
}

/** What watching and cancelling need of a client, whatever it submits. */
type Watchable = Pick<JobClient<unknown>, "get" | "cancel">;

/** The last lines of a job's stdout, where the client reads logs (the Train API's does). */
type Output = (jobId: string, lines: number) => Promise<string[]>;

function outputOf(client: Watchable): Output | undefined {
  if (!(client instanceof TrainApiClient)) return undefined;
  return async (jobId, lines) => (await client.logs(jobId, { tail: lines }))?.lines ?? [];
}

/** How many lines of a failed job's output its error shows. */
const FAILED_OUTPUT_LINES = 10;

type Target =
  | { kind: "trainapi"; client: JobClient<SubmitRequest> }
  | { kind: "vendor"; client: JobClient<VendorSubmitRequest> };

/**
 * A failure after the job exists. The dynamic provider host turns an error carrying `id` and
 * `properties` into the engine's ErrorResourceInitFailed, which keeps the resource in state.
 */
export class JobInitializationError extends Error {
  readonly reasons: string[];
  constructor(
    message: string,
    readonly id: string,
    readonly properties: Props,
  ) {
    super(message);
    this.name = "JobInitializationError";
    this.reasons = [message];
  }
}

async function waitForJob(
  client: Watchable,
  submitted: JobSnapshot,
  waitFor: WaitFor,
  timeoutSeconds: number,
  api: string,
  watchers: { progress?: WaitProgress; output?: Output } = {},
): Promise<{ job: JobSnapshot; problem?: string }> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let job = submitted;
  let delay = POLL_FIRST_MS;
  for (;;) {
    await watchers.progress?.seen(job);
    if (reached(waitFor, job.status)) break;
    const left = deadline - Date.now();
    if (left <= 0) {
      return {
        job,
        problem:
          `job ${job.id} (${job.name}) was still ${job.status} after ${timeoutSeconds} s of waiting for it to be ` +
          `${waitFor}; it keeps running and stays in the stack: raise waitTimeoutSeconds and run \`pulumi up\` ` +
          "to keep waiting, `pulumi refresh` to see its status, or `pulumi destroy` to cancel it",
      };
    }
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 1.5, POLL_MAX_MS);
    const next = await client.get(job.id);
    if (!next) return { job, problem: `job ${job.id} (${job.name}) disappeared from ${api} while waiting` };
    job = next;
  }
  if (waitFor !== "submitted" && isTerminal(job.status) && job.status !== "COMPLETED") {
    const reason = job.result?.failure_reason ? `: ${job.result.failure_reason}` : "";
    // The output is a help, not a requirement: a backend without logs leaves it out.
    const lines =
      job.status === "CANCELED" ? [] : await watchers.output?.(job.id, FAILED_OUTPUT_LINES).catch(() => []);
    const output = lines?.length
      ? `\nLast lines of its output:\n${lines.map((l) => `  ${l}`).join("\n")}`
      : "";
    return {
      job,
      problem:
        `job ${job.id} (${job.name}) ended ${job.status}${reason}; ` +
        `change the job to submit a new one, or run \`pulumi destroy\` to remove it${output}`,
    };
  }
  return { job };
}

function reached(waitFor: WaitFor, status: JobStatus): boolean {
  if (waitFor === "submitted") return true;
  if (waitFor === "running") return status !== "PENDING";
  return isTerminal(status);
}

/**
 * The resource's state: its inputs (less the provider's own key) and the job as last seen. APIs
 * that report no creation time get `seenAt` (when the provider first saw the job, kept from the
 * state afterwards); those that report no update time repeat the creation time.
 */
function outputsOf(props: Partial<TrainingJobInputs>, job: JobSnapshot, seenAt: string): Props {
  const outs: Props = {};
  for (const key of [...REPLACE_PROPERTIES, ...UPDATE_PROPERTIES]) {
    if (props[key] !== undefined) outs[key] = props[key];
  }
  outs.jobId = job.id;
  outs.status = job.status;
  if (job.cloud_job_identifier) outs.cloudJobIdentifier = job.cloud_job_identifier;
  if (job.result?.failure_reason) outs.failureReason = job.result.failure_reason;
  if (job.native_status) outs.vendorStatus = job.native_status;
  if (job.restarts !== undefined) outs.restarts = job.restarts;
  if (job.attempts !== undefined) outs.attempts = job.attempts.map(toAttemptOutput);
  outs.createdAt = job.created_at ?? seenAt;
  outs.updatedAt = job.updated_at ?? outs.createdAt;
  return outs;
}

/**
 * Validates name, jobConfig and storageMounts with the same schema the Train API uses, and returns
 * them with the schema's defaults filled in, so that what the user left out and what check filled
 * in compare equal later.
 */
function checkSpec(
  backend: Backend,
  news: Props,
): { failures: pulumi.dynamic.CheckFailure[]; normalized?: Props } {
  const request = toApiRequest(news);
  const parsed = CREATE_JOB_REQUESTS[backend].safeParse(request);
  if (parsed.success) {
    return {
      failures: [],
      normalized: {
        jobConfig: parsed.data.job_config,
        storageMounts: fromApiMounts(parsed.data.storage_mounts),
        // The engine's struct has no undefined: a job without a policy carries no key for it.
        ...(parsed.data.retry_policy ? { retryPolicy: fromApiRetryPolicy(parsed.data.retry_policy) } : {}),
      },
    };
  }
  return { failures: failuresOf(request, parsed.error.issues, undefined, toResourcePath) };
}

/** Check failures for zod's issues about `root`, each at the resource property `toProperty` names. */
function failuresOf(
  root: unknown,
  issues: readonly z.core.$ZodIssue[],
  prefix: string | undefined,
  toProperty: (path: string) => string,
): pulumi.dynamic.CheckFailure[] {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  for (const issue of issues) {
    // During preview a value may still be unknown; whatever it will be is checked at update time.
    if (containsUnknownAlong(root, issue.path)) continue;
    for (const detail of issuesToDetails(new z.ZodError([issue]), prefix)) {
      const apiPath = issue.code === "unrecognized_keys" ? null : issue.path;
      const value = apiPath ? valueAt(root, apiPath) : undefined;
      let reason = detail.message;
      if (issue.code === "invalid_type" && value === undefined) reason = `is required (${issue.expected})`;
      else if (issue.code === "invalid_type" && reason.startsWith("Invalid input")) {
        reason = `expected ${withArticle(issue.expected)}; got ${show(value)}`;
      } else if (isPrimitive(value) && value !== undefined && !reason.includes("; got ")) {
        reason = `${reason}; got ${show(value)}`;
      }
      failures.push({ property: toProperty(detail.path), reason });
    }
  }
  return failures;
}

/**
 * Validates a vendor job: `name` as every TrainingJob's, `jobConfig` with the vendor's schema once
 * `name` is written where the vendor reads it. Vendors take no storage mounts and no account id.
 */
function checkVendorSpec(
  vendor: Vendor,
  news: Props,
): { failures: pulumi.dynamic.CheckFailure[]; normalized?: Props } {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const name = news.name;
  if (name !== UNKNOWN) {
    const parsedName = VENDOR_NAMES[vendor].safeParse(name);
    if (!parsedName.success) {
      failures.push(
        ...failuresOf(
          { name },
          parsedName.error.issues.map((i) => ({ ...i, path: ["name", ...i.path] })),
          undefined,
          (p) => p,
        ),
      );
    }
  }
  const mounts = news.storageMounts;
  if (Array.isArray(mounts) && mounts.length > 0) {
    failures.push({
      property: "storageMounts",
      reason: `${API_NAMES[vendor]} takes no storage mounts; name the data in jobConfig instead`,
    });
  }
  if (news.retryPolicy !== undefined) {
    failures.push({
      property: "retryPolicy",
      reason: `applies to the Train API only; remove it (${API_NAMES[vendor]} restarts jobs by its own rules)`,
    });
  }
  if (news.accountId !== undefined) {
    failures.push({
      property: "accountId",
      reason: `applies to the Train API only; remove it (${API_NAMES[vendor]} knows the account from apiKey)`,
    });
  }
  const jobConfig = news.jobConfig;
  if (jobConfig === UNKNOWN) return { failures };
  if (!jobConfig || typeof jobConfig !== "object" || Array.isArray(jobConfig)) {
    failures.push({ property: "jobConfig", reason: `must be ${API_NAMES[vendor]}'s job body as an object` });
    return { failures };
  }
  const namePath = VENDOR_NAME_PATH[vendor];
  const written = valueAt(jobConfig, namePath);
  // Simplismart's JSON-text fields are read as the values they hold, so that a mistake inside one is
  // reported with the value found there.
  const decoded =
    vendor === "simplismart" ? decodeSimplismartJsonFields(jobConfig as Props) : (jobConfig as Props);
  const filled = typeof name === "string" ? withName(decoded, namePath, name) : decoded;
  if (written !== undefined && written !== name && written !== UNKNOWN && name !== UNKNOWN) {
    failures.push({
      property: `jobConfig.${namePath.join(".")}`,
      reason: `must equal name (${show(name)}) or be left out, as name is written there; got ${show(written)}`,
    });
  }
  const parsed = vendorJobConfigSchema(vendor, filled).safeParse(filled);
  if (!parsed.success) {
    failures.push(...failuresOf(filled, parsed.error.issues, "jobConfig", (p) => p));
    return { failures };
  }
  return { failures, normalized: { jobConfig: parsed.data } };
}

function specJson(props: Props, prop: (typeof REPLACE_PROPERTIES)[number]): string {
  return canonicalJson(props[prop] ?? (prop === "storageMounts" ? [] : undefined));
}

/** The spec part of a resource's inputs or state, normalized the way `check` does it, for comparison. */
function normalizeSpec(props: Props): Props {
  const out: Props = {
    backend: props.backend,
    name: props.name,
    jobConfig: props.jobConfig,
    storageMounts: props.storageMounts ?? [],
    ...(props.retryPolicy !== undefined ? { retryPolicy: props.retryPolicy } : {}),
  };
  if (isVendor(props.backend)) {
    const spec = checkVendorSpec(props.backend, { ...props, storageMounts: undefined, accountId: undefined });
    return spec.normalized ? { ...out, ...spec.normalized } : out;
  }
  if (!BACKENDS.includes(props.backend as Backend)) return out;
  const parsed = CREATE_JOB_REQUESTS[props.backend as Backend].safeParse(toApiRequest(props));
  if (!parsed.success) return out;
  return {
    ...out,
    jobConfig: parsed.data.job_config,
    storageMounts: fromApiMounts(parsed.data.storage_mounts),
    ...(parsed.data.retry_policy ? { retryPolicy: fromApiRetryPolicy(parsed.data.retry_policy) } : {}),
  };
}

function toApiRequest(props: Props): Props {
  const mounts = props.storageMounts;
  return {
    name: props.name,
    job_config: props.jobConfig,
    storage_mounts: Array.isArray(mounts) ? toApiMounts(mounts) : mounts,
    ...(props.retryPolicy === undefined ? {} : { retry_policy: toApiRetryPolicy(props.retryPolicy) }),
  };
}

const RETRY_KEYS_TO_API: Record<string, string> = {
  maxRestarts: "max_restarts",
  on: "on",
  backoffSeconds: "backoff_seconds",
  maxBackoffSeconds: "max_backoff_seconds",
};
const RETRY_KEYS_FROM_API = Object.fromEntries(Object.entries(RETRY_KEYS_TO_API).map(([k, v]) => [v, k]));

function toApiRetryPolicy(policy: unknown): RetryPolicyInput {
  return renameKeys(policy, RETRY_KEYS_TO_API) as RetryPolicyInput;
}

function fromApiRetryPolicy(policy: RetryPolicy | undefined): RetryPolicyProps | undefined {
  return policy === undefined ? undefined : (renameKeys(policy, RETRY_KEYS_FROM_API) as RetryPolicyProps);
}

function toAttemptOutput(a: JobAttempt): AttemptOutput {
  return {
    attempt: a.attempt,
    ...(a.cloud_job_identifier ? { cloudJobIdentifier: a.cloud_job_identifier } : {}),
    ...(a.started_at ? { startedAt: a.started_at } : {}),
    ...(a.ended_at ? { endedAt: a.ended_at } : {}),
    ...(a.end ? { end: a.end } : {}),
  };
}

function toApiMounts(mounts: readonly unknown[]): StorageMount[] {
  return mounts.map((m) => renameKeys(m, MOUNT_KEYS_TO_API)) as StorageMount[];
}

function fromApiMounts(mounts: readonly StorageMount[]): StorageMountProps[] {
  return mounts.map((m) => renameKeys(m, MOUNT_KEYS_FROM_API)) as unknown as StorageMountProps[];
}

function renameKeys(value: unknown, names: Record<string, string>): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [names[k] ?? k, v]));
}

/** `job_config.x` → `jobConfig.x`, `storage_mounts[0].source_uri` → `storageMounts[0].sourceUri`. */
function toResourcePath(apiPath: string): string {
  if (apiPath.startsWith("job_config")) return `jobConfig${apiPath.slice("job_config".length)}`;
  const retry = /^retry_policy(?:\.(\w+))?(.*)$/.exec(apiPath);
  if (retry)
    return `retryPolicy${retry[1] ? `.${RETRY_KEYS_FROM_API[retry[1]] ?? retry[1]}` : ""}${retry[2] ?? ""}`;
  const mount = /^storage_mounts(\[\d+\])?(?:\.(\w+))?(.*)$/.exec(apiPath);
  if (mount) {
    const field = mount[2] ? `.${MOUNT_KEYS_FROM_API[mount[2]] ?? mount[2]}` : "";
    return `storageMounts${mount[1] ?? ""}${field}${mount[3] ?? ""}`;
  }
  return apiPath;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function containsUnknownAlong(root: unknown, path: readonly PropertyKey[]): boolean {
  let current = root;
  for (const key of path) {
    if (current === UNKNOWN) return true;
    if (current === null || typeof current !== "object") return false;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return containsUnknown(current);
}

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (value === null || typeof value !== "object") return false;
  return Object.values(value).some(containsUnknown);
}

function withArticle(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function isPrimitive(value: unknown): value is string | number | boolean | null | undefined {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

/** Why `text` cannot be the API's base URL, without repeating any password it holds; undefined when it can. */
function urlProblem(text: string, vendor?: Vendor): string | undefined {
  const example = (vendor && VENDOR_DEFAULT_URLS[vendor]) ?? "http://127.0.0.1:8080";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an http:// or https:// URL such as ${example}; got ${show(text)}`;
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `must be an http:// or https:// URL such as ${example}; got ${show(shown)}`;
  }
  if (url.username !== "" || url.password !== "") {
    const config = vendor ? `trainkit:${vendor}ApiKey` : "trainkit:apiKey";
    return `must not carry credentials (user:password@); pass the key as apiKey or ${config} instead`;
  }
  return undefined;
}

function settingHint(s: Setting): string {
  return `pass ${s.prop} to the TrainingJob, run \`${s.example}\`, or set ${s.env}`;
}

/** JSON with object keys sorted, so that key order never counts as a change. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "undefined";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Props)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Props)[k])]),
    );
  }
  return value;
}
