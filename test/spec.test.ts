import { describe, expect, it } from "vitest";
import { CREATE_JOB_REQUESTS, issuesToDetails, NUL_MESSAGE } from "../src/spec";
import { azureExample, sagemakerExample, vertexExample } from "./helpers/sgp-examples";

describe("the Train API request schemas", () => {
  it("accept the SGP Train API's Vertex AI example unchanged", () => {
    expect(CREATE_JOB_REQUESTS["vertex-ai"].parse(vertexExample)).toEqual(vertexExample);
  });

  it("accept the SGP Train API's SageMaker example unchanged", () => {
    expect(CREATE_JOB_REQUESTS.sagemaker.parse(sagemakerExample)).toEqual(sagemakerExample);
  });

  it("accept the SGP Train API's Azure ML example unchanged", () => {
    expect(CREATE_JOB_REQUESTS["azure-ml"].parse(azureExample)).toEqual(azureExample);
  });

  it("reject a mount of another cloud's storage with the mount's path", () => {
    const result = CREATE_JOB_REQUESTS.sagemaker.safeParse({
      ...sagemakerExample,
      storage_mounts: [{ source_uri: "gs://my-bucket/data", mount_path: "/mnt/data" }],
    });
    expect(result.success).toBe(false);
    const details = issuesToDetails(result.error!);
    expect(details).toEqual([
      {
        path: "storage_mounts[0].source_uri",
        message: "must be an s3://<bucket>/<prefix> URI for the sagemaker backend",
      },
    ]);
  });

  it("name an unknown field by its full path", () => {
    const bad = structuredClone(vertexExample) as Record<string, unknown> & typeof vertexExample;
    (bad.job_config.worker_pool_specs[0] as Record<string, unknown>).replica_cnt = 2;
    const result = CREATE_JOB_REQUESTS["vertex-ai"].safeParse(bad);
    expect(issuesToDetails(result.error!, "")).toContainEqual({
      path: "job_config.worker_pool_specs[0].replica_cnt",
      message: "is not a known field; remove it or check its spelling",
    });
  });

  it("fill the local backend's mounts with an empty list when none are given", () => {
    const parsed = CREATE_JOB_REQUESTS.local.parse({ name: "x", job_config: { command: ["true"] } });
    expect(parsed.storage_mounts).toEqual([]);
  });
});

describe("NUL characters in a create request", () => {
  it("are refused at the path of each string and key holding one, since Postgres cannot store them", () => {
    const result = CREATE_JOB_REQUESTS.kubernetes.safeParse({
      name: "x",
      job_config: {
        image: "registry.example/train:v1",
        command: ["python3", "train\u0000.py"],
        node_selector: { "pool\u0000": "gpu" },
      },
    });
    const details = issuesToDetails(result.error!);
    // Both are named in one answer: the NUL check runs even though the key also breaks the label-key rule.
    expect(details).toContainEqual({ path: "job_config.command[1]", message: NUL_MESSAGE });
    expect(details.filter((d) => d.path === "job_config.node_selector.pool\u0000")).toHaveLength(1);
    expect(details).toHaveLength(2);
  });
});

describe("the Vertex AI machine spec", () => {
  const withMachine = (machine_spec: Record<string, unknown>) => {
    const body = structuredClone(vertexExample) as typeof vertexExample;
    (body.job_config.worker_pool_specs[0] as Record<string, unknown>).machine_spec = machine_spec;
    return CREATE_JOB_REQUESTS["vertex-ai"].safeParse(body);
  };

  it("rejects a GPU count the accelerator is not built in, listing the allowed counts", () => {
    const result = withMachine({
      machine_type: "g2-standard-8",
      accelerator_type: "NVIDIA_L4",
      accelerator_count: 3,
    });
    expect(issuesToDetails(result.error!)).toEqual([
      {
        path: "job_config.worker_pool_specs[0].machine_spec.accelerator_count",
        message: "must be 1, 2, 4 or 8 for NVIDIA_L4; got 3",
      },
    ]);
  });

  it("rejects a machine type of another family than the accelerator's", () => {
    const result = withMachine({
      machine_type: "n1-standard-8",
      accelerator_type: "NVIDIA_L4",
      accelerator_count: 1,
    });
    expect(issuesToDetails(result.error!)[0]?.path).toBe(
      "job_config.worker_pool_specs[0].machine_spec.machine_type",
    );
  });
});
