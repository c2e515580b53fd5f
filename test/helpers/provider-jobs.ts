import { TrainingJob, type TrainingJobArgs } from "../../src/job";
import type { Job } from "../../src/spec";
import {
  type PropertyBag,
  type ProviderHost,
  type Registration,
  type ResourceState,
  registerWithMocks,
} from "./provider-host";

/** A `local` job that runs `script` with this Node binary. */
export function nodeJob(
  name: string,
  script: string,
  extra: Partial<Omit<TrainingJobArgs<"local">, "backend" | "jobConfig">> = {},
): TrainingJobArgs<"local"> {
  return { backend: "local", name, jobConfig: { command: [process.execPath, "-e", script] }, ...extra };
}

export interface Planned {
  readonly registration: Registration;
  /** The inputs `check` returned, secrets marked as the engine keeps them. */
  readonly inputs: PropertyBag;
}

/** Registers a `TrainingJob` under the mock runtime and checks it with the host, failing on any check failure. */
export async function plan(
  host: ProviderHost,
  args: TrainingJobArgs,
  resourceName = "job",
): Promise<Planned> {
  const [registration] = await registerWithMocks(() => new TrainingJob(resourceName, args));
  if (!registration) throw new Error("the TrainingJob registered nothing");
  const checked = await host.check(registration.urn, {}, registration.inputs);
  if (checked.failures.length > 0) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  return { registration, inputs: checked.inputs };
}

/** What `pulumi up` does for a new job: register, check, create. */
export async function up(host: ProviderHost, args: TrainingJobArgs, resourceName = "job") {
  const planned = await plan(host, args, resourceName);
  const state: ResourceState = await host.create(planned.registration.urn, planned.inputs);
  return { ...planned, state };
}

/** The job as the API reports it, read directly (not through the provider). */
export async function apiJob(
  api: { url: string; apiKey: string; accountId: string },
  id: string,
): Promise<Job> {
  const res = await fetch(`${api.url}/v1/jobs/${id}`, {
    headers: { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId },
  });
  if (!res.ok) throw new Error(`GET /v1/jobs/${id} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Job;
}

/** Every job the account has, newest first (all pages). */
export async function apiJobs(api: { url: string; apiKey: string; accountId: string }): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : "?limit=100";
    const res = await fetch(`${api.url}/v1/jobs${query}`, {
      headers: { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId },
    });
    const page = (await res.json()) as { items: Job[]; next_cursor: string | null };
    jobs.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return jobs;
}
