import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import {
  BACKENDS,
  type Backend as BackendName,
  CREATE_JOB_REQUESTS,
  describeDetails,
  issuesToDetails,
  isTerminal,
  type JobList,
  type JobLogs,
  JobLogsQuery,
  ListJobsQuery,
} from "../spec";
import type { BackendRegistry } from "./backends";
import { type Backend, BackendError } from "./backends/types";
import type { ApiKeyring } from "./config";
import { ApiError, errorBody, installErrorHandlers } from "./errors";
import { requestHash, toApiJob, toBackendJob } from "./jobs";
import { LogFollowers, ReadBudget } from "./log-follow";
import { openApiDocument } from "./openapi";
import type { Reconciler } from "./reconciler";
import { type JobRecord, type Store, StoreUnavailableError } from "./store/types";

declare module "fastify" {
  interface FastifyRequest {
    accountId: string;
  }
  interface FastifyContextConfig {
    /** Routes anyone may call, without an API key. */
    public?: boolean;
  }
}

export interface AppDependencies {
  store: Store;
  backends: BackendRegistry;
  reconciler: Reconciler;
  apiKeys: ApiKeyring;
  bodyLimitBytes: number;
  /**
   * Logging to stdout: `true` logs every request, `"warn"` only warnings and errors (a store outage,
   * a failed request), `false` nothing. Defaults to false.
   */
  log?: boolean | "warn";
  /** Time a request's headers have to arrive, before anything is known of its sender. Defaults to 10 s. */
  headersTimeoutMs?: number;
  /** Time a whole request, body included, has to arrive once it is authenticated. Defaults to 30 s. */
  requestTimeoutMs?: number;
  /** Age of the reconciler's last completed pass past which `/readyz` answers 503. Defaults to 30 s. */
  readyMaxPassAgeMs?: number;
  /** How long `/readyz` waits for the store to answer. Defaults to 2 s. */
  readyStoreTimeoutMs?: number;
  /** Time between two reads of a followed job's log, shared by all its followers. Defaults to 2000. */
  followIntervalMs?: number;
  /** Longest a follower waits for a job's log to appear (the stream sends comments meanwhile). Defaults to 30 min. */
  followMaxWaitMs?: number;
  /**
   * Reads of a backend's logging API that followers may make per rolling minute, all jobs together
   * (`{ "vertex-ai": 30 }`). Backends not named are read every interval. Defaults to none.
   */
  followReadsPerMinute?: Partial<Record<BackendName, number>>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function encodeCursor(job: JobRecord): string {
  return Buffer.from(JSON.stringify([job.createdAt.toISOString(), job.id])).toString("base64url");
}

/**
 * The position a cursor holds. Its date must be one a job could have been created at: JavaScript
 * reads dates up to the year 275760 and before year 0, which Postgres refuses with a 500.
 */
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [unknown, unknown];
    const createdAt = new Date(typeof at === "string" ? at : Number.NaN);
    const year = createdAt.getUTCFullYear();
    if (typeof id === "string" && UUID.test(id) && year >= 1970 && year <= 9999) return { createdAt, id };
  } catch {
    // Not base64url JSON: answered below like any other cursor this server did not issue.
  }
  throw new ApiError(
    400,
    "invalid_request",
    "cursor is not one this server issued; pass next_cursor from the previous page unchanged",
    [{ path: "cursor", message: "must be the next_cursor of a previous response" }],
  );
}

/** Builds the Train API as a Fastify app; `listen` is the caller's business. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const { store, backends, reconciler, apiKeys } = deps;
  const headersTimeoutMs = deps.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(deps.requestTimeoutMs ?? 30_000, headersTimeoutMs);
  const app = Fastify({
    logger: deps.log
      ? {
          level: deps.log === true ? "info" : "warn",
          redact: ["req.headers['x-api-key']", "req.headers.authorization"],
        }
      : false,
    bodyLimit: deps.bodyLimitBytes,
    // Node ends a request whose headers (before authentication) or whole body did not arrive in
    // time with 408 and closes the connection; it checks every second rather than every 30 s.
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
  });
  // Routes carry no Fastify schemas: every body and query is validated with the zod schemas of
  // src/spec, so errors read the same here as in the TrainingJob resource's check.

  // JSON only (Fastify also reads text/plain by default); a POST without a body but with a JSON
  // content type (the cancel endpoint) is not an error.
  const defaultJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === "") return done(null, undefined);
    return defaultJson(request, text, done);
  });

  installErrorHandlers(app, deps.bodyLimitBytes);

  const followers = new LogFollowers(
    store,
    backends,
    deps.followIntervalMs ?? 2000,
    deps.followMaxWaitMs ?? 30 * 60_000,
    Date.now,
    new ReadBudget(deps.followReadsPerMinute ?? {}),
  );
  const openStreams = new Set<() => void>();
  // Event streams never end by themselves while their job runs: closing the server ends them.
  app.addHook("preClose", async () => {
    followers.close();
    for (const end of [...openStreams]) end();
  });

  app.decorateRequest("accountId", "");
  app.addHook("onRequest", async (request, reply) => {
    if (request.routeOptions.config.public || request.routeOptions.url === undefined) return;
    // A request refused here is answered before its body is read, and its connection is closed
    // so an unauthenticated sender cannot keep it open by trickling the body in.
    reply.header("connection", "close");
    const key = header(request, "x-api-key");
    if (!key) {
      throw new ApiError(
        401,
        "unauthenticated",
        "x-api-key header is missing; send your API key in x-api-key",
      );
    }
    const accounts = apiKeys.accountsFor(key);
    if (!accounts) throw new ApiError(401, "unauthenticated", "x-api-key is not a valid API key");
    const account = header(request, "x-selected-account-id");
    if (!account) {
      throw new ApiError(
        400,
        "missing_account",
        "x-selected-account-id header is missing; send the id of the account to act for",
        [{ path: "headers.x-selected-account-id", message: "is required" }],
      );
    }
    if (!accounts.has(account)) {
      throw new ApiError(403, "forbidden", `this API key may not act for account ${JSON.stringify(account)}`);
    }
    request.accountId = account;
    reply.removeHeader("connection");
  });

  // Liveness: the process answers. It never reads the store, so a database outage does not get a
  // healthy replica restarted.
  app.get("/healthz", { config: { public: true } }, async () => ({ status: "ok" }));
  app.get("/livez", { config: { public: true } }, async () => ({ status: "ok" }));

  // Readiness: the store answers and the reconciler completed a pass recently. One store check at
  // a time: probes arriving while it runs share its answer, so a silent database is not sent a
  // new query per probe.
  const readyMaxPassAgeMs = deps.readyMaxPassAgeMs ?? 30_000;
  const readyStoreTimeoutMs = deps.readyStoreTimeoutMs ?? 2_000;
  let storeCheck: Promise<string | undefined> | undefined;
  const checkStore = (): Promise<string | undefined> => {
    storeCheck ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          store.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${readyStoreTimeoutMs} ms`)),
              readyStoreTimeoutMs,
            );
          }),
        ]);
        return undefined;
      } catch (err) {
        return err instanceof StoreUnavailableError ? err.reason : (err as Error).message;
      } finally {
        clearTimeout(timer);
      }
    })().finally(() => {
      storeCheck = undefined;
    });
    return storeCheck;
  };
  app.get("/readyz", { config: { public: true } }, async (request, reply) => {
    const storeProblem = await checkStore();
    const health = reconciler.health();
    const age = health.lastPassAt ? Date.now() - health.lastPassAt.getTime() : undefined;
    const reasons: string[] = [];
    if (storeProblem) reasons.push(`the job store (${store.kind}) is unreachable: ${storeProblem}`);
    if (age === undefined) reasons.push("the reconciler has not completed a pass yet");
    else if (age > readyMaxPassAgeMs) {
      reasons.push(
        `the reconciler's last completed pass is ${Math.round(age / 1000)} s old (more than ${readyMaxPassAgeMs / 1000} s)${health.lastPassError ? `; its last pass failed: ${health.lastPassError}` : ""}`,
      );
    }
    const body = {
      status: reasons.length === 0 ? "ready" : "unready",
      ...(reasons.length > 0 ? { reasons } : {}),
      store: { kind: store.kind, reachable: storeProblem === undefined },
      reconciler: {
        last_pass_at: health.lastPassAt?.toISOString() ?? null,
        last_pass_age_ms: age ?? null,
        calls_in_flight: health.inFlight,
      },
    };
    if (reasons.length > 0) request.log.warn({ reasons }, "not ready");
    return reply.code(reasons.length === 0 ? 200 : 503).send(body);
  });

  let openapi: Record<string, unknown> | undefined;
  app.get("/openapi.json", { config: { public: true } }, async () => {
    openapi ??= openApiDocument();
    return openapi;
  });

  const findJob = async (request: FastifyRequest<{ Params: { id: string } }>): Promise<JobRecord> => {
    const { id } = request.params;
    const job = UUID.test(id) ? await store.getJob(request.accountId, id.toLowerCase()) : null;
    // Another account's job is answered exactly like a job that does not exist.
    if (!job) throw new ApiError(404, "job_not_found", `job ${id} does not exist`);
    return job;
  };

  // The backend a request needs, or the 503 that says why this server cannot use it (the same answer for a
  // new job and for an existing job's logs once the backend was turned off or lost its settings).
  const runningBackend = (backend: BackendName): Backend => {
    const slot = backends[backend];
    if ("disabled" in slot) {
      throw new ApiError(
        503,
        "backend_not_enabled",
        `this server does not run the ${backend} backend; it runs ${slot.disabled.enabled.join(", ")} (set by TRAINKIT_BACKENDS)`,
      );
    }
    if ("missing" in slot) {
      throw new ApiError(
        503,
        "backend_not_configured",
        `the ${backend} backend is not configured on this server; set ${slot.missing.join(", ")} and restart it`,
      );
    }
    return slot.backend as Backend;
  };

  app.post<{ Params: { backend: string } }>("/v1/:backend/jobs", async (request, reply) => {
    const name = request.params.backend;
    if (!(BACKENDS as readonly string[]).includes(name)) {
      throw new ApiError(
        404,
        "unknown_backend",
        `backend ${JSON.stringify(name)} does not exist; use one of ${BACKENDS.join(", ")}`,
      );
    }
    const backend = name as BackendName;
    const idempotencyKey = header(request, "idempotency-key");
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ApiError(
        400,
        "invalid_request",
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
        [{ path: "headers.idempotency-key", message: "must be 1 to 255 visible ASCII characters" }],
      );
    }
    const parsed = CREATE_JOB_REQUESTS[backend].safeParse(request.body);
    if (!parsed.success) {
      const details = issuesToDetails(parsed.error);
      throw new ApiError(
        400,
        "invalid_request",
        `the ${backend} job request is invalid: ${describeDetails(details)}`,
        details,
      );
    }
    runningBackend(backend);

    const { job, created } = await store.insertJob({
      id: randomUUID(),
      accountId: request.accountId,
      backend,
      name: parsed.data.name,
      request: parsed.data,
      requestHash: requestHash(backend, parsed.data),
      idempotencyKey: idempotencyKey ?? null,
      createdAt: new Date(),
    });
    if (!created) {
      if (job.requestHash !== requestHash(backend, parsed.data)) {
        throw new ApiError(
          422,
          "idempotency_key_conflict",
          `Idempotency-Key ${JSON.stringify(idempotencyKey)} was already used for job ${job.id} with a different request; use a new key for a different job`,
        );
      }
      return reply.code(200).header("idempotent-replayed", "true").send(toApiJob(job));
    }

    let current = job;
    if (await reconciler.maySubmitNow(job)) {
      try {
        current = await reconciler.submit(job);
      } catch (err) {
        if (err instanceof BackendError) {
          throw new ApiError(
            err.status,
            err.code,
            `job ${job.id} failed to submit to ${backend}: ${err.message}`,
          );
        }
        throw err;
      }
    }
    return reply.code(201).send(toApiJob(current));
  });

  app.get<{ Querystring: Record<string, unknown> }>("/v1/jobs", async (request): Promise<JobList> => {
    const parsed = ListJobsQuery.safeParse(request.query);
    if (!parsed.success) {
      const details = issuesToDetails(parsed.error);
      throw new ApiError(
        400,
        "invalid_request",
        `the query is invalid: ${describeDetails(details)}`,
        details,
      );
    }
    const { status, limit, cursor } = parsed.data;
    const rows = await store.listJobs(request.accountId, {
      limit: limit + 1,
      ...(status ? { status } : {}),
      ...(cursor ? { after: decodeCursor(cursor) } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toApiJob),
      next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  });

  app.get<{ Params: { id: string } }>("/v1/jobs/:id", async (request) => toApiJob(await findJob(request)));

  app.post<{ Params: { id: string } }>("/v1/jobs/:id/cancel", async (request) => {
    const job = await findJob(request);
    const terminal = () =>
      new ApiError(409, "job_terminal", `job ${job.id} is already ${job.status} and cannot be canceled`);
    if (isTerminal(job.status)) throw terminal();
    const canceled = await store.cancelUnsubmitted(job.id);
    if (canceled) return toApiJob(canceled);
    const requested = await store.requestCancel(job.id);
    if (!requested) {
      const now = await store.getJobById(job.id);
      throw new ApiError(
        409,
        "job_terminal",
        `job ${job.id} is already ${now?.status ?? "finished"} and cannot be canceled`,
      );
    }
    // Unsubmitted but claimed: the submit in flight finishes first, then the reconciler cancels.
    if (requested.submittedAt) await reconciler.cancel(requested);
    reconciler.kick();
    return toApiJob(requested);
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    "/v1/jobs/:id/logs",
    async (request, reply) => {
      const parsed = JobLogsQuery.safeParse(request.query);
      if (!parsed.success) {
        const details = issuesToDetails(parsed.error);
        throw new ApiError(
          400,
          "invalid_request",
          `the query is invalid: ${describeDetails(details)}`,
          details,
        );
      }
      const job = await findJob(request);
      const backend: Backend = runningBackend(job.backend);
      // Every backend trainkit ships reads logs; a backend added without `logs` is answered here.
      if (!backend.logs) {
        return reply
          .code(501)
          .send(
            errorBody("logs_not_supported", `the ${job.backend} backend keeps no logs this server can read`),
          );
      }
      const { follow, ...query } = parsed.data;
      if (!job.submittedAt) {
        if (follow) {
          throw new ApiError(
            409,
            "job_not_started",
            `job ${job.id} has not reached its backend yet, so its log has no position to follow from; follow it again once it is IN_PROGRESS`,
          );
        }
        return { job_id: job.id, stream: query.stream, lines: [] };
      }
      let first: JobLogs | undefined;
      try {
        // A restart's native job answers under its attempt's id; the API speaks of the job.
        first = { ...(await backend.logs(toBackendJob(job), query)), job_id: job.id };
      } catch (err) {
        // A job that has written no log yet is followed anyway: the stream waits for the log.
        if (!(follow && err instanceof BackendError && err.code === "logs_not_available")) throw err;
      }
      if (!follow) return first;
      if (first && first.next_cursor === undefined) {
        throw new ApiError(
          409,
          "logs_not_followable",
          `the ${job.backend} backend cannot continue a log from where a read stopped; read the last lines without follow=true`,
        );
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      const event = (name: string, data: unknown) =>
        raw.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      if (first && first.lines.length > 0) event("lines", first);
      // Comments keep proxies from closing a stream that waits for a log to appear.
      else if (!first) raw.write(": waiting for the job's log to appear\n\n");
      let stop = () => {};
      const end = () => {
        stop();
        openStreams.delete(end);
        if (!raw.writableEnded) raw.end();
      };
      openStreams.add(end);
      stop = followers.follow(job, query.stream, first?.next_cursor ?? null, {
        lines: (logs) => event("lines", logs),
        polled: (read) => raw.write(`: read ${read}\n\n`),
        waiting: (read) => raw.write(`: read ${read}, waiting for the job's log to appear\n\n`),
        ended: (final) => {
          event("end", final);
          end();
        },
        failed: (error) => {
          event("error", errorBody(error.code, error.message));
          end();
        },
      });
      request.raw.on("close", end);
      return reply;
    },
  );

  return app;
}
