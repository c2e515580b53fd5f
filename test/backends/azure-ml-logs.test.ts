import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AzureMlBackend } from "../../src/server/backends/azure-ml";
import type { BackendJob } from "../../src/server/backends/types";
import { BackendError } from "../../src/server/backends/types";
import { AZURE_ML_SUB, AZURE_ML_WORKSPACE_ID, azureMlOnLoopback } from "../helpers/azure-ml-backend";
import { backendJob, submitted } from "../helpers/backend-job";
import { FakeAzure } from "../helpers/fake-azure";
import { published } from "../helpers/published";
import { azureExample } from "../helpers/sgp-examples";

// Azure ML job logs read through @azure/core-rest-pipeline and @azure/identity against FakeAzure, a
// loopback stand-in for the identity platform, ARM, run history and Blob Storage.

const SUB = AZURE_ML_SUB;
const WS = AZURE_ML_WORKSPACE_ID;
const RUN_HISTORY = published<Record<string, unknown>>("azure-rest-api-specs/run-history-2019-08-01.json");

let fake: FakeAzure;

function makeBackend(logReadBytes?: number): AzureMlBackend {
  return azureMlOnLoopback(fake, { maxAttempts: 2, ...(logReadBytes ? { logReadBytes } : {}) });
}

async function submittedJob(
  backend: AzureMlBackend,
  request: unknown = azureExample,
): Promise<{ job: BackendJob<"azure-ml">; name: string }> {
  const job = backendJob("azure-ml", request);
  const result = await backend.submit(job);
  return { job: submitted(job, result), name: result.cloudJobIdentifier.job_name! };
}

beforeAll(async () => {
  fake = await FakeAzure.start();
});

afterAll(async () => {
  await fake.close();
});

describe("the azure-ml backend's logs", () => {
  it("answers 409 logs_not_available while run history lists no output file for the job", async () => {
    const backend = makeBackend();
    const { job } = await submittedJob(backend);
    const err = await backend.logs(job, { stream: "stdout", tail: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).status).toBe(409);
    expect((err as BackendError).code).toBe("logs_not_available");
  });

  it("reads the last lines of user_logs/std_log.txt through the run history path the spec publishes", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log.txt", "epoch 1\nepoch 2\nepoch 3\n");
    fake.writeLog(name, "system_logs/lifecycler/execution-wrapper.log", "not the job's output\n");

    const logs = await backend.logs(job, { stream: "stdout", tail: 2 });

    expect(logs.lines).toEqual(["epoch 2", "epoch 3"]);
    expect(logs.entries).toEqual([{ text: "epoch 2" }, { text: "epoch 3" }]);
    const details = fake.cloud.received("GET", /\/details$/).at(-1)!;
    const template = RUN_HISTORY["Runs_GetDetails.path"] as string;
    expect(details.path).toBe(
      template
        .replace(
          "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
          `/subscriptions/${SUB}/resourceGroups/ml-rg`,
        )
        .replace("{workspaceName}", "ml-ws")
        .replace("{experimentName}", "Default")
        .replace("{runId}", name),
    );
    expect(details.path.startsWith(`/history/v1.0${WS}/`)).toBe(true);
    // The run history token is for the Azure ML data plane; the blob reads carry only the SAS.
    const token = details.headers.authorization!.replace(/^Bearer /, "");
    expect(fake.issuedTokens.get(token)).toBe(RUN_HISTORY["security.scope (run-history v1.0 stable)"]);
    for (const read of fake.blobReads()) expect(read.headers.authorization).toBeUndefined();
  });

  it("continues from next_cursor with only what was written since, holding back a line not yet ended", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log.txt", "one\ntwo\n");
    const first = await backend.logs(job, { stream: "stdout", tail: 100 });
    expect(first.lines).toEqual(["one", "two"]);

    fake.writeLog(name, "user_logs/std_log.txt", "three\nfou");
    const second = await backend.logs(job, { stream: "stdout", tail: 100, cursor: first.next_cursor! });
    expect(second.lines).toEqual(["three"]);

    fake.writeLog(name, "user_logs/std_log.txt", "r\n");
    const third = await backend.logs(job, { stream: "stdout", tail: 100, cursor: second.next_cursor! });
    expect(third.lines).toEqual(["four"]);

    const fourth = await backend.logs(job, { stream: "stdout", tail: 100, cursor: third.next_cursor! });
    expect(fourth.lines).toEqual([]);
    expect(fourth.next_cursor).toBe(third.next_cursor);
  });

  it("reads a log larger than one ranged read over several, each starting where the last ended", async () => {
    const backend = makeBackend(16);
    const { job, name } = await submittedJob(backend);
    const text = Array.from({ length: 12 }, (_, i) => `line ${i + 1}\n`).join("");
    fake.writeLog(name, "user_logs/std_log.txt", text);
    const start = fake.blobReads().length;

    const logs = await backend.logs(job, {
      stream: "stdout",
      tail: 100,
      cursor: Buffer.from("[]").toString("base64url"),
    });

    expect(logs.lines).toEqual(Array.from({ length: 12 }, (_, i) => `line ${i + 1}`));
    const ranges = fake
      .blobReads()
      .slice(start)
      .map((r) => r.headers["x-ms-range"]);
    expect(ranges.length).toBeGreaterThan(3);
    expect(ranges[0]).toBe("bytes=0-15");
    // Each read starts after the last whole line the one before returned.
    expect(ranges[1]).toBe(`bytes=14-29`);
  });

  it("stops at tail lines and continues with the rest from the cursor", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log.txt", "a\nb\nc\nd\ne\n");
    const start = Buffer.from("[]").toString("base64url");
    const first = await backend.logs(job, { stream: "stdout", tail: 3, cursor: start });
    expect(first.lines).toEqual(["a", "b", "c"]);
    const rest = await backend.logs(job, { stream: "stdout", tail: 3, cursor: first.next_cursor! });
    expect(rest.lines).toEqual(["d", "e"]);
  });

  it("reads every process's file and says which process wrote each line", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log_process_1.txt", "rank 1 ready\n");
    fake.writeLog(name, "user_logs/std_log_process_0.txt", "rank 0 ready\n");

    const logs = await backend.logs(job, { stream: "stdout", tail: 10 });

    expect(logs.entries).toEqual([
      { text: "rank 0 ready", source: "process_0" },
      { text: "rank 1 ready", source: "process_1" },
    ]);
  });

  it("returns a last line without a line break once the job has ended", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log.txt", "done\nexit code 0");
    const running = await backend.logs(job, { stream: "stdout", tail: 10 });
    expect(running.lines).toEqual(["done"]);

    fake.setStatus(name, "Completed");
    const ended = await backend.logs(job, { stream: "stdout", tail: 10, cursor: running.next_cursor! });
    expect(ended.lines).toEqual(["exit code 0"]);
  });

  it("reads the run from the experiment the job names", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend, {
      ...azureExample,
      job_config: { ...azureExample.job_config, experiment_name: "mnist-sweeps" },
    });
    fake.writeLog(name, "user_logs/std_log.txt", "hello\n");
    const logs = await backend.logs(job, { stream: "stdout", tail: 10 });
    expect(logs.lines).toEqual(["hello"]);
    expect(fake.cloud.received("GET", /\/details$/).at(-1)!.path).toContain(
      "/experiments/mnist-sweeps/runs/",
    );
  });

  it("refuses stream=stderr, saying both streams are in stdout", async () => {
    const backend = makeBackend();
    const { job } = await submittedJob(backend);
    await expect(backend.logs(job, { stream: "stderr", tail: 10 })).rejects.toMatchObject({
      status: 400,
      code: "stream_not_separated",
    });
  });

  it("refuses a cursor it did not issue, saying to pass next_cursor unchanged", async () => {
    const backend = makeBackend();
    const { job, name } = await submittedJob(backend);
    fake.writeLog(name, "user_logs/std_log.txt", "x\n");
    const forged = Buffer.from(JSON.stringify(["../../etc/passwd", 0])).toString("base64url");
    await expect(backend.logs(job, { stream: "stdout", tail: 10, cursor: forged })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("pass next_cursor"),
    });
  });
});
