import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import { type PropertyBag, ProviderHost, REPO_ROOT, secret } from "../helpers/provider-host";
import { apiJob } from "../helpers/provider-jobs";
import { installedFromTarball, type UserProject } from "../helpers/provider-project";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// A user's project that installed trainkit from the `npm pack` tarball: its program (plain
// JavaScript, requiring trainkit by name) produces the serialized provider, and the provider host
// started in that project loads the provider from the installed package.

let api: TrainApi;
let project: UserProject;

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { TrainingJob } = require("trainkit/job");
const registered = [];
pulumi.runtime.setMocks(
  { newResource: (args) => { registered.push(args.inputs); return { id: "pending", state: {} }; }, call: () => ({}) },
  "user-project", "dev", false,
);
const job = new TrainingJob("job", {
  backend: "local",
  name: "from-tarball",
  jobConfig: { command: [process.execPath, "-e", "setTimeout(() => {}, 500)"] },
  waitFor: "completed",
});
job.urn.apply(() => process.stdout.write(JSON.stringify(registered[0])));
`;

beforeAll(async () => {
  ensureBuilt();
  project = installedFromTarball();
  api = await startTrainApi();
});

afterAll(async () => {
  await api?.close();
  project?.remove();
});

describe("trainkit installed from its tarball", () => {
  it("resolves trainkit/job/provider to the installed package, not this repository", () => {
    const resolved = execFileSync(process.execPath, ["-p", 'require.resolve("trainkit/job/provider")'], {
      cwd: project.dir,
      encoding: "utf8",
    }).trim();
    expect(resolved).toBe(path.join(realpathSync(project.dir), "node_modules/trainkit/dist/job/provider.js"));
    expect(resolved.startsWith(REPO_ROOT)).toBe(false);
  });

  it("runs a job's whole life from the user's program through the host in the user's project", async () => {
    writeFileSync(path.join(project.dir, "index.js"), PROGRAM);
    const inputs = JSON.parse(
      execFileSync(process.execPath, ["index.js"], { cwd: project.dir, encoding: "utf8" }),
    ) as PropertyBag;
    expect(inputs.__provider).toContain('load("trainkit/job/provider")');

    const host = await ProviderHost.start({
      cwd: project.dir,
      config: {
        "trainkit:apiUrl": api.url,
        "trainkit:apiKey": secret(api.apiKey),
        "trainkit:accountId": api.accountId,
      },
    });
    try {
      const urn = "urn:pulumi:dev::user-project::pulumi-nodejs:dynamic/trainkit:TrainingJob::job";
      const checked = await host.check(urn, {}, inputs);
      expect(checked.failures).toEqual([]);
      const created = await host.create(urn, checked.inputs);
      expect(created.outputs).toMatchObject({ status: "COMPLETED", name: "from-tarball" });
      const read = await host.read(created.id, urn, created.outputs, checked.inputs);
      expect(read?.outputs.status).toBe("COMPLETED");
      await host.delete(created.id, urn, created.outputs);
      expect((await apiJob(api, created.id)).status).toBe("COMPLETED");
    } finally {
      await host.close();
    }
  });

  it("ships a LICENSE, and source maps whose sources are inside them", () => {
    const installed = path.join(project.dir, "node_modules/trainkit");
    expect(readFileSync(path.join(installed, "LICENSE"), "utf8")).toMatch(/Apache License\s+Version 2\.0/);
    const maps = (readdirSync(path.join(installed, "dist"), { recursive: true }) as string[]).filter((f) =>
      f.endsWith(".js.map"),
    );
    expect(maps.length).toBeGreaterThan(20);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(path.join(installed, "dist", file), "utf8"));
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent.every((text: unknown) => typeof text === "string" && text.length > 0)).toBe(
        true,
      );
    }
  });
});
