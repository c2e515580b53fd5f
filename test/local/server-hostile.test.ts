import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, JobLogs } from "../../src/spec";
import {
  authHeaders,
  newApiKey,
  removeDataDir,
  type SpawnedTrainApi,
  spawnTrainApi,
  waitForJob,
} from "../helpers/train-api";

// The attack of the issue, end to end: a real server process holding two accounts' keys in its
// environment, and a job submitted with one account's key that goes looking for them.

const OTHER_KEY = newApiKey();
let api: SpawnedTrainApi | undefined;
/** Why the server refused to start, on a host that can isolate nothing. */
let refusal: string | undefined;

beforeAll(async () => {
  const ownKey = newApiKey();
  try {
    api = await spawnTrainApi({
      apiKey: ownKey,
      env: { TRAINKIT_API_KEYS: JSON.stringify({ [ownKey]: ["acct-1"], [OTHER_KEY]: ["acct-2"] }) },
      startTimeoutMs: 120_000,
    });
  } catch (err) {
    // A host that can isolate nothing: the documented refusal is asserted below instead.
    if (!/cannot keep jobs of the 2 accounts apart/.test((err as Error).message)) throw err;
    refusal = (err as Error).message;
  }
}, 130_000);
afterAll(async () => {
  if (api) {
    await api.kill("SIGKILL");
    removeDataDir(api.dataDir);
  }
});

async function submit(body: unknown): Promise<Job> {
  const res = await fetch(`${api!.url}/v1/local/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api!), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

async function output(id: string): Promise<string> {
  const lines: string[] = [];
  for (const stream of ["stdout", "stderr"]) {
    const res = await fetch(`${api!.url}/v1/jobs/${id}/logs?stream=${stream}&tail=1000`, {
      headers: authHeaders(api!),
    });
    lines.push(...((await res.json()) as JobLogs).lines);
  }
  return lines.join("\n");
}

describe("a job on a two-account server, looking for the server's keys", () => {
  it("finds none: not in the server's environment, its parent's, its data directory or its own", async () => {
    if (refusal !== undefined) {
      // The host can isolate nothing, and the server said so instead of serving both accounts.
      expect(refusal).toMatch(
        /configuration error: the local backend cannot keep jobs of the 2 accounts apart/,
      );
      return;
    }
    const script = [
      `for f in /proc/${api!.child.pid}/environ /proc/$PPID/environ /proc/1/environ; do`,
      '  if cat "$f" > ./environ 2>/dev/null; then tr "\\0" "\\n" < ./environ; echo "read $f"; else echo "refused $f"; fi',
      "done",
      `if ls ${api!.dataDir} 2>/dev/null; then echo "listed data dir"; else echo "refused data dir"; fi`,
      `if kill -0 ${api!.child.pid} 2>/dev/null; then echo "signalled server"; else echo "refused signal"; fi`,
      "env",
    ].join("\n");
    const job = await submit({ name: "looking", job_config: { command: ["sh", "-c", script] } });
    const done = await waitForJob<Job>(
      api!,
      job.id,
      (j) => j.status === "COMPLETED" || j.status === "FAILED",
    );
    const text = await output(job.id);
    expect(done.status, text).toBe("COMPLETED");
    expect(text).toContain(`refused /proc/${api!.child.pid}/environ`);
    expect(text).toContain("refused data dir");
    expect(text).toContain("refused signal");
    expect(text).not.toContain(OTHER_KEY);
    expect(text).not.toContain(api!.apiKey);
    expect(text).not.toContain("TRAINKIT_API_KEYS");
  });

  it("is never run by a server told to isolate nothing: it refuses to start for two accounts and says why", async () => {
    const err = await spawnTrainApi({
      env: {
        TRAINKIT_API_KEYS: JSON.stringify({ [newApiKey()]: ["acct-1"], [OTHER_KEY]: ["acct-2"] }),
        TRAINKIT_LOCAL_ISOLATION: "none",
      },
      startTimeoutMs: 120_000,
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/Train API exited \(2\) before listening/);
    expect((err as Error).message).toContain(
      "trainkit: configuration error: the local backend cannot keep jobs of the 2 accounts apart on this host: " +
        "TRAINKIT_LOCAL_ISOLATION=none runs jobs as the server's own user",
    );
    expect((err as Error).message).not.toContain(OTHER_KEY);
  }, 130_000);
});
