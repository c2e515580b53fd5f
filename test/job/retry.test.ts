import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrainingJob } from "../../src/job";
import type { Job } from "../../src/spec";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderHost, registerWithMocks, secret } from "../helpers/provider-host";
import { apiJobs, nodeJob, up } from "../helpers/provider-jobs";
import { filesDirOf, filesMount, startTrainApi, type TrainApi } from "../helpers/train-api";

// A TrainingJob with a retry policy, through the real dynamic provider host, against a real Train
// API on loopback running `local` jobs as real processes; the test plays a spot VM's shutdown by
// sending SIGTERM to the job's process from outside the server.

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
  });
});

afterAll(async () => {
  await host?.close();
  await api?.close();
});

/** Finds the job by name, waits for its process, and signals it as a machine shutting down would. */
async function preemptByName(name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const job: Job | undefined = (await apiJobs(api)).find((j) => j.name === name);
    const dir = job?.cloud_job_identifier?.job_dir;
    if (dir && existsSync(join(dir, "status.json"))) {
      const pid = (
        JSON.parse(readFileSync(join(dir, "status.json"), "utf8")) as { process?: { pid: number } }
      ).process?.pid;
      if (pid !== undefined) {
        process.kill(pid, "SIGTERM");
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${name} never started a process`);
}

describe("a TrainingJob with a retryPolicy", () => {
  it("keeps waiting through a restart under waitFor completed and reports restarts and attempts", async () => {
    filesDirOf(api.dataDir);
    // The first run waits to be preempted; the restarted run finds the marker it left and finishes.
    const script =
      "const fs=require('fs');const f=process.env.STORAGE_MOUNT_0_PATH+'/restarted-once';" +
      "if(fs.existsSync(f)){console.log('second run');process.exit(0)}fs.writeFileSync(f,'');setTimeout(()=>{},60000)";
    const creating = up(
      host,
      nodeJob("restart-me", script, {
        waitFor: "completed",
        storageMounts: [{ sourceUri: filesMount(api).source_uri, mountPath: "/mnt/files" }],
        retryPolicy: { maxRestarts: 2, on: ["preemption"], backoffSeconds: 0 },
      }),
    );
    await preemptByName("restart-me");
    const { state } = await creating.catch(async (err: unknown) => {
      const seen = (await apiJobs(api)).find((j) => j.name === "restart-me");
      throw new Error(`${String(err)}; the API last reported ${JSON.stringify(seen)}`);
    });
    expect(state.outputs.status).toBe("COMPLETED");
    expect(state.outputs.restarts).toBe(1);
    const attempts = state.outputs.attempts as { attempt: number; end?: { kind: string } }[];
    expect(attempts.map((a) => [a.attempt, a.end?.kind])).toEqual([
      [0, "preemption"],
      [1, "completed"],
    ]);
    expect(state.outputs.retryPolicy).toEqual({
      maxRestarts: 2,
      on: ["preemption"],
      backoffSeconds: 0,
      maxBackoffSeconds: 600,
    });
  }, 120_000);

  it("is checked like the rest of the job, the failure naming the resource property", async () => {
    const [registration] = await registerWithMocks(
      () =>
        new TrainingJob(
          "bad",
          nodeJob("bad-policy", "0", { retryPolicy: { maxRestarts: 1000, on: ["preemption"] } }),
        ),
    );
    if (!registration) throw new Error("nothing registered");
    const checked = await host.check(registration.urn, {}, registration.inputs);
    expect(checked.failures.map((f) => f.property)).toEqual(["retryPolicy.maxRestarts"]);
    expect(checked.failures[0]?.reason).toContain("at most 100");
  });
});
