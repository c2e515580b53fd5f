import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import {
  isSecret,
  ProviderHost,
  REPO_ROOT,
  type Registration,
  registerWithMocks,
} from "../helpers/provider-host";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// The root Pulumi program (Pulumi.yaml → index.ts) run under the mock runtime on the default stack
// config, and the job it declares sent through the provider host to a real local Train API.

let api: TrainApi;
let dataDir: string;
let job: Registration;

const projectConfig = {
  "trainkit:apiUrl": "http://127.0.0.1:8080",
  "trainkit:accountId": "local",
};

beforeAll(async () => {
  ensureBuilt();
  api = await startTrainApi();
  dataDir = mkdtempSync(path.join(tmpdir(), "trainkit-program-"));
  writeFileSync(path.join(dataDir, "api-key"), `${api.apiKey}\n`);
  process.env.TRAINKIT_DATA_DIR = dataDir;
  pulumi.runtime.setAllConfig(projectConfig);
  const registrations = await registerWithMocks(async () => (await import("../../index.js")).jobId, {
    project: "trainkit-quickstart",
    stack: "dev",
  });
  job = registrations.find((r) => r.type === "pulumi-nodejs:dynamic/trainkit:TrainingJob")!;
});

afterAll(async () => {
  await api?.close();
  for (const dir of [dataDir, `${dataDir}-runs`]) rmSync(dir, { recursive: true, force: true });
});

// What `pulumi up` does with `typescript: true`: register the ts-node @pulumi/pulumi ships (with
// the project's TypeScript and tsconfig.json, type checking on), then require the program.
const UNDER_PULUMIS_TS_NODE = `
const path = require("node:path");
const pulumiDir = path.resolve("node_modules/@pulumi/pulumi");
const tsutils = require(path.join(pulumiDir, "tsutils.js"));
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  project: "tsconfig.json",
  compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true",
    ...tsutils.loadTypeScriptCompilerOptions("tsconfig.json") },
});
const pulumi = require(pulumiDir);
pulumi.runtime.setMocks({
  newResource: (a) => { process.stdout.write(a.type + " " + a.inputs.name + "\\n"); return { id: "x", state: {} }; },
  call: () => ({}),
}, "trainkit-quickstart", "dev", false);
require(path.resolve("index.ts"));
`;

describe("the root Pulumi program", () => {
  it("compiles, type-checked, and registers its job under the ts-node that pulumi runs TypeScript with", () => {
    const out = execFileSync(process.execPath, ["-e", UNDER_PULUMIS_TS_NODE], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, TRAINKIT_DATA_DIR: dataDir },
    });
    expect(out.trim()).toBe("pulumi-nodejs:dynamic/trainkit:TrainingJob quickstart");
  });

  it("runs nodejs on index.ts with the local Train API as default stack config", () => {
    const yaml = readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8");
    expect(yaml).toMatch(/^runtime:\n\s+name: nodejs$/m);
    expect(yaml).toMatch(/^main: index\.ts$/m);
    expect(yaml).toContain("trainkit:apiUrl: http://127.0.0.1:8080");
  });

  it("declares the quickstart job of examples/quickstart with absolute paths", () => {
    const example = path.join(REPO_ROOT, "examples", "quickstart");
    expect(job.inputs).toMatchObject({
      backend: "local",
      name: "quickstart",
      jobConfig: { command: ["python3", "train.py"], working_dir: example },
      storageMounts: [
        { sourceUri: pathToFileURL(path.join(example, "data")).href, mountPath: "/mnt/data", readOnly: true },
        {
          sourceUri: pathToFileURL(path.join(`${dataDir}-runs`, "pulumi-quickstart")).href,
          mountPath: "/mnt/output",
          readOnly: false,
        },
      ],
      waitFor: "completed",
    });
  });

  it("passes the key npm start wrote, as a secret", () => {
    expect(isSecret(job.inputs.apiKey)).toBe(true);
    expect((job.inputs.apiKey as { value: unknown }).value).toBe(api.apiKey);
  });

  it("submits a job that trains to COMPLETED through the provider host", async () => {
    const host = await ProviderHost.start({
      config: { ...projectConfig, "trainkit:apiUrl": api.url, "trainkit:accountId": api.accountId },
    });
    try {
      const checked = await host.check(job.urn, {}, job.inputs);
      expect(checked.failures).toEqual([]);
      const created = await host.create(job.urn, checked.inputs);
      expect(created.outputs).toMatchObject({ status: "COMPLETED", name: "quickstart" });
      const metrics = JSON.parse(
        readFileSync(path.join(`${dataDir}-runs`, "pulumi-quickstart", "metrics.json"), "utf8"),
      ) as { accuracy: number };
      expect(metrics.accuracy).toBeGreaterThan(0.9);
    } finally {
      await host.close();
    }
  });
});
