import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QUICKSTART_DIR, quickstartJobRequest } from "../../src/quickstart";
import { CREATE_JOB_REQUESTS } from "../../src/spec";
import { LocalHarness, localJob, pollUntil } from "../helpers/local-harness";

let h: LocalHarness;
beforeEach(() => {
  h = new LocalHarness();
});
afterEach(async () => {
  await h.dispose();
});

describe("quickstart example", () => {
  it("resolves job.json into a valid POST /v1/local/jobs body with absolute paths", () => {
    const request = quickstartJobRequest({ outputDir: join(h.filesDir, "out") });
    expect(CREATE_JOB_REQUESTS.local.safeParse(request).success).toBe(true);
    expect(request.job_config.working_dir).toBe(QUICKSTART_DIR);
    expect(request.storage_mounts?.map((m) => m.source_uri)).toEqual([
      `file://${join(QUICKSTART_DIR, "data")}`,
      `file://${join(h.filesDir, "out")}`,
    ]);
  });

  it("trains to COMPLETED and writes model.json and metrics.json with accuracy above 0.9", async () => {
    const backend = h.backend();
    const out = join(h.filesDir, "out");
    const job = localJob(quickstartJobRequest({ outputDir: out }));
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"], 30_000);
    expect(done.status).toBe("COMPLETED");
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    expect(metrics.accuracy).toBeGreaterThan(0.9);
    expect(metrics.epochs).toBe(50);
    const model = JSON.parse(readFileSync(join(out, "model.json"), "utf8"));
    expect(model.features).toEqual(["x1", "x2"]);
    expect(model.weights).toHaveLength(2);
    const progress = (await backend.logs(job, { stream: "stdout", tail: 2 })).lines;
    expect(progress[0]).toMatch(/^epoch 50\/50 loss=\d\.\d{4} accuracy=0\.9\d+$/);
  });

  it("fails with exit code 2 and names STORAGE_MOUNT_0_PATH when the job has no mounts", async () => {
    const backend = h.backend();
    const { storage_mounts: _, ...request } = quickstartJobRequest();
    const job = localJob(request);
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"], 30_000);
    expect(done.status).toBe("FAILED");
    expect(done.result?.exit_code).toBe(2);
    expect(done.result?.failure_reason).toContain("STORAGE_MOUNT_0_PATH is not set");
  });
});
