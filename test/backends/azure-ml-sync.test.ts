import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AZURE_ML_API_VERSION,
  AZURE_ML_SUBMITS_PER_MINUTE,
  type AzureMlBackend,
  azureJobName,
  azureMlBackend,
  JOB_ID_TAG,
  JOBS_LIST_FILTER,
} from "../../src/server/backends/azure-ml";
import type { BackendJob, PollResult } from "../../src/server/backends/types";
import { AZURE_ML_SUB, azureMlOnLoopback } from "../helpers/azure-ml-backend";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import { FakeAzure } from "../helpers/fake-azure";
import { published } from "../helpers/published";
import { azureExample } from "../helpers/sgp-examples";

// The backend drives the official @azure/arm-machinelearning client (its Jobs_List pager) against a
// loopback stand-in (fake) for Azure Resource Manager that answers Jobs_List in the shape api-version
// 2024-04-01 publishes, page by page with nextLink, and counts the pages. What the real service
// lists first, and its page size, are not published: the fake's are its own.

const SUB = AZURE_ML_SUB;
const SETTINGS = {
  TRAINKIT_AZUREML_SUBSCRIPTION_ID: SUB,
  TRAINKIT_AZUREML_RESOURCE_GROUP: "ml-rg",
  TRAINKIT_AZUREML_WORKSPACE: "ml-ws",
};
const SPEC = published<{
  path: string;
  queryParameters: Record<string, { default?: string; enum?: string[] }>;
  "x-ms-pageable": { nextLinkName: string };
}>("azure-rest-api-specs/mfe-2024-04-01-jobs-list.json");
const ARM_LIMITS = published<{ limits: Record<string, { refillPerSecond: number }> }>(
  "azure-docs/arm-throttling.json",
);
/** The reconciler's default sync interval (TRAINKIT_SYNC_INTERVAL_MS): two list syncs a minute. */
const SYNCS_PER_MINUTE = 2;

let fake: FakeAzure;
let backend: AzureMlBackend;

beforeAll(async () => {
  fake = await FakeAzure.start();
  backend = azureMlOnLoopback(fake);
});

afterAll(async () => {
  await fake.close();
});

/** A tracked job whose Azure ML job this server submitted earlier, put straight into the fake. */
function tracked(status: string): BackendJob<"azure-ml"> {
  const job = backendJob("azure-ml", azureExampleNamed(), randomUUID());
  const name = azureJobName(job.id, job.request.name);
  fake.addJob(name, { [JOB_ID_TAG]: job.id }, status);
  return {
    ...job,
    cloudJobIdentifier: { job_name: name },
    backendState: { jobName: name, lastStatus: "PENDING" },
  };
}

function azureExampleNamed() {
  return { ...azureExample, name: "sweep" };
}

const statusOf = (reading: PollResult | "unchanged" | undefined) =>
  (reading as PollResult | undefined)?.status;
const jobReads = () => fake.arm("GET", /\/workspaces\/[^/]+\/jobs\/[^/]+$/).length;

describe("the azure-ml backend's list sync", () => {
  it("sends Jobs_List only the filters api-version 2024-04-01 defines, through the SDK's pager", async () => {
    const fresh = backendJob("azure-ml", azureExample);
    const job = submitted(fresh, await backend.submit(fresh));
    const before = fake.jobLists().length;
    await backend.sync([job]);
    const [first] = fake.jobLists().slice(before);
    expect(first!.path).toBe(
      SPEC.path
        .replace("{subscriptionId}", SUB)
        .replace("{resourceGroupName}", "ml-rg")
        .replace("{workspaceName}", "ml-ws"),
    );
    for (const key of first!.query.keys()) expect(Object.keys(SPEC.queryParameters)).toContain(key);
    expect(first!.query.get("api-version")).toBe(AZURE_ML_API_VERSION);
    expect(first!.query.get("tag")).toBe(JOB_ID_TAG);
    expect(first!.query.get("jobType")).toBe("Command");
    expect(SPEC.queryParameters.listViewType!.enum).toContain(JOBS_LIST_FILTER.listViewType);
    expect(first!.query.get("listViewType")).toBe("ActiveOnly");
  });

  it("settles 200 tracked jobs from the list's pages, following nextLink, reading none on its own", async () => {
    fake.listPageSize = 100;
    const statuses = ["Running", "Completed", "Queued", "Failed", "Canceled"];
    const jobs = Array.from({ length: 200 }, (_, i) => tracked(statuses[i % statuses.length]!));
    const listsBefore = fake.jobLists().length;
    const readsBefore = jobReads();

    const settled = await backend.sync(jobs);

    const expected: Record<string, string> = {
      Running: "IN_PROGRESS",
      Completed: "COMPLETED",
      Queued: "PENDING",
      Failed: "FAILED",
      Canceled: "CANCELED",
    };
    jobs.forEach((job, i) => {
      expect(statusOf(settled.get(job.id))).toBe(expected[statuses[i % statuses.length]!]);
    });
    expect(jobReads()).toBe(readsBefore);
    const lists = fake.jobLists().slice(listsBefore);
    // The 200 tracked jobs at 100 a page; pages after the first are the nextLink the page before
    // gave (SPEC's nextLinkName), filters and all.
    expect(SPEC["x-ms-pageable"].nextLinkName).toBe("nextLink");
    expect(lists.length).toBe(2);
    expect(new Set(lists.map((l) => l.query.toString())).size).toBe(lists.length);
    for (const page of lists) expect(page.query.get("tag")).toBe(JOB_ID_TAG);
    const perThousandPerMinute = (lists.length * SYNCS_PER_MINUTE * 1000) / jobs.length;
    expect(perThousandPerMinute).toBeLessThanOrEqual(20);
  });

  it("stops paging once every tracked job has been seen", async () => {
    fake.listPageSize = 10;
    const old = Array.from({ length: 40 }, () => tracked("Completed"));
    const recent = Array.from({ length: 5 }, () => tracked("Running"));
    const before = fake.jobLists().length;
    const settled = await backend.sync(recent);
    for (const job of recent) expect(statusOf(settled.get(job.id))).toBe("IN_PROGRESS");
    // The fake lists newest first: the five recent jobs are on the first page; the 40 old ones
    // (and every job earlier tests made) are never paged through.
    expect(fake.jobLists().length - before).toBe(1);
    expect(old).toHaveLength(40);
  });

  it("leaves out a job the list does not name, or names with another job's tag, for a poll to read", async () => {
    fake.listPageSize = 100;
    const [kept, archived, foreign] = [tracked("Running"), tracked("Running"), tracked("Running")];
    const archivedJob = fake.jobs.get(archived.backendState!.jobName as string)!;
    (archivedJob.properties as Record<string, unknown>).isArchived = true;
    const foreignJob = fake.jobs.get(foreign.backendState!.jobName as string)!;
    (foreignJob.properties as { tags: Record<string, string> }).tags[JOB_ID_TAG] = "someone-else";
    const settled = await backend.sync([kept, archived, foreign]);
    expect(statusOf(settled.get(kept.id))).toBe("IN_PROGRESS");
    expect(settled.has(archived.id)).toBe(false);
    expect(settled.has(foreign.id)).toBe(false);
  });

  it("maps a listed job exactly as a poll of it does, failure reason included", async () => {
    fake.listPageSize = 100;
    const job = tracked("Running");
    fake.setStatus(job.backendState!.jobName as string, "Failed", "Out of GPU memory");
    const fromList = (await backend.sync([job])).get(job.id);
    expect(fromList).toEqual(await backend.poll(job));
    expect((fromList as PollResult).result?.failure_reason).toContain("Out of GPU memory");
  });
});

describe("the azure-ml backend's submission pace", () => {
  it("defaults to half of Azure Resource Manager's published write refill a minute: two writes per submission", () => {
    const writesPerMinute = ARM_LIMITS.limits["Subscription writes"]!.refillPerSecond * 60;
    expect(AZURE_ML_SUBMITS_PER_MINUTE).toBe(writesPerMinute / 2);
    const made = azureMlBackend(SETTINGS, testContext());
    expect("backend" in made && made.backend.submitsPerMinute).toBe(AZURE_ML_SUBMITS_PER_MINUTE);
  });

  it("takes TRAINKIT_AZUREML_SUBMIT_PER_MINUTE, and refuses a value that is not a rate, naming it", () => {
    const made = azureMlBackend({ ...SETTINGS, TRAINKIT_AZUREML_SUBMIT_PER_MINUTE: "40" }, testContext());
    expect("backend" in made && made.backend.submitsPerMinute).toBe(40);
    expect(() =>
      azureMlBackend({ ...SETTINGS, TRAINKIT_AZUREML_SUBMIT_PER_MINUTE: "fast" }, testContext()),
    ).toThrow(/TRAINKIT_AZUREML_SUBMIT_PER_MINUTE must be a number of job submissions per minute above 0/);
  });
});
