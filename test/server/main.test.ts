import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpawnedTrainApi, spawnTrainApi } from "../helpers/train-api";

let server: SpawnedTrainApi;
beforeAll(async () => {
  // No keys configured: the local use case, where the server generates its own key.
  server = await spawnTrainApi({ env: { TRAINKIT_API_KEYS: "" } });
});
afterAll(async () => {
  await server?.kill("SIGKILL");
  if (server) rmSync(server.dataDir, { recursive: true, force: true });
});

/** The lines of a printed command, from its first line to the line that does not continue. */
function printedCommand(output: string, startsWith: string): string {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.trimStart().startsWith(startsWith));
  const command: string[] = [];
  for (const line of lines.slice(start)) {
    command.push(line);
    if (!line.endsWith("\\")) break;
  }
  return command.join("\n");
}

describe("npm start", () => {
  it("prints where the generated key is, and never the key", () => {
    const keyFile = join(server.dataDir, "api-key");
    const key = readFileSync(keyFile, "utf8").trim();
    expect(server.output()).toContain(`API key for account "local" is in ${keyFile}`);
    expect(server.output()).not.toContain(key);
  });

  it("prints curls that submit the quickstart and read it to COMPLETED", async () => {
    const run = promisify(execFile);
    const submit = printedCommand(server.output(), "JOB_ID=$(curl");
    const status = printedCommand(server.output(), "curl -sS");
    let job: { status: string } = { status: "" };
    const { stdout: id } = await run("bash", ["-c", submit]);
    expect(id.trim()).toMatch(/^[0-9a-f-]{36}$/);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && job.status !== "COMPLETED" && job.status !== "FAILED") {
      await new Promise((r) => setTimeout(r, 300));
      const { stdout } = await run("bash", ["-c", `JOB_ID=${id.trim()}; ${status}`]);
      job = JSON.parse(stdout) as { status: string };
    }
    expect(job.status).toBe("COMPLETED");
    const model = JSON.parse(
      readFileSync(join(`${server.dataDir}-runs`, "quickstart-output", "model.json"), "utf8"),
    );
    expect(Object.keys(model)).toContain("weights");
  });
});
