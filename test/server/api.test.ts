import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, JobList } from "../../src/spec";
import {
  authHeaders,
  filesDirOf,
  filesMount,
  newApiKey,
  startTrainApi,
  type TrainApi,
  waitForJob,
} from "../helpers/train-api";
import { VALID_REQUESTS, withValue } from "../helpers/train-api-requests";

let api: TrainApi;
/** A key that may act for acct-2 and acct-3, but not acct-1. */
const otherKey = newApiKey();

beforeAll(async () => {
  api = await startTrainApi({ extraApiKeys: { [otherKey]: ["acct-2", "acct-3"] } });
});
afterAll(async () => {
  await api?.close();
});

const quickJob = (name: string) => withValue(VALID_REQUESTS.local, ["name"], name);

async function submit(body: unknown, headers: Record<string, string> = authHeaders(api)) {
  const res = await fetch(`${api.url}/v1/local/jobs`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Job & { error: { code: string; message: string } },
  };
}

/** A job that appends a line to `<files dir>/<name>.starts` each time a process of it starts. */
const countingJob = (name: string) => ({
  name,
  job_config: { command: ["sh", "-c", `echo started >> ${join(filesDirOf(api.dataDir), `${name}.starts`)}`] },
  storage_mounts: [filesMount(api)],
});
const starts = (name: string) =>
  readFileSync(join(filesDirOf(api.dataDir), `${name}.starts`), "utf8")
    .trim()
    .split("\n").length;

async function jobsNamed(name: string): Promise<string[]> {
  const list = (await (
    await fetch(`${api.url}/v1/jobs?limit=100`, { headers: authHeaders(api) })
  ).json()) as JobList;
  return list.items.filter((j) => j.name === name).map((j) => j.id);
}

describe("authentication", () => {
  it("answers 401 when x-api-key is missing", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, { headers: { "x-selected-account-id": "acct-1" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: {
        code: "unauthenticated",
        message: "x-api-key header is missing; send your API key in x-api-key",
      },
    });
  });

  it("answers 401 for a key it does not know, without echoing the key", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, {
      headers: { "x-api-key": "tk_wrong_key_0123456789", "x-selected-account-id": "acct-1" },
    });
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(text).not.toContain("tk_wrong_key_0123456789");
  });

  it("answers 400 naming the header when x-selected-account-id is missing", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, { headers: { "x-api-key": api.apiKey } });
    const body = (await res.json()) as { error: { message: string; details: { path: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.message).toContain("x-selected-account-id");
    expect(body.error.details[0]?.path).toBe("headers.x-selected-account-id");
  });

  it("answers 403 when the key may not act for the selected account", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, {
      headers: { "x-api-key": api.apiKey, "x-selected-account-id": "acct-2" },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
  });

  it("answers 404 for another account's job, exactly as for a job that does not exist", async () => {
    const { body: job } = await submit(quickJob("private"));
    const other = { "x-api-key": otherKey, "x-selected-account-id": "acct-2" };
    const theirs = await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: other });
    const missingId = "00000000-0000-4000-8000-000000000000";
    const missing = await fetch(`${api.url}/v1/jobs/${missingId}`, { headers: other });
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    const theirBody = (await theirs.json()) as { error: { message: string } };
    const missingBody = (await missing.json()) as { error: { message: string } };
    expect(theirBody.error.message.replace(job.id, "ID")).toBe(
      missingBody.error.message.replace(missingId, "ID"),
    );
  });

  it("does not let another account cancel or list the job", async () => {
    const { body: job } = await submit(quickJob("not-yours"));
    const other = { "x-api-key": otherKey, "x-selected-account-id": "acct-3" };
    const cancel = await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: other });
    const list = (await (await fetch(`${api.url}/v1/jobs`, { headers: other })).json()) as JobList;
    expect(cancel.status).toBe(404);
    expect(list.items.map((j) => j.id)).not.toContain(job.id);
  });

  it("serves /healthz without a key", async () => {
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });
});

describe("Idempotency-Key", () => {
  it("returns the original job for a repeated key and starts nothing new", async () => {
    const headers = { ...authHeaders(api), "idempotency-key": "same-key-1" };
    const first = await submit(countingJob("once"), headers);
    const second = await submit(countingJob("once"), headers);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(await jobsNamed("once")).toEqual([first.body.id]);
    await waitForJob<Job>(api, first.body.id, (j) => j.status === "COMPLETED");
    expect(starts("once")).toBe(1);
  });

  it("yields one job for concurrent requests with the same key", async () => {
    const headers = { ...authHeaders(api), "idempotency-key": "same-key-concurrent" };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => submit(countingJob("racing"), headers)),
    );
    const id = results[0]!.body.id;
    expect(results.map((r) => r.body.id)).toEqual(Array(6).fill(id));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(await jobsNamed("racing")).toEqual([id]);
    await waitForJob<Job>(api, id, (j) => j.status === "COMPLETED");
    expect(starts("racing")).toBe(1);
  });

  it("answers 422 naming the conflict when the key comes back with a different body", async () => {
    const headers = { ...authHeaders(api), "idempotency-key": "same-key-2" };
    const first = await submit(quickJob("first-body"), headers);
    const second = await submit(quickJob("second-body"), headers);
    expect(second.status).toBe(422);
    expect(second.body.error.code).toBe("idempotency_key_conflict");
    expect(second.body.error.message).toContain(first.body.id);
  });

  it("keeps keys apart per account", async () => {
    const mine = await submit(quickJob("shared-key"), {
      ...authHeaders(api),
      "idempotency-key": "k-per-account",
    });
    const theirs = await submit(quickJob("shared-key"), {
      "x-api-key": otherKey,
      "x-selected-account-id": "acct-2",
      "idempotency-key": "k-per-account",
    });
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });
});

describe("reading jobs", () => {
  it("returns the job object of the SGP Train API and nothing the server keeps for itself", async () => {
    const { body: created } = await submit(quickJob("shape"));
    const done = await waitForJob<Job>(api, created.id, (j) => j.status === "COMPLETED");
    expect(Object.keys(done).sort()).toEqual([
      "account_id",
      "attempts",
      "cloud_job_identifier",
      "created_at",
      "id",
      "job_type",
      "name",
      "restarts",
      "result",
      "status",
      "storage_mounts",
      "updated_at",
    ]);
    expect(done).toMatchObject({
      id: created.id,
      name: "shape",
      job_type: "local",
      account_id: "acct-1",
      storage_mounts: [],
    });
  });

  it("pages through the account's jobs newest first with a cursor", async () => {
    const key = newApiKey();
    const paged = await startTrainApi({ apiKeys: { [key]: ["acct-1"] } });
    try {
      const h = { "x-api-key": key, "x-selected-account-id": "acct-1" };
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${paged.url}/v1/local/jobs`, {
          method: "POST",
          headers: { ...h, "content-type": "application/json" },
          body: JSON.stringify(quickJob(`page-${i}`)),
        });
        ids.push(((await res.json()) as Job).id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : "";
        const page = (await (
          await fetch(`${paged.url}/v1/jobs?limit=2${q}`, { headers: h })
        ).json()) as JobList;
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((j) => j.id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
    } finally {
      await paged.close();
    }
  });

  it("filters the list by status", async () => {
    const { body } = await submit(quickJob("filtered"));
    await waitForJob<Job>(api, body.id, (j) => j.status === "COMPLETED");
    const list = (await (
      await fetch(`${api.url}/v1/jobs?status=COMPLETED&limit=100`, { headers: authHeaders(api) })
    ).json()) as JobList;
    expect(list.items.length).toBeGreaterThan(0);
    expect(list.items.every((j) => j.status === "COMPLETED")).toBe(true);
    expect(list.items.map((j) => j.id)).toContain(body.id);
  });
});
