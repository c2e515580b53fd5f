import { z } from "zod";
import { BACKENDS, type BackendName } from "./backend-names";

export { BACKENDS, BACKENDS_SETTING } from "./backend-names";
/** The schema of a Train API backend name. */
export const Backend = z.enum(BACKENDS);
/** A Train API backend: `vertex-ai`, `sagemaker`, `azure-ml`, `kubernetes` or `local`. */
export type Backend = BackendName;

/** The `job_type` a job object reports for each backend (the SGP Train API spells them with underscores). */
export const JOB_TYPE_BY_BACKEND = {
  /** Vertex AI custom jobs. */
  "vertex-ai": "vertex_ai",
  /** SageMaker training jobs. */
  sagemaker: "sagemaker",
  /** Azure Machine Learning command jobs. */
  "azure-ml": "azure_ml",
  /** Kubernetes Jobs. */
  kubernetes: "kubernetes",
  /** Processes on the Train API's own host. */
  local: "local",
} as const satisfies Record<Backend, string>;

/** Every `job_type` a job object may report. */
export const JOB_TYPES = ["vertex_ai", "sagemaker", "azure_ml", "kubernetes", "local"] as const;
/** The schema of a job object's `job_type`. */
export const JobType = z.enum(JOB_TYPES);
/** A job object's `job_type`: its backend's name spelt with underscores. */
export type JobType = z.infer<typeof JobType>;

/** The backend a `job_type` names (`vertex_ai` → `vertex-ai`). */
export function backendOfJobType(jobType: JobType): Backend {
  const entry = Object.entries(JOB_TYPE_BY_BACKEND).find(([, type]) => type === jobType);
  if (!entry) throw new Error(`unknown job_type ${jobType}`);
  return entry[0] as Backend;
}
