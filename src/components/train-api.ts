import * as pulumi from "@pulumi/pulumi";
import { BACKENDS_SETTING, type BackendName as Backend } from "../spec/backend-names";
import { ArgumentError } from "./sentences";

// What every cloud's TrainingApi component says to the Train API container the same way: the port the
// image listens on, the health route, and how the API keys and extra settings reach it.

/** The port the Train API image listens on (the Dockerfile's `PORT`). */
export const TRAIN_API_PORT = 8080;
/** The route a load balancer or a probe reads to tell a live Train API from a dead one. */
export const TRAIN_API_HEALTH_PATH = "/healthz";
/** The liveness route: 200 while the process answers, never reading the store (a restart would not help). */
export const TRAIN_API_LIVE_PATH = "/livez";
/**
 * The readiness route: 503 while the store is unreachable or the reconciler is stale, so a replica
 * that cannot serve is taken out of rotation (and a new revision is not sent traffic) until it can.
 */
export const TRAIN_API_READY_PATH = "/readyz";

/** The arguments every cloud's TrainingApi takes under the same name and meaning. */
export interface TrainingApiCommonArgs extends TrainingApiServerArgs {
  /**
   * The Train API container image, built from the repository's `Dockerfile` and pushed to a registry the
   * service can pull from (e.g. a `Registry`'s `url` plus the image name and tag). Required.
   */
  image: pulumi.Input<string>;
  /**
   * The API keys, each with the accounts it may act for (`{"<api-key>": ["<account-id>", ...]}`, the server's
   * `TRAINKIT_API_KEYS`). Kept in the platform's secret store, which only the API may read, and handed to the
   * server as a secret; never in plain state. Required unless `apiKeysJson` is set; conflicts with it.
   */
  apiKeys?: pulumi.Input<Record<string, string[]>>;
  /**
   * The same keys as `TRAINKIT_API_KEYS` JSON text, for keys already kept as one secret string. Kept like
   * `apiKeys`. Defaults to none; conflicts with `apiKeys`.
   */
  apiKeysJson?: pulumi.Input<string>;
}

/** The common Train API arguments besides its image and keys: the server's database and further settings. */
export interface TrainingApiServerArgs {
  /**
   * A `postgresql://` URL for the API's state, kept in the secret store like the keys. Defaults to none: the
   * server keeps its state in an embedded PGlite database beside it, which no second instance could share,
   * so the component then runs exactly one instance. Production deployments should set it.
   */
  databaseUrl?: pulumi.Input<string>;
  /**
   * Further environment variables for the server (e.g. `TRAINKIT_RECONCILE_INTERVAL_MS`). Defaults to none.
   * Must not name a variable this component sets.
   */
  env?: Record<string, pulumi.Input<string>>;
}

/** The server variables every TrainingApi sets itself; each cloud adds those of its backend. */
export const SERVER_MANAGED_ENV = [
  "HOST",
  "PORT",
  "TRAINKIT_DATA_DIR",
  "TRAINKIT_API_KEYS",
  "DATABASE_URL",
  BACKENDS_SETTING,
] as const;

/** An environment variable with a plain (not secret) value, as every container platform spells it. */
export interface ServerEnvVar {
  /** The variable's name. */
  name: string;
  /** Its value, stored in plain text in the container spec: never a secret. */
  value: pulumi.Input<string>;
}

/**
 * The plain settings every TrainingApi gives its server: listen on all interfaces at `TRAIN_API_PORT`, keep
 * the embedded database under `dataDir`, and run only the cloud's own backend, never local processes.
 * `platformSetsPort` leaves `PORT` to a platform that sets it itself and refuses it as a variable.
 */
export function serverEnv(
  backend: Backend,
  dataDir: string,
  options: { platformSetsPort?: boolean } = {},
): ServerEnvVar[] {
  return [
    { name: "HOST", value: "0.0.0.0" },
    ...(options.platformSetsPort ? [] : [{ name: "PORT", value: String(TRAIN_API_PORT) }]),
    { name: "TRAINKIT_DATA_DIR", value: dataDir },
    { name: BACKENDS_SETTING, value: backend },
  ];
}

/** The user's further environment variables as `{name, value}` pairs, in the order given. */
export function extraEnv(env: Record<string, pulumi.Input<string>> | undefined): ServerEnvVar[] {
  return Object.entries(env ?? {}).map(([name, value]) => ({ name, value }));
}

/**
 * The API keys as the server's `TRAINKIT_API_KEYS` JSON, from `apiKeys` or `apiKeysJson`, whichever is set.
 * A string in `apiKeys`, which JavaScript programs written for earlier versions pass, is taken as the JSON.
 */
export function apiKeysJson(
  owner: string,
  args: Pick<TrainingApiCommonArgs, "apiKeys" | "apiKeysJson">,
): pulumi.Output<string> {
  if (args.apiKeys === undefined && args.apiKeysJson === undefined) {
    throw new ArgumentError(
      `${owner}: apiKeys must be set to the keys and the accounts each may act for ({"<api-key>": ["<account-id>"]}), or apiKeysJson to that JSON; got nothing`,
    );
  }
  if (args.apiKeys !== undefined && args.apiKeysJson !== undefined) {
    throw new ArgumentError(
      `${owner}: apiKeys and apiKeysJson are two spellings of the same keys; set only one`,
    );
  }
  const keys: pulumi.Input<Record<string, string[]> | string> =
    args.apiKeys ?? (args.apiKeysJson as pulumi.Input<string>);
  return pulumi.output(keys).apply((k) => (typeof k === "string" ? k : JSON.stringify(k)));
}

/** Rejects extra environment variables that would override one the component sets itself. */
export function rejectManagedEnv(
  owner: string,
  env: Record<string, unknown> | undefined,
  managed: readonly string[],
): void {
  const clash = Object.keys(env ?? {}).find((k) => managed.includes(k));
  if (clash !== undefined) {
    throw new ArgumentError(
      `${owner}: env must not set ${clash}, which this component sets; use the matching argument instead`,
    );
  }
}

/**
 * Rejects more than one replica without a database URL: each replica would keep its own embedded PGlite
 * database, so a job submitted to one would be unknown to the next.
 */
export function requireSingleWriter(owner: string, field: string, count: number, durable: boolean): void {
  if (!durable && count !== 1) {
    throw new ArgumentError(
      `${owner}: ${field} must be 1 when databaseUrl is not set, since each instance would keep its own embedded database; got ${count}. Set databaseUrl to a Postgres URL to run more.`,
    );
  }
}
