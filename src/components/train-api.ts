import * as pulumi from "@pulumi/pulumi";
import { ArgumentError } from "./sentences";

// What every cloud's TrainingApi component says to the Train API container the same way: the port the
// image listens on, the health route, and how the API keys and extra settings reach it.

/** The port the Train API image listens on (the Dockerfile's `PORT`). */
export const TRAIN_API_PORT = 8080;
/** The route a load balancer or a probe reads to tell a live Train API from a dead one. */
export const TRAIN_API_HEALTH_PATH = "/healthz";

/** The API keys as the server's `TRAINKIT_API_KEYS` JSON, whether given as that JSON or as the object. */
export function apiKeysJson(apiKeys: pulumi.Input<string | Record<string, string[]>>): pulumi.Output<string> {
  return pulumi.output(apiKeys).apply((keys) => (typeof keys === "string" ? keys : JSON.stringify(keys)));
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
