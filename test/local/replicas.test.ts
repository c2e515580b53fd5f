import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LocalBackendState } from "../../src/server/backends/local";
import type { BackendJob } from "../../src/server/backends/types";
import { afterSubmit, LocalHarness, nodeJob, pollUntil } from "../helpers/local-harness";

// Several replicas of the Train API share one store but each has its own data directory. A local
// job belongs to the replica that started it; the others must never report it gone.

let a: LocalHarness;
let b: LocalHarness;
beforeEach(() => {
  a = new LocalHarness();
  b = new LocalHarness();
});
afterEach(async () => {
  await a.dispose();
  await b.dispose();
});

/** The job as another machine's replica would have recorded it in the shared store. */
function startedElsewhere(job: BackendJob<"local">): BackendJob<"local"> {
  const state: LocalBackendState = {
    job_dir: `/srv/trainkit/local/${job.id}`,
    supervisor: { pid: 4242, start_time: "1" },
    owner: { host: "gpu-node-7", boot_id: "0f0e0d0c-0000-4000-8000-000000000000", data_dir: "/srv/trainkit" },
  };
  return { ...job, cloudJobIdentifier: { job_dir: state.job_dir, host: "gpu-node-7" }, backendState: state };
}

describe("local jobs under several replicas with separate data directories", () => {
  it("records the replica that started a job: its machine and data directory", async () => {
    const job = nodeJob("0");
    const submitted = await a.backend().submit(job);
    expect(submitted.backendState?.owner).toMatchObject({ data_dir: a.dataDir });
    expect(submitted.cloudJobIdentifier.host).toEqual(expect.any(String));
  });

  it("lets a replica on the same machine follow another replica's job to COMPLETED, not 'process gone'", async () => {
    const job = nodeJob("setTimeout(() => {}, 300)");
    const submitted = afterSubmit(job, await a.backend().submit(job));
    const done = await pollUntil(b.backend(), submitted, ["COMPLETED", "FAILED"]);
    expect(done).toMatchObject({ status: "COMPLETED", result: { exit_code: 0 } });
  });

  it("leaves a job started on another machine IN_PROGRESS for its own replica to report", async () => {
    const result = await b.backend().poll(startedElsewhere(nodeJob("0")));
    expect(result).toEqual({ status: "IN_PROGRESS" });
  });

  it("leaves the cancel of a job started on another machine to that machine's replica", async () => {
    await expect(b.backend().cancel(startedElsewhere(nodeJob("0")))).resolves.toBeUndefined();
  });

  it("answers logs of a job started on another machine with 409 naming where it runs", async () => {
    const err = await b
      .backend()
      .logs(startedElsewhere(nodeJob("0")), { stream: "stdout", tail: 10 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: "local_job_on_another_replica" });
    expect((err as Error).message).toContain(
      "runs on gpu-node-7, under the replica whose data directory is /srv/trainkit",
    );
  });
});
