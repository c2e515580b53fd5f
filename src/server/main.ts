#!/usr/bin/env node
import { basename, dirname, join } from "node:path";
import { quickstartJobRequest } from "../quickstart";
import { LOCAL_ACCOUNT_ID } from "./config";
import { ConfigError, type RunningServer, startServer } from "./index";

/** Where the quickstart printed at start writes its model: `<data dir>-runs/quickstart-output`. */
export function quickstartOutputDir(dataDir: string): string {
  return join(dirname(dataDir), `${basename(dataDir)}-runs`, "quickstart-output");
}

function quickstartCurls(url: string, keyFile: string, dataDir: string): string {
  // Beside the data directory, not in it: no job may reach the server's own files.
  const outputDir = quickstartOutputDir(dataDir);
  const body = quickstartJobRequest({ outputDir });
  const auth = `-H "x-api-key: $(cat ${keyFile})" -H "x-selected-account-id: ${LOCAL_ACCOUNT_ID}"`;
  return [
    "",
    "Submit the quickstart training job (examples/quickstart/train.py) to the local backend:",
    "",
    `  JOB_ID=$(curl -sS -X POST ${url}/v1/local/jobs ${auth} \\`,
    `    -H "Content-Type: application/json" -H "Idempotency-Key: quickstart-$(date +%s)" \\`,
    `    -d '${JSON.stringify(body)}' \\`,
    `    | sed -E 's/.*"id":"([^"]+)".*/\\1/'); echo "$JOB_ID"`,
    "",
    "Read its status (COMPLETED after a few seconds):",
    "",
    `  curl -sS ${url}/v1/jobs/$JOB_ID ${auth}`,
    "",
    `The model and its metrics are written to ${outputDir}/.`,
  ].join("\n");
}

async function main(): Promise<void> {
  let server: RunningServer;
  try {
    // Warnings and errors are always logged; TRAINKIT_LOG=1 adds every request.
    server = await startServer({ log: process.env.TRAINKIT_LOG === "1" ? true : "warn" });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trainkit: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`trainkit: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // Curl cannot reach a wildcard address: show the loopback one instead.
  const url = server.url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://127.0.0.1:");
  const lines = [`trainkit Train API listening on ${url}`];
  if (server.localApiKeyFile) {
    lines.push(
      `API key for account "${LOCAL_ACCOUNT_ID}" is in ${server.localApiKeyFile} (mode 0600; never printed)`,
      quickstartCurls(url, server.localApiKeyFile, server.dataDir),
    );
  } else {
    lines.push("API keys come from TRAINKIT_API_KEYS / TRAINKIT_API_KEYS_FILE.");
  }
  process.stdout.write(`${lines.join("\n")}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(
      `trainkit: ${signal}: closing (running local jobs keep running and are adopted on the next start)\n`,
    );
    // Every step of close is bounded, but a shutdown must finish whatever hangs: past the bound
    // the process exits anyway (a platform would SIGKILL it soon after).
    setTimeout(() => {
      process.stderr.write(
        `trainkit: ${signal}: not closed within ${server.shutdownTimeoutMs} ms (TRAINKIT_SHUTDOWN_TIMEOUT_MS); exiting\n`,
      );
      process.exit(1);
    }, server.shutdownTimeoutMs).unref();
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`trainkit: error while closing: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main();
