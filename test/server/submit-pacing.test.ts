import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubmitPacer } from "../../src/server/backends/cloud-common";
import { VERTEX_SUBMITS_PER_MINUTE, vertexAiBackend } from "../../src/server/backends/vertex-ai";
import type { Job } from "../../src/spec";
import { testContext } from "../helpers/backend-job";
import { type CloudTrainApi, startCloudTrainApi } from "../helpers/cloud-train-api";
import { googleError } from "../helpers/fake-vertex";
import { published } from "../helpers/published";
import { vertexExample } from "../helpers/sgp-examples";
import { authHeaders, type TrainApi } from "../helpers/train-api";
import { mostOverPace, startVertexReplicas, type VertexReplicas } from "../helpers/vertex-replicas";

describe("a backend's submission pace", () => {
  it("lets one submission through at once and then one per 60/perMinute seconds", () => {
    let now = 0;
    const pacer = new SubmitPacer(60, () => now);
    const granted = Array.from({ length: 200 }, () => pacer.tryTake()).filter(Boolean).length;
    expect(granted).toBe(1);
    expect(pacer.waitMs()).toBe(1000);
    now += 1000;
    expect(pacer.tryTake()).toBe(true);
    expect(pacer.tryTake()).toBe(false);
    // Over a minute of steady demand, the pace is what was configured.
    let minute = 0;
    for (let t = 0; t < 60_000; t += 100) {
      now += 100;
      while (pacer.tryTake()) minute += 1;
    }
    expect(minute).toBe(60);
  });

  it("halves after a throttling answer and comes back a quarter of the way each quiet minute", () => {
    let now = 0;
    const pacer = new SubmitPacer(60, () => now);
    pacer.slowDown();
    expect(pacer.currentPerMinute).toBe(30);
    pacer.slowDown();
    expect(pacer.currentPerMinute).toBe(15);
    now += 60_000;
    expect(pacer.currentPerMinute).toBeCloseTo(15 + 45 / 4);
    now += 10 * 60_000;
    expect(pacer.currentPerMinute).toBeLessThanOrEqual(60);
    expect(pacer.currentPerMinute).toBeGreaterThan(55);
  });

  it("never slows below a tenth of the configured pace", () => {
    const pacer = new SubmitPacer(60, () => 0);
    for (let i = 0; i < 20; i += 1) pacer.slowDown();
    expect(pacer.currentPerMinute).toBe(6);
  });

  it("defaults for vertex-ai to the job submission quota Vertex AI publishes, and takes TRAINKIT_VERTEX_SUBMIT_PER_MINUTE", () => {
    const quotas = published<{ requests_per_minute: Record<string, number> }>(
      "google-cloud-docs/vertex-ai-request-quotas.json",
    );
    expect(VERTEX_SUBMITS_PER_MINUTE).toBe(
      quotas.requests_per_minute["Job or long-running operation (LRO) submission requests"],
    );
    const env = { TRAINKIT_VERTEX_PROJECT: "p", TRAINKIT_VERTEX_REGION: "us-central1" };
    const made = vertexAiBackend(env, testContext());
    expect("backend" in made && made.backend.submitsPerMinute).toBe(60);
    const set = vertexAiBackend({ ...env, TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "30" }, testContext());
    expect("backend" in set && set.backend.submitsPerMinute).toBe(30);
    expect(() => vertexAiBackend({ ...env, TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "0" }, testContext())).toThrow(
      /TRAINKIT_VERTEX_SUBMIT_PER_MINUTE must be a number of job submissions per minute above 0 .*; got "0"/,
    );
  });
});

// The real Train API with the vertex-ai backend built by its factory and pointed at the Vertex AI
// stand-in (a fake), paced at 60 submissions a minute, Vertex AI's published default.
describe("a burst of submissions through the Train API", () => {
  let api: CloudTrainApi;

  beforeAll(async () => {
    api = await startCloudTrainApi({
      reconcileIntervalMs: 100,
      env: { TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "60" },
    });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
  });

  const creates = () => api.vertex.cloud.received("POST", /\/customJobs$/);

  it("creates jobs no faster than the pace; the rest stay PENDING with the reason shown", async () => {
    const started = Date.now();
    const jobs: Job[] = [];
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, k) =>
          fetch(`${api.url}/v1/vertex-ai/jobs`, {
            method: "POST",
            headers: { ...authHeaders(api), "content-type": "application/json" },
            body: JSON.stringify({ ...vertexExample, name: `burst-${i + k}` }),
          }).then(async (res) => {
            expect(res.status).toBe(201);
            return (await res.json()) as Job;
          }),
        ),
      );
      jobs.push(...batch);
    }
    // Let the reconciler run a few more passes after the burst.
    await new Promise((r) => setTimeout(r, 1500));
    const seconds = (Date.now() - started) / 1000;
    const created = creates().length;
    // One at once, then one a second: never more than the pace allows for the time elapsed.
    expect(created).toBeGreaterThanOrEqual(1);
    expect(created).toBeLessThanOrEqual(1 + Math.ceil(seconds));

    const res = await fetch(`${api.url}/v1/jobs?limit=100&status=PENDING`, { headers: authHeaders(api) });
    const pending = ((await res.json()) as { items: Job[] }).items.filter(
      (j) => j.cloud_job_identifier === null,
    );
    expect(pending.length).toBeGreaterThan(50);
    expect(pending[0]!.status_reason).toMatch(
      /^queued: the vertex-ai backend submits at most 60 jobs a minute; .*TRAINKIT_VERTEX_SUBMIT_PER_MINUTE/,
    );
    const all = await fetch(`${api.url}/v1/jobs?limit=100&status=FAILED`, { headers: authHeaders(api) });
    expect(((await all.json()) as { items: Job[] }).items).toHaveLength(0);
    expect(jobs).toHaveLength(200);
  }, 240_000);
});

describe("a throttled submission", () => {
  let api: CloudTrainApi;

  beforeAll(async () => {
    api = await startCloudTrainApi({
      reconcileIntervalMs: 100,
      env: { TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "600" },
    });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
  });

  it("slows the pace and keeps the job PENDING instead of failing it, then submits it once Vertex AI takes it", async () => {
    // A per-minute rate quota, as google.rpc.ErrorInfo reports one (error_reason.proto).
    const example = published<{ example: Record<string, unknown> }>(
      "googleapis/error-reason-quota.json",
    ).example;
    const throttled = googleError(
      429,
      "RESOURCE_EXHAUSTED",
      "Quota exceeded for quota metric 'Job submission requests' and limit 'per minute per region'",
    );
    (throttled.body as { error: Record<string, unknown> }).error.details = [example];
    api.vertex.cloud.failNext(
      (r) => r.method === "POST" && r.path.endsWith("/customJobs"),
      { respond: throttled },
      Number.POSITIVE_INFINITY,
    );
    const res = await fetch(`${api.url}/v1/vertex-ai/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({ ...vertexExample, name: "throttled" }),
    });
    const job = (await res.json()) as Job;
    expect(job.status).toBe("PENDING");
    expect(job.status_reason).toMatch(/cloud_throttled|throttled|429/i);
    api.vertex.cloud.heal();
    const deadline = Date.now() + 60_000;
    let seen = job;
    while (seen.cloud_job_identifier === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      seen = (await (
        await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: authHeaders(api) })
      ).json()) as Job;
    }
    expect(seen.status).toBe("PENDING");
    expect(seen.cloud_job_identifier?.job_name).toMatch(/customJobs\/\d+$/);
    expect(seen.status_reason).toBeUndefined();
  }, 240_000);
});

// Replicas of the Train API on one Postgres share each backend's pace through the store. Selected by
// DATABASE_URL like the store's other Postgres tests, each describe in a schema of its own.
const databaseUrl = process.env.DATABASE_URL;

/**
 * Waits until `done` holds, checking every 100 ms and running `meanwhile` before each wait; throws
 * after `timeoutMs`.
 */
async function until(
  done: () => boolean,
  what: string,
  timeoutMs = 60_000,
  meanwhile: () => Promise<unknown> = async () => {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await meanwhile();
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (databaseUrl) {
  const create = async (replicas: VertexReplicas, api: TrainApi, name: string): Promise<Job> => {
    const res = await fetch(`${api.url}/v1/vertex-ai/jobs`, {
      method: "POST",
      headers: { ...replicas.headers, "content-type": "application/json" },
      body: JSON.stringify({ ...vertexExample, name }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Job;
  };
  const listed = async (replicas: VertexReplicas, api: TrainApi, status: string): Promise<Job[]> => {
    const res = await fetch(`${api.url}/v1/jobs?limit=100&status=${status}`, { headers: replicas.headers });
    return ((await res.json()) as { items: Job[] }).items;
  };

  describe("a burst of submissions split between two replicas on one Postgres", () => {
    let replicas: VertexReplicas;

    beforeAll(async () => {
      replicas = await startVertexReplicas({ databaseUrl, perMinute: 60, reconcileIntervalMs: 100 });
    }, 120_000);

    afterAll(async () => {
      await replicas?.close();
    });

    it("creates jobs no faster than the pace between them; the rest stay PENDING with the reason shown on both", async () => {
      const { a, b } = replicas;
      for (let i = 0; i < 120; i += 20) {
        const api = (i / 20) % 2 === 0 ? a : b;
        await Promise.all(Array.from({ length: 20 }, (_, k) => create(replicas, api, `burst-${i + k}`)));
      }
      await until(() => replicas.creations().length >= 6, "six creations");
      // One at once, then one a second, counted in every window between two creations; one slot of slack.
      expect(mostOverPace(replicas.creations(), 60, 1)).toBeLessThanOrEqual(1);
      for (const api of [a, b]) {
        const waiting = (await listed(replicas, api, "PENDING")).filter(
          (j) => j.cloud_job_identifier === null,
        );
        expect(waiting.length).toBeGreaterThan(50);
        expect(waiting[0]!.status_reason).toMatch(
          /^queued: the vertex-ai backend submits at most 60 jobs a minute; .*TRAINKIT_VERTEX_SUBMIT_PER_MINUTE/,
        );
        expect(await listed(replicas, api, "FAILED")).toHaveLength(0);
      }
    }, 120_000);
  });

  describe("a throttled submission on one of two replicas on one Postgres", () => {
    let replicas: VertexReplicas;

    beforeAll(async () => {
      // Passes run only when a request asks for one, so a job is submitted by the replica it was
      // created on unless the other one is asked for a pass.
      replicas = await startVertexReplicas({ databaseUrl, perMinute: 60, reconcileIntervalMs: 600_000 });
    }, 120_000);

    afterAll(async () => {
      await replicas?.close();
    });

    it("lowers the pace the other replica submits at, and the other's queued jobs say so", async () => {
      const { a, b, proxyOfA } = replicas;
      const isCreate = (method: string, path: string) => method === "POST" && /\/customJobs(\?|$)/.test(path);
      proxyOfA.inject(isCreate, [{ kind: "status", status: 429 }]);
      const throttled = await create(replicas, a, "throttled");
      expect(proxyOfA.seen.filter((r) => r.fault === "status")).toHaveLength(1);
      expect(throttled.status).toBe("PENDING");
      expect(throttled.status_reason).toMatch(
        /^throttled: .* now submits at most 30 jobs a minute \(from 60/,
      );

      // The other replica never saw a throttling answer.
      const created = await create(replicas, b, "after-0");
      const queued = (await (
        await fetch(`${b.url}/v1/jobs/${created.id}`, { headers: replicas.headers })
      ).json()) as Job;
      expect(queued.status_reason).toMatch(
        /^queued: the vertex-ai backend submits at most 30 jobs a minute, slowed from 60 after the cloud throttled a submission;/,
      );
      // Jobs keep arriving at the other replica, each asking it for a pass, until five were created.
      let sent = 1;
      await until(
        () => replicas.creations().length >= 5,
        "five creations",
        60_000,
        () => create(replicas, b, `after-${sent++}`),
      );
      // One every two seconds from an emptied bucket, in every window between two creations; one slot of slack.
      expect(mostOverPace(replicas.creations(), 30, 1)).toBeLessThanOrEqual(1);
      expect(await listed(replicas, b, "FAILED")).toHaveLength(0);
    }, 120_000);
  });
}
