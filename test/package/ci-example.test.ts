import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { REPO_ROOT } from "../helpers/provider-host";

// The example pull-request workflow, checked against the inputs pulumi/actions v7.0.0 publishes
// (test/fixtures/published/pulumi-actions/inputs.json). GitHub itself runs nothing here.

const published = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "test/fixtures/published/pulumi-actions/inputs.json"), "utf8"),
) as { inputs: Record<string, string | null>; runsUsing: string };

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

/** A GitHub Actions expression as written in a workflow: `${{ ... }}`. */
const expression = (inner: string) => `$${"{{"} ${inner} }}`;

const workflow = YAML.parse(readFileSync(path.join(REPO_ROOT, "examples/ci/pulumi-preview.yml"), "utf8"));
const steps = workflow.jobs.preview.steps as Step[];
const pulumiStep = steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;

describe("the example pull-request workflow", () => {
  it("runs on pull requests and may comment on them", () => {
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(workflow.permissions["pull-requests"]).toBe("write");
  });

  it("gives pulumi/actions only inputs its v7 publishes, and previews with a comment", () => {
    expect(pulumiStep.uses).toBe("pulumi/actions@v7");
    const unknown = Object.keys(pulumiStep.with!).filter((k) => !(k in published.inputs));
    expect(unknown).toEqual([]);
    expect(pulumiStep.with).toMatchObject({ command: "preview", "comment-on-pr": true });
    // comment-on-pr defaults to off in the published action; the example must turn it on.
    expect(published.inputs["comment-on-pr"]).toBe("false");
  });

  it("previews both the platform and the jobs stack", () => {
    const projects = workflow.jobs.preview.strategy.matrix.include.map((m: { project: string }) => m.project);
    expect(projects).toEqual(["platform", "jobs"]);
    expect(pulumiStep.with!["work-dir"]).toBe(expression("matrix.project"));
  });

  it("passes the Train API key from a CI secret under the name TrainingJob reads", () => {
    expect(pulumiStep.env!.TRAINKIT_API_KEY).toBe(expression("secrets.TRAINKIT_API_KEY"));
    const source = readFileSync(path.join(REPO_ROOT, "src/job/training-job.ts"), "utf8");
    expect(source).toContain("TRAINKIT_API_KEY");
    const everyValue = JSON.stringify(steps);
    expect(everyValue).not.toMatch(/TRAINKIT_API_KEY: [^$]/);
  });

  it("installs the Node.js release the action itself runs on or later", () => {
    const setupNode = steps.find((s) => s.uses?.startsWith("actions/setup-node@"))!;
    expect(published.runsUsing).toBe("node24");
    expect(Number(setupNode.with!["node-version"])).toBeGreaterThanOrEqual(24);
  });
});
