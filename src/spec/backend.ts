import { z } from "zod";
import { BACKENDS, type BackendName } from "./backend-names";

export { BACKENDS, BACKENDS_SETTING } from "./backend-names";
export const Backend = z.enum(BACKENDS);
export type Backend = BackendName;

/** The `job_type` a job object reports for each backend (the SGP Train API spells them with underscores). */
export const JOB_TYPE_BY_BACKEND = {
  "vertex-ai": "vertex_ai",
  sagemaker: "sagemaker",
  "azure-ml": "azure_ml",
  kubernetes: "kubernetes",
  local: "local",
} as const satisfies Record<Backend, string>;

export const JOB_TYPES = ["vertex_ai", "sagemaker", "azure_ml", "kubernetes", "local"] as const;
export const JobType = z.enum(JOB_TYPES);
export type JobType = z.infer<typeof JobType>;

export function backendOfJobType(jobType: JobType): Backend {
  const entry = Object.entries(JOB_TYPE_BY_BACKEND).find(([, type]) => type === jobType);
  if (!entry) throw new Error(`unknown job_type ${jobType}`);
  return entry[0] as Backend;
}
