import { describe, expect, it } from "vitest";
import {
  BasetenCreateJobRequest,
  BasetenJobConfig,
  CustomTrainingJobConfig,
  CustomTrainingRequest,
  issuesToDetails,
  SimplismartJobConfig,
  SimplismartJobForm,
  TensorOneConfigJob,
  TensorOneJobConfig,
  TensorOneStructuredJob,
  tensorOneFormOf,
  VENDOR_JOB_CONFIGS,
  VENDORS,
  vendorJobConfigSchema,
} from "../../src/spec";
import {
  basetenExample,
  customTrainingExample,
  simplismartForm,
  tensorOneLlmExample,
  tensorOneReferenceExample,
  tensorOneVisionExample,
} from "../helpers/vendor-examples";

// The vendors' request schemas against the example requests of their documentation, and against the mistakes
// they exist to catch.

function details(schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, value: unknown) {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return issuesToDetails(result.error as never);
}

describe("the documented example requests", () => {
  it("validate unchanged: Baseten's create body", () => {
    expect(BasetenCreateJobRequest.parse(basetenExample)).toEqual(basetenExample);
  });

  it("validate unchanged: TensorOne's reference body and both of its examples", () => {
    expect(TensorOneStructuredJob.parse(tensorOneReferenceExample)).toEqual(tensorOneReferenceExample);
    expect(TensorOneConfigJob.parse(tensorOneLlmExample)).toEqual(tensorOneLlmExample);
    expect(TensorOneConfigJob.parse(tensorOneVisionExample)).toEqual(tensorOneVisionExample);
    for (const example of [tensorOneReferenceExample, tensorOneLlmExample, tensorOneVisionExample]) {
      expect(TensorOneJobConfig.safeParse(example).success).toBe(true);
    }
  });

  it("validate unchanged: the custom training body", () => {
    expect(CustomTrainingRequest.parse(customTrainingExample)).toEqual(customTrainingExample);
  });

  it("validate unchanged: Simplismart's multipart form, JSON text fields included", () => {
    const parsed = SimplismartJobForm.parse(simplismartForm) as Record<string, unknown>;
    expect(parsed.infra_config).toEqual({
      gpu_type: "h100",
      gpu_count: 2,
      infra_type: "simplismart",
      node_count: 2,
    });
    expect(parsed.train_config).toMatchObject({ adapter_config: { r: 16, targets: ["all-linear"] } });
  });

  it("become jobConfigs with the path parameter that places the job", () => {
    expect(BasetenJobConfig.safeParse({ training_project_id: "p1", ...basetenExample }).success).toBe(true);
    expect(
      CustomTrainingJobConfig.safeParse({ model_id: "mdl-7f3a19bc", ...customTrainingExample }).success,
    ).toBe(true);
    expect(SimplismartJobConfig.safeParse(simplismartForm).success).toBe(true);
  });
});

describe("a vendor jobConfig", () => {
  it("has a schema for every vendor", () => {
    expect(Object.keys(VENDOR_JOB_CONFIGS).sort()).toEqual([...VENDORS].sort());
  });

  it("rejects a misspelt Baseten field at its path", () => {
    const job = {
      ...basetenExample.training_job,
      compute: { ...basetenExample.training_job.compute, gpus: 2 },
    };
    expect(details(BasetenJobConfig, { training_project_id: "p", training_job: job })).toEqual([
      { path: "training_job.compute.gpus", message: "is not a known field; remove it or check its spelling" },
    ]);
  });

  it("rejects a Baseten accelerator count of zero at its path", () => {
    const compute = {
      ...basetenExample.training_job.compute,
      accelerator: { accelerator: "H100", count: 0 },
    };
    const job = { ...basetenExample.training_job, compute };
    expect(details(BasetenJobConfig, { training_project_id: "p", training_job: job })).toEqual([
      { path: "training_job.compute.accelerator.count", message: "must be greater than 0" },
    ]);
  });

  it("requires the Baseten training project", () => {
    expect(details(BasetenJobConfig, basetenExample).map((d) => d.path)).toEqual(["training_project_id"]);
  });

  it("is read in the TensorOne form it is written in, so errors speak of that form", () => {
    expect(tensorOneFormOf(tensorOneReferenceExample)).toBe(TensorOneStructuredJob);
    expect(tensorOneFormOf(tensorOneLlmExample)).toBe(TensorOneConfigJob);
    const bad = { ...tensorOneLlmExample, maxWorkers: 64 };
    expect(details(vendorJobConfigSchema("tensorone", bad), bad)).toEqual([
      { path: "maxWorkers", message: "must be 1 to 32" },
    ]);
  });

  it("rejects a TensorOne learning rate outside TensorOne's documented range", () => {
    const bad = {
      ...tensorOneLlmExample,
      config: { ...tensorOneLlmExample.config, training: { learning_rate: 0.5 } },
    };
    expect(details(TensorOneConfigJob, bad)).toEqual([
      { path: "config.training.learning_rate", message: "must be between 1e-6 and 1e-1" },
    ]);
  });

  it("rejects a custom training timeout above the documented 86400 s maximum", () => {
    const bad = { model_id: "m", ...customTrainingExample, timeout_seconds: 90_000 };
    expect(details(CustomTrainingJobConfig, bad)).toEqual([
      { path: "timeout_seconds", message: "must be 1 to 86400" },
    ]);
  });

  it("rejects a custom training runtime the documentation does not list", () => {
    const bad = { model_id: "m", ...customTrainingExample, runtime: "python2.7" };
    expect(details(CustomTrainingJobConfig, bad).map((d) => d.path)).toEqual(["runtime"]);
  });

  it("takes Simplismart's JSON fields as objects as well as JSON text", () => {
    const asObjects = {
      ...simplismartForm,
      infra_config: { gpu_type: "h100", gpu_count: 2, infra_type: "simplismart", node_count: 2 },
    };
    expect(SimplismartJobConfig.parse(asObjects).infra_config).toEqual(asObjects.infra_config);
  });

  it("rejects Simplismart split ratios that do not add up to 1", () => {
    const bad = {
      ...simplismartForm,
      dataset_config: { split: { type: "random", ratios: [0.9, 0.2] } },
    };
    expect(details(SimplismartJobConfig, bad)).toEqual([
      { path: "dataset_config.split.ratios", message: "must add up to 1" },
    ]);
  });

  it("rejects Simplismart JSON text that is not JSON, at the field", () => {
    const bad = { ...simplismartForm, infra_config: "{gpu_type: h100" };
    expect(details(SimplismartJobConfig, bad).map((d) => d.path)).toEqual(["infra_config"]);
  });
});
