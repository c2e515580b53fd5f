import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import { REPO_ROOT } from "../helpers/provider-host";
import { installedFromTarball, type UserProject } from "../helpers/provider-project";

// A user's TypeScript program, type-checked by the TypeScript compiler this repository builds with,
// against trainkit installed from its `npm pack` tarball, under each module resolution a Pulumi
// project uses. Parsed declaration files are shared between the four programs, so the whole check
// costs about one cold compile.

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { TrainingPlatform } from "trainkit/gcp";
import { GpuSupport } from "trainkit/kubernetes";
import { TrainingJob } from "trainkit/job";
import { GPUS } from "trainkit/gpu";
import { CREATE_JOB_REQUESTS, type Job } from "trainkit/spec";

const platform = new TrainingPlatform("ml", {
  api: { image: "europe-docker.pkg.dev/acme/ml/train-api:1", apiKeys: pulumi.secret({ key: ["team"] }) },
});
// @ts-expect-error the platform's api settings are required: proves the types are trainkit's, not any
new TrainingPlatform("incomplete", {});
export const bucket: pulumi.Output<string> = platform.dataBucket.name;
export const gpus: readonly string[] = GPUS;
export const support = GpuSupport;
export const parse = CREATE_JOB_REQUESTS.local.safeParse;
export type Answer = Job["status"];
export const job = new TrainingJob("train", {
  backend: "local",
  name: "train",
  jobConfig: { command: ["python3", "train.py"] },
});
`;

const RESOLUTIONS = [
  { moduleResolution: "node10", module: "commonjs" },
  { moduleResolution: "node16", module: "node16" },
  { moduleResolution: "nodenext", module: "nodenext" },
  { moduleResolution: "bundler", module: "esnext" },
] as const;

let project: UserProject;
const parsed = new Map<string, ts.SourceFile | undefined>();

function diagnosticsUnder(resolution: (typeof RESOLUTIONS)[number]): string[] {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    { strict: true, skipLibCheck: true, target: "es2020", noEmit: true, ...resolution },
    project.dir,
  );
  expect(errors).toEqual([]);
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) => {
    const key = `${file}\0${JSON.stringify(language)}`;
    if (!parsed.has(key)) parsed.set(key, read(file, language, ...rest));
    return parsed.get(key);
  };
  const program = ts.createProgram([path.join(project.dir, "index.ts")], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
}

beforeAll(() => {
  ensureBuilt();
  project = installedFromTarball();
  writeFileSync(path.join(project.dir, "index.ts"), PROGRAM);
});

afterAll(() => project?.remove());

describe("a user's program importing trainkit's subpaths", () => {
  for (const resolution of RESOLUTIONS) {
    it(`type-checks under "moduleResolution": "${resolution.moduleResolution}"`, () => {
      expect(diagnosticsUnder(resolution)).toEqual([]);
    });
  }

  it("finds no types for a subpath trainkit does not export, under node10 as under nodenext", () => {
    writeFileSync(path.join(project.dir, "index.ts"), 'export { TrainingPlatform } from "trainkit/gcpx";\n');
    parsed.clear();
    try {
      for (const resolution of [RESOLUTIONS[0], RESOLUTIONS[2]]) {
        expect(diagnosticsUnder(resolution).join("\n")).toMatch(/Cannot find module 'trainkit\/gcpx'/);
      }
    } finally {
      writeFileSync(path.join(project.dir, "index.ts"), PROGRAM);
      parsed.clear();
    }
  });
});

describe("package.json", () => {
  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));

  it("maps every exported subpath's types for resolvers that ignore exports (typesVersions)", () => {
    const fromExports = Object.entries(manifest.exports as Record<string, { types?: string }>)
      .filter(([subpath, target]) => subpath !== "." && typeof target === "object")
      .map(([subpath, target]) => [subpath.slice(2), [target.types!.slice(2)]]);
    expect(manifest.typesVersions["*"]).toEqual(Object.fromEntries(fromExports));
  });
});

describe("the cloud components' declarations", () => {
  // zod 4's declarations fail to type-check under "moduleResolution": "node" without esModuleInterop,
  // which is how Pulumi's TypeScript template starts a project (colinhacks/zod#5160). The components
  // must not reach them; TrainingJob and the schemas do, and the README says what they need.
  function declarationsReachedFrom(entry: string): Map<string, string> {
    const seen = new Map<string, string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      const text = readFileSync(file, "utf8");
      seen.set(file, text);
      for (const match of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
        const base = path.resolve(path.dirname(file), match[1]!);
        const next = [`${base}.d.ts`, path.join(base, "index.d.ts")].find((c) => existsSync(c));
        if (next) visit(next);
      }
    };
    visit(path.join(REPO_ROOT, "dist", entry));
    return seen;
  }

  for (const cloud of ["gcp", "aws", "azure", "kubernetes"]) {
    it(`of trainkit/${cloud} never import zod`, () => {
      const reached = declarationsReachedFrom(`${cloud}/index.d.ts`);
      expect(reached.size).toBeGreaterThan(3);
      const importingZod = [...reached].filter(([, text]) => /from "zod"|import\("zod"\)/.test(text));
      expect(importingZod.map(([file]) => path.relative(REPO_ROOT, file))).toEqual([]);
    });
  }

  it("of trainkit/job do reach zod, so the check above can see it", () => {
    const reached = declarationsReachedFrom("job/index.d.ts");
    expect([...reached.values()].some((text) => /from "zod"/.test(text))).toBe(true);
  });
});
