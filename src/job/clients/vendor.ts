import { setTimeout as sleep } from "node:timers/promises";
import { isTerminal, type JobStatus, MARK_LENGTH } from "../../spec";
import { type Answer, describeBody, HttpClient, type RetryPolicy } from "./http";
import {
  type CancelOutcome,
  JobApiError,
  type JobClient,
  type JobSnapshot,
  UnconfirmedError,
  type VendorSettings,
  type VendorSubmitRequest,
} from "./types";

/** The calls a vendor client makes besides the create, which every vendor documents. */
export type Operation = "list" | "get" | "stop";

/**
 * The name a submission gives its job on the vendor: the TrainingJob's name and this submission's
 * mark, `-` and 8 hex digits of the submission's random key. Vendors take no idempotency key and
 * echo back nothing of a submission but its name, so the name carries the mark that tells the job
 * this submission made from any other, of this stack or another.
 */
export function markedName(name: string, submissionKey: string): string {
  return `${name}-${submissionKey.replace(/[^0-9a-f]/gi, "").slice(0, MARK_LENGTH - 1)}`;
}

/** Answers from an inferred endpoint that may mean "no such endpoint" as much as "no such job". */
const INCONCLUSIVE = new Set([404, 405, 501]);

/**
 * What every vendor client shares: submitting once (finding the job by its mark when an answer is
 * lost), reading and stopping a job, and saying which of those calls the vendor documents. A call
 * the vendor does not document is one trainkit infers from the vendor's API style; its answers are
 * believed when they show the job, never when they only fail to.
 */
export abstract class VendorClient implements JobClient<VendorSubmitRequest> {
  /** The vendor's API at `settings.url`, sending the vendor's Authorization header on every call. */
  protected readonly http: HttpClient;

  constructor(
    /** The vendor's name in messages: "Baseten", "the custom training API". */
    protected readonly vendor: string,
    settings: VendorSettings,
    authorization: string,
    policy: Partial<RetryPolicy>,
    /** The calls the vendor's documentation describes; the others are inferred. */
    private readonly documented: ReadonlySet<Operation>,
  ) {
    const what = vendor.endsWith(" API") ? `${vendor} URL` : `the ${vendor} API URL`;
    this.http = new HttpClient(settings.url, what, { authorization }, policy);
  }

  /** Sends the create once, with the vendor's name field set to `name`, and reads the job from the answer. */
  protected abstract create(request: VendorSubmitRequest, name: string): Promise<JobSnapshot>;
  /** The jobs the vendor lists under `name`, submitted at `since` (ms) or later. */
  protected abstract list(name: string, since: number): Promise<Listed>;
  /** The path that reads one job, and how to read its answer. */
  protected abstract getRequest(jobId: string): {
    /** The job's path under the vendor's base URL. */
    path: string;
    /** The job in a 2xx answer's body, or undefined when the body is not one. */
    parse: (body: unknown) => JobSnapshot | undefined;
  };
  /** The request that stops the job. */
  protected abstract stopRequest(jobId: string): {
    /** The stop call's path under the vendor's base URL. */
    path: string;
    /** The JSON body to send; undefined sends none. */
    json?: unknown;
  };
  /** Where a user finds a job on the vendor's side, to check on it or stop it by hand. */
  protected abstract whereToFind(job: string): string;

  /**
   * Submits one job, creating it at most once. The create is sent once (again only when it surely
   * had no effect: 429, or a refused connection); when its answer is lost, the job is looked up by
   * its marked name. Found: it is this submission's job. Not in a list the vendor documents (read
   * twice, a moment apart, in case the list lags the create): nothing was created, and the create is
   * sent again. Anything else, an inferred list included, cannot rule the job out, so the
   * submission fails saying what to check instead of guessing.
   */
  async submit(request: VendorSubmitRequest, submissionKey: string): Promise<JobSnapshot> {
    const name = markedName(request.name, submissionKey);
    const since = Date.now();
    return this.http.createOnce(
      () => this.create(request, name),
      async () => {
        const seen = await this.lookUp(name, since);
        if ("job" in seen) return seen.job;
        if ("absent" in seen) return undefined;
        throw this.outcomeUnknown(name, seen.unsettled);
      },
    );
  }

  async get(jobId: string): Promise<JobSnapshot | undefined> {
    const { path, parse } = this.getRequest(jobId);
    const answer = await this.http.request("GET", path);
    if (answer.status === 404 && this.documented.has("get")) return undefined;
    if (INCONCLUSIVE.has(answer.status) && !this.documented.has("get")) {
      throw new UnconfirmedError(
        `${this.inferred("GET", path)} answered ${answer.status} ${describeBody(answer.body)}, which does not show ` +
          `whether job ${jobId} still exists`,
      );
    }
    if (answer.status < 200 || answer.status > 299) throw this.failure("GET", path, answer);
    const job = parse(answer.body);
    if (job) return job;
    throw new JobApiError(
      `${this.http.where("GET", path)} answered with something that is not a ${this.vendor} job: ${describeBody(answer.body)}`,
      answer.status,
      "bad_response",
    );
  }

  /**
   * Vendors answer a stop of a finished job in their own ways, so the job is read first: a job
   * already ended is reported as such without a stop being sent. Where the read or the stop is
   * inferred and answers inconclusively, the job may still be running: that is an error naming where
   * to stop it, never a quiet success that would drop a running job from the stack.
   */
  async cancel(jobId: string): Promise<CancelOutcome> {
    let job: JobSnapshot | undefined;
    let unread: string | undefined;
    try {
      job = await this.get(jobId);
      if (!job) return "not-found";
      if (isTerminal(job.status)) return "already-terminal";
    } catch (err) {
      if (!(err instanceof UnconfirmedError)) throw err;
      unread = err.message;
    }
    const { path, json } = this.stopRequest(jobId);
    const answer = await this.http.request("POST", path, json === undefined ? {} : { json });
    if (answer.status >= 200 && answer.status <= 299) return "canceled";
    if (answer.status === 409) return "already-terminal";
    if (answer.status === 404 && this.documented.has("stop")) return "not-found";
    if (INCONCLUSIVE.has(answer.status) && !this.documented.has("stop")) {
      const why = [
        unread,
        `${this.inferred("POST", path)} answered ${answer.status} ${describeBody(answer.body)}`,
      ].filter(Boolean);
      throw new JobApiError(
        `job ${jobId} may still be running: ${why.join("; ")}. Stop it ${this.whereToFind(jobId)}, then ` +
          "remove the TrainingJob from the stack with `pulumi state delete <urn>` (`pulumi stack --show-urns` lists it)",
        answer.status,
        "not_stopped",
      );
    }
    throw this.failure("POST", path, answer);
  }

  /**
   * Looks for the job by its marked name. A list the vendor documents that lacks it is read once
   * more after a pause, so that a list lagging the create does not make the job look absent; an
   * inferred list that lacks it settles nothing.
   */
  private async lookUp(name: string, since: number): Promise<Seen> {
    for (let look = 0; look < 2; look++) {
      if (look > 0) await sleep(this.http.policy.baseDelayMs * 4);
      let listed: Listed;
      try {
        listed = await this.list(name, since);
      } catch (err) {
        return { unsettled: `looking it up failed: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (listed.jobs.length > 1) {
        const ids = listed.jobs.map((j) => j.id).join(", ");
        return { unsettled: `${this.vendor} lists ${listed.jobs.length} jobs of that name (${ids})` };
      }
      if (listed.jobs[0]) return { job: listed.jobs[0] };
      if (listed.unsettled) return { unsettled: listed.unsettled };
      if (!this.documented.has("list")) {
        return { unsettled: `${listed.asked} shows no job of that name, which does not prove there is none` };
      }
    }
    return { absent: true };
  }

  /** The error of a create whose outcome cannot be known: what happened, and what to check before trying again. */
  private outcomeUnknown(name: string, why: string): JobApiError {
    return new JobApiError(
      `${this.vendor} may or may not have created job "${name}": the answer to its submission was lost, and ${why}. ` +
        `Nothing was submitted again. Check ${this.whereToFind(`"${name}"`)}: if the job is there, stop it there ` +
        "(or let it run, outside this stack), then run `pulumi up` again to submit a new one",
      undefined,
      "outcome_unknown",
    );
  }

  /** `METHOD url` of an inferred call, said to be one. */
  protected inferred(method: string, path: string): string {
    return `${this.http.where(method, path)}, which ${this.vendor}'s documentation does not describe (trainkit infers it),`;
  }

  /** A failure naming the request, the vendor's status, code and message, and what to do; never the key. */
  protected failure(method: string, path: string, answer: Answer): JobApiError {
    const hint = this.hint(answer);
    return new JobApiError(
      `${this.http.where(method, path)} answered ${answer.status} ${this.describe(answer.body)}${hint ? `; ${hint}` : ""}`,
      answer.status,
      errorCode(answer.body) ?? "http_error",
    );
  }

  /** What an error body says. */
  protected describe(body: unknown): string {
    return describeBody(body);
  }

  /** What the user can do about a refused request, when the vendor's answer tells. */
  protected hint(_answer: Answer): string | undefined {
    return undefined;
  }

  /** The body of a 2xx answer as `parse` reads it, or a clear error naming what was wrong. */
  protected parsed<T>(
    method: string,
    path: string,
    answer: Answer,
    parse: (body: unknown) => { success: true; data: T } | { success: false; error: { message: string } },
  ): T {
    if (answer.status < 200 || answer.status > 299) throw this.failure(method, path, answer);
    const result = parse(answer.body);
    if (result.success) return result.data;
    throw new JobApiError(
      `${this.http.where(method, path)} answered with something that is not what ${this.vendor} lists or returns for a job: ${describeBody(answer.body)}`,
      answer.status,
      "bad_response",
    );
  }

  /**
   * One list call: the jobs of the name it shows or, from an inferred list, an inconclusive answer
   * (404, 405, 501), which is no error but settles nothing.
   */
  protected async listed<T>(
    path: string,
    parse: (body: unknown) => { success: true; data: T } | { success: false; error: { message: string } },
    pick: (data: T) => JobSnapshot[],
  ): Promise<Listed> {
    const answer = await this.http.request("GET", path);
    const asked = this.documented.has("list") ? this.http.where("GET", path) : this.inferred("GET", path);
    if (INCONCLUSIVE.has(answer.status) && !this.documented.has("list")) {
      return {
        jobs: [],
        asked,
        unsettled: `${asked} answered ${answer.status} ${describeBody(answer.body)}`,
      };
    }
    return { jobs: pick(this.parsed("GET", path, answer, parse)), asked };
  }
}

/** What one look-up found: this submission's job, its certain absence, or why neither is known. */
type Seen = { job: JobSnapshot } | { absent: true } | { unsettled: string };

/** The jobs of one name a list shows. */
export interface Listed {
  readonly jobs: JobSnapshot[];
  /** The call, for messages. */
  readonly asked: string;
  /** Set when the list could not be read far enough to rule the job out: why. */
  readonly unsettled?: string;
}

/**
 * Maps a vendor's status with `table`. A status the table does not know is taken for a job still
 * running: the watch then goes on until it ends or times out, rather than failing a deployment on a
 * status the vendor added later.
 */
export function mapStatus(table: Record<string, JobStatus>, status: string): JobStatus {
  return table[status] ?? table[status.toLowerCase()] ?? "IN_PROGRESS";
}

/**
 * The job body with `name` written at `path`, where the vendor reads the job's name, when the body
 * leaves it out. Only objects already there are written into: a missing or mistyped parent is left
 * as it is, for the schema to report at its own path.
 */
export function withName(
  jobConfig: Record<string, unknown>,
  path: readonly string[],
  name: string,
): Record<string, unknown> {
  return writeAt(jobConfig, path, (current) => current ?? name);
}

/** The job body with `value` at `path`, whatever was there; parents are made as needed. */
export function setAt(
  jobConfig: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  return writeAt(jobConfig, path, () => value, true);
}

function writeAt(
  value: Record<string, unknown>,
  path: readonly string[],
  write: (current: unknown) => unknown,
  makeParents = false,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (rest.length === 0) return { ...value, [head]: write(value[head]) };
  const inner = value[head];
  const isObject = inner !== null && typeof inner === "object" && !Array.isArray(inner);
  if (!isObject && !makeParents) return value;
  const child = isObject ? (inner as Record<string, unknown>) : {};
  return { ...value, [head]: writeAt(child, rest, write, makeParents) };
}

/** Everything but `keys`: the job body without its path parameters. */
export function without(value: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !keys.includes(k)));
}

/**
 * A warning for the user. The engine shows every line a provider writes to stderr in the output of
 * `pulumi up`, `refresh` and `destroy`.
 */
export function warn(message: string): void {
  process.stderr.write(`warning: TrainingJob: ${message.replace(/\s*\n\s*/g, " ")}\n`);
}

function errorCode(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  const error = (body as Record<string, unknown>).error;
  if (typeof error === "string") return error;
  if (error && typeof error === "object" && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return undefined;
}
