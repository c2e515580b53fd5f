import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { quickstartJobRequest } from "../../src/quickstart";
import { ensureCliBuilt } from "../helpers/provider-build";
import { REPO_ROOT } from "../helpers/provider-host";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// The CLI as a user runs it: the built bin in its own process, against a real Train API on loopback
// with the local backend running real processes. Its output is piped here, so it prints plain lines.

const BIN = join(REPO_ROOT, "packages", "server", "dist", "cli", "main.js");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let api: TrainApi;
let dir: string;

/** Runs the CLI with the test server's settings in its environment, as a user who exported them would. */
function trainkit(args: string[], env: NodeJS.ProcessEnv = {}, command = process.execPath): Promise<Run> {
  const argv = command === process.execPath ? [BIN, ...args] : args;
  return new Promise((resolve) => {
    execFile(
      command,
      argv,
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          TRAINKIT_API_URL: api.url,
          TRAINKIT_API_KEY: api.apiKey,
          TRAINKIT_ACCOUNT_ID: api.accountId,
          ...env,
        },
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A local job request that runs a short Python program, written to a file as JSON or YAML. */
function requestFile(name: string, script: string, format: "json" | "yaml" = "json"): string {
  const body = {
    name,
    job_config: { command: ["python3", "-u", "-c", script], working_dir: "." },
    storage_mounts: [],
  };
  const file = join(dir, `${name}.${format}`);
  writeFileSync(file, format === "json" ? JSON.stringify(body) : toYaml(body));
  return file;
}

async function submit(file: string): Promise<string> {
  const run = await trainkit(["submit", file, "--backend", "local"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const id = run.stdout.trim();
  expect(id).toMatch(UUID);
  return id;
}

beforeAll(async () => {
  ensureCliBuilt();
  dir = mkdtempSync(join(tmpdir(), "trainkit-cli-"));
  // Local jobs may run as users of their own (see the local backend's isolation): let them in.
  chmodSync(dir, 0o777);
  api = await startTrainApi({ followIntervalMs: 200 });
}, 240_000);

afterAll(async () => {
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("trainkit submit and wait", () => {
  it("submits the quickstart job from YAML, prints only its id, and wait exits 0 once it COMPLETED", async () => {
    const outputDir = join(dir, "quickstart-output");
    const file = join(dir, "quickstart.yaml");
    writeFileSync(file, toYaml(quickstartJobRequest({ outputDir })));
    const id = await submit(file);

    const waited = await trainkit(["wait", id, "--interval", "0.2"]);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain(`job ${id} (quickstart) ended COMPLETED after`);
    // Piped: each status change is one plain line, never a redrawn status line.
    expect(waited.stdout).not.toContain("\r");
    expect(waited.stdout.trim().split("\n").at(-1)).toMatch(/ended COMPLETED/);
    const metrics = JSON.parse(readFileSync(join(outputDir, "metrics.json"), "utf8")) as { accuracy: number };
    expect(metrics.accuracy).toBeGreaterThan(0.9);
  });

  it("takes a local job's relative working_dir from the request file's directory", async () => {
    const id = await submit(requestFile("relative", "import os; print(os.getcwd())"));
    expect((await trainkit(["wait", id, "--interval", "0.2"])).code).toBe(0);
    const logs = await trainkit(["logs", id]);
    expect(logs.stdout.trim()).toBe(dir);
  });

  it("exits 1 with the failure reason when the job FAILED", async () => {
    const id = await submit(
      requestFile("fails", "import sys; print('working'); sys.exit('out of memory in step 3')"),
    );
    const waited = await trainkit(["wait", id, "--interval", "0.2"]);
    expect(waited.code).toBe(1);
    expect(waited.stdout).toMatch(
      new RegExp(`job ${id} \\(fails\\) ended FAILED after \\d+s: .*out of memory in step 3`, "s"),
    );
  });

  it("exits 3 for a job that was canceled, after cancel asked it to stop", async () => {
    const id = await submit(requestFile("sleeps", "import time; time.sleep(600)"));
    await trainkit(["wait", id, "--for", "running", "--interval", "0.2"]);
    const canceled = await trainkit(["cancel", id]);
    expect(canceled.code).toBe(0);
    expect(canceled.stdout).toContain(`job ${id}: cancel requested`);
    const waited = await trainkit(["wait", id, "--interval", "0.2"]);
    expect(waited.code).toBe(3);
    expect(waited.stdout).toContain("ended CANCELED");
    const again = await trainkit(["cancel", id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`job ${id} had already ended CANCELED; nothing to cancel`);
  });

  it("exits 5 when --timeout passes while the job still runs, and says it keeps running", async () => {
    const id = await submit(requestFile("slow", "import time; time.sleep(600)"));
    const waited = await trainkit(["wait", id, "--timeout", "0.5", "--interval", "0.2"]);
    expect(waited.code).toBe(5);
    expect(waited.stderr).toContain(`job ${id} is still`);
    expect(waited.stderr).toContain(`\`trainkit cancel ${id}\``);
    await trainkit(["cancel", id]);
  });
});

describe("trainkit logs", () => {
  it("follows a job's output with -f: every line once, in order, then exit 0 when it COMPLETED", async () => {
    const script = "import time\nfor i in range(8):\n    print(f'step {i}')\n    time.sleep(0.3)\n";
    const id = await submit(requestFile("counts", script));
    const followed = await trainkit(["logs", id, "-f", "--interval", "0.2"]);
    expect(followed.code).toBe(0);
    const lines = followed.stdout.trim().split("\n");
    expect(lines.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `step ${i}`));
    expect(lines.at(-1)).toMatch(new RegExp(`job ${id} \\(counts\\) ended COMPLETED`));
  });

  it("follows a failing job to exit 1 with the reason on stderr", async () => {
    const id = await submit(
      requestFile(
        "breaks",
        "import sys, time\nprint('loading', flush=True)\ntime.sleep(0.5)\nsys.exit('bad batch')\n",
      ),
    );
    const followed = await trainkit(["logs", id, "-f", "--interval", "0.2"]);
    expect(followed.code).toBe(1);
    expect(followed.stdout.trim()).toBe("loading");
    expect(followed.stderr).toMatch(/ended FAILED after \d+s: .*bad batch/s);
  });

  it("prints the last --tail lines of stderr", async () => {
    const id = await submit(
      requestFile("errs", "import sys\nfor i in range(5): print(f'e{i}', file=sys.stderr)"),
    );
    await trainkit(["wait", id, "--interval", "0.2"]);
    const logs = await trainkit(["logs", id, "--stream", "stderr", "--tail", "2"]);
    expect(logs.stdout).toBe("e3\ne4\n");
  });
});

describe("trainkit list and get", () => {
  it("lists the account's jobs newest first and prints one job as JSON", async () => {
    const id = await submit(requestFile("listed", "print('hi')"));
    const listed = await trainkit(["list", "--limit", "3"]);
    expect(listed.code).toBe(0);
    const [header, first, ...rest] = listed.stdout.trim().split("\n");
    expect(header).toMatch(/^ID +NAME +BACKEND +STATUS +CREATED$/);
    expect(first).toMatch(new RegExp(`^${id} +listed +local +\\w+ +\\d{4}-`));
    expect(rest).toHaveLength(2);

    const json = await trainkit(["list", "--json", "--limit", "1"]);
    expect(JSON.parse(json.stdout.trim()).id).toBe(id);

    const got = await trainkit(["get", id]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, name: "listed", job_type: "local" });
  });

  it("pages through more jobs than one answer holds", async () => {
    const listed = await trainkit(["list", "--limit", "150", "--json"]);
    const ids = listed.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(9);
  });
});

describe("trainkit errors", () => {
  it("names the job and how to find the right one when the id is unknown", async () => {
    const run = await trainkit(["get", "00000000-0000-4000-8000-000000000000"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "trainkit: job 00000000-0000-4000-8000-000000000000 does not exist in account acct-1; check the id, or the account (--account, TRAINKIT_ACCOUNT_ID); `trainkit list` shows the account's jobs\n",
    );
  });

  it("names the field and the file when the request is invalid, and sends nothing", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, toYaml({ name: "bad", job_config: { command: [] } }));
    const run = await trainkit(["submit", file, "--backend", "local"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${file} is not a valid local job request: job_config.command: must hold at least the program to run`,
    );
  });

  it("names the backends when --backend is wrong or missing", async () => {
    const wrong = await trainkit(["submit", "x.json", "--backend", "gpu-cloud"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      "--backend must be one of vertex-ai, sagemaker, azure-ml, kubernetes, local",
    );
    const missing = await trainkit(["submit", "x.json"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '-b, --backend <backend>' not specified");
  });

  it("says which settings are missing and where to set them", async () => {
    const run = await trainkit(["list"], {
      TRAINKIT_API_URL: "",
      TRAINKIT_API_KEY: "",
      TRAINKIT_ACCOUNT_ID: "",
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("the Train API URL (--api-url, TRAINKIT_API_URL or apiUrl)");
    expect(run.stderr).toContain(
      "are not set; set them with a flag, an environment variable or the config file",
    );
  });

  it("exits 6 and points at the key when the API refuses it, without printing the key", async () => {
    const run = await trainkit(["list"], { TRAINKIT_API_KEY: "tk_wrong_key_never_shown" });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain("answered 401 unauthenticated");
    expect(run.stderr).toContain("check the API key (TRAINKIT_API_KEY, --api-key-file or the config file)");
    expect(run.stderr).not.toContain("tk_wrong_key_never_shown");
  });

  it("exits 6 and says to start the server when nothing answers at the URL", async () => {
    const run = await trainkit(["list"], { TRAINKIT_API_URL: "http://127.0.0.1:9" });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain("check that the Train API runs there (`npm start` starts one here)");
  });
});

describe("trainkit settings", () => {
  it("reads the URL, key file and account from a YAML config file", async () => {
    writeFileSync(join(dir, "key"), `${api.apiKey}\n`);
    const config = join(dir, "trainkit.yaml");
    writeFileSync(
      config,
      toYaml({ apiUrl: api.url, apiKeyFile: join(dir, "key"), accountId: api.accountId }),
    );
    const run = await trainkit(["--config", config, "list", "--limit", "1"], {
      TRAINKIT_API_URL: "",
      TRAINKIT_API_KEY: "",
      TRAINKIT_ACCOUNT_ID: "",
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ID +NAME/);
  });

  it("prefers a flag over the environment", async () => {
    const run = await trainkit(["--account", "acct-2", "list"]);
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('may not act for account "acct-2"');
    expect(run.stderr).toContain("act for an account the key may use (--account, TRAINKIT_ACCOUNT_ID)");
  });

  it("names a config file key it does not know", async () => {
    const config = join(dir, "typo.yaml");
    writeFileSync(config, "apiURL: http://127.0.0.1:1\n");
    const run = await trainkit(["--config", config, "list"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`config file ${config} is invalid`);
    expect(run.stderr).toContain("apiURL");
  });
});

describe("npx trainkit from the checkout", () => {
  it("runs the package's own bin and documents every command in --help", async () => {
    // The trainkit-server workspace's bin, linked into node_modules/.bin by the repository's npm
    // install; npx finds it there (with a temporary cache, offline: nothing is downloaded).
    const cache = mkdtempSync(join(tmpdir(), "trainkit-npx-"));
    try {
      const run = await new Promise<Run>((resolve) => {
        execFile(
          "npx",
          ["trainkit", "--help"],
          {
            cwd: REPO_ROOT,
            env: {
              PATH: process.env.PATH,
              HOME: cache,
              npm_config_cache: cache,
              npm_config_offline: "true",
              npm_config_ignore_scripts: "true",
              npm_config_update_notifier: "false",
            },
            timeout: 120_000,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
        );
      });
      expect(run.code).toBe(0);
      for (const command of ["submit", "list", "get", "logs", "cancel", "wait"]) {
        expect(run.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
      }
      expect(run.stdout).toContain("Exit codes:");
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("documents each command's options in its own --help", async () => {
    const run = await trainkit(["logs", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("-f, --follow");
    expect(run.stdout).toContain("--stream <stream>");
  });
});
