import { randomUUID } from "node:crypto";
import type { BackendRegistry } from "../../src/server/backends";
import type {
  Backend as BackendApi,
  BackendContext,
  BackendJob,
  BackendLogger,
  SubmitResult,
} from "../../src/server/backends/types";
import { type Backend, CREATE_JOB_REQUESTS, type CreateJobRequest } from "../../src/spec";

/** A job as the server hands it to a backend: the request parsed with the API's own schema. */
export function backendJob<B extends Backend>(
  backend: B,
  request: unknown,
  id: string = randomUUID(),
): BackendJob<B> {
  return {
    id,
    accountId: "acct-test",
    backend,
    request: CREATE_JOB_REQUESTS[backend].parse(request) as BackendJob<B>["request"],
    cloudJobIdentifier: null,
    backendState: null,
  };
}

/** The job as the server holds it after `submit` returned. */
export function submitted<B extends Backend>(job: BackendJob<B>, result: SubmitResult): BackendJob<B> {
  return { ...job, cloudJobIdentifier: result.cloudJobIdentifier, backendState: result.backendState ?? null };
}

/** A Kubernetes job request, in `namespace` when given (the backend's own otherwise). */
export const kubernetesRequest = (namespace?: string): CreateJobRequest<"kubernetes"> => ({
  name: "sweep",
  job_config: {
    image: "registry.example/train:v1",
    command: ["python3", "train.py"],
    ...(namespace ? { namespace } : {}),
  },
  storage_mounts: [],
});

/** Submits `count` Kubernetes jobs through `backend`, one after the other; answers them as submitted. */
export async function submitKubernetesJobs(
  backend: { submit(job: BackendJob<"kubernetes">): Promise<SubmitResult> },
  count: number,
  namespace?: string,
): Promise<BackendJob<"kubernetes">[]> {
  const jobs: BackendJob<"kubernetes">[] = [];
  for (let i = 0; i < count; i += 1) {
    const job = backendJob("kubernetes", kubernetesRequest(namespace));
    jobs.push(submitted(job, await backend.submit(job)));
  }
  return jobs;
}

/** A backend context whose log is kept for assertions. */
export function testContext(): BackendContext & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const log: BackendLogger = {
    info: (obj, msg) => lines.push({ level: "info", obj, ...(msg ? { msg } : {}) }),
    warn: (obj, msg) => lines.push({ level: "warn", obj, ...(msg ? { msg } : {}) }),
    error: (obj, msg) => lines.push({ level: "error", obj, ...(msg ? { msg } : {}) }),
  };
  return { dataDir: "/nonexistent", notify: () => {}, log, lines };
}

/** The backends of a server that runs only `backend`: every other one is missing (not configured). */
export function registryOf<B extends Backend>(
  backend: BackendApi<B> & { readonly name: B },
): BackendRegistry {
  return {
    "vertex-ai": { missing: [] },
    sagemaker: { missing: [] },
    "azure-ml": { missing: [] },
    kubernetes: { missing: [] },
    local: { missing: [] },
    [backend.name]: { backend },
  } as BackendRegistry;
}
