// The backends' names without their schemas, so the components' declarations load no zod: zod 4's
// types need `esModuleInterop` under `"moduleResolution": "node"`, which Pulumi's template leaves off.

/** The backends a job can be submitted to: the path segment of `POST /v1/{backend}/jobs`. */
export const BACKENDS = ["vertex-ai", "sagemaker", "azure-ml", "kubernetes", "local"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * The server variable naming the backends it runs. Each cloud's TrainingApi component sets it to its
 * own backend, so a deployed API never runs local processes.
 */
export const BACKENDS_SETTING = "TRAINKIT_BACKENDS";
