import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobSnapshot } from "../../src/job/clients/types";
import { WaitProgress } from "../../src/job/progress";
import { ensureBuilt } from "../helpers/provider-build";
import { type ProviderCallError, ProviderHost, secret } from "../helpers/provider-host";
import { nodeJob, up } from "../helpers/provider-jobs";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

const job = (status: JobSnapshot["status"], failure?: string): JobSnapshot => ({
  id: "7d6f1c2e-0000-4000-8000-000000000001",
  name: "train",
  status,
  result: failure ? { failure_reason: failure } : null,
});

describe("WaitProgress", () => {
  it("says each status change at once and otherwise one line per interval", async () => {
    const lines: string[] = [];
    const progress = new WaitProgress("train", (m) => lines.push(m), 30_000, undefined, 0);
    await progress.seen(job("PENDING"), 0);
    await progress.seen(job("PENDING"), 10_000);
    await progress.seen(job("IN_PROGRESS"), 12_000);
    await progress.seen(job("IN_PROGRESS"), 20_000);
    await progress.seen(job("IN_PROGRESS"), 42_000);
    expect(lines).toEqual([
      "TrainingJob train: job 7d6f1c2e-0000-4000-8000-000000000001 PENDING, waited 0s",
      "TrainingJob train: job 7d6f1c2e-0000-4000-8000-000000000001 IN_PROGRESS, waited 12s",
      "TrainingJob train: job 7d6f1c2e-0000-4000-8000-000000000001 IN_PROGRESS, waited 42s",
    ]);
  });

  it("adds the job's last line of output while it runs, and the failure reason once it failed", async () => {
    const lines: string[] = [];
    const progress = new WaitProgress(
      "train",
      (m) => lines.push(m),
      30_000,
      async () => "epoch 3 loss 0.41",
      0,
    );
    await progress.seen(job("IN_PROGRESS"), 65_000);
    await progress.seen(
      job("FAILED", "exited with code 1; last lines of stderr:\nCUDA out of memory"),
      70_000,
    );
    expect(lines[0]).toMatch(/IN_PROGRESS, waited 1m05s; last output: epoch 3 loss 0.41$/);
    expect(lines[1]).toMatch(
      /FAILED, waited 1m10s: exited with code 1; last lines of stderr: \| CUDA out of memory$/,
    );
  });

  it("stops asking for output once the backend could not serve it", async () => {
    let asked = 0;
    const progress = new WaitProgress(
      "train",
      () => {},
      1,
      async () => {
        asked++;
        throw new Error("501 logs_not_supported");
      },
      0,
    );
    for (let t = 0; t < 5; t++) await progress.seen(job("IN_PROGRESS"), t * 1000);
    expect(asked).toBe(1);
  });
});

// Through the real dynamic-provider host, against a real Train API on loopback: what `pulumi up`
// shows while the provider waits for a job.
describe("a TrainingJob waiting in the provider host", () => {
  let api: TrainApi;
  let host: ProviderHost;

  beforeAll(async () => {
    ensureBuilt();
    api = await startTrainApi();
    host = await ProviderHost.start({
      config: {
        "trainkit:apiUrl": api.url,
        "trainkit:apiKey": secret(api.apiKey),
        "trainkit:accountId": api.accountId,
      },
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TRAINKIT_PROGRESS_INTERVAL_SECONDS: "0.5" },
    });
  }, 240_000);

  afterAll(async () => {
    await host?.close();
    await api?.close();
  });

  it("logs its status changes, the time waited and the job's last output line through Pulumi's log", async () => {
    const script =
      "let i = 0; const t = setInterval(() => { console.log('step ' + i++); if (i === 8) clearInterval(t); }, 250)";
    const { state } = await up(host, nodeJob("progress", script, { waitFor: "completed" }));
    expect(state.outputs.status).toBe("COMPLETED");
    const lines = host.logs.split("\n").filter((l) => l.includes(`TrainingJob progress: job ${state.id}`));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(line).toMatch(/^info: \[runtime\] TrainingJob progress: job \S+ [A-Z_]+, waited \d+s/);
    expect(lines.some((l) => / IN_PROGRESS, waited \d+s; last output: step \d$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/ COMPLETED, waited \d+s; last output: step 7$/);
  });

  it("fails with the reason and the last lines of the job's output", async () => {
    const script =
      "for (let i = 0; i < 15; i++) console.log('line ' + i); console.error('disk full'); process.exit(4)";
    const failure = (await up(host, nodeJob("broken", script, { waitFor: "completed" })).catch(
      (err: unknown) => err,
    )) as ProviderCallError;
    const reason = failure.initFailed!.reasons[0]!;
    expect(reason).toContain(`(broken) ended FAILED: exited with code 4`);
    expect(reason).toContain("disk full");
    expect(reason).toContain("Last lines of its output:\n  line 5\n  line 6");
    expect(reason.trimEnd().endsWith("  line 14")).toBe(true);
    expect(reason).not.toContain("line 4\n");
  });
});
