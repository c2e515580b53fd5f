import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrainingJob, type TrainingJobArgs } from "../../src/job";
import { ensureBuilt } from "../helpers/provider-build";
import {
  type PropertyBag,
  ProviderHost,
  type Registration,
  registerWithMocks,
  secret,
} from "../helpers/provider-host";
import { plan } from "../helpers/provider-jobs";
import { basetenExample, simplismartForm, tensorOneLlmExample } from "../helpers/vendor-examples";

// `check` and `diff` of vendor jobs as the engine calls them during preview. The vendors' URLs
// point at a closed port: neither may call out.

let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  host = await ProviderHost.start({
    config: {
      "trainkit:basetenApiUrl": "http://127.0.0.1:9",
      "trainkit:basetenApiKey": secret("bt-key"),
      "trainkit:simplismartApiUrl": "http://127.0.0.1:9",
      "trainkit:simplismartApiKey": secret("ss-key"),
    },
  });
});

afterAll(async () => {
  await host?.close();
});

async function register(args: TrainingJobArgs): Promise<Registration> {
  const [registration] = await registerWithMocks(() => new TrainingJob("job", args));
  return registration!;
}

async function failuresOf(args: TrainingJobArgs, on = host) {
  const registration = await register(args);
  return (await on.check(registration.urn, {}, registration.inputs)).failures;
}

const job = basetenExample.training_job;
const baseten = (trainingJob: Record<string, unknown> = job, extra: Record<string, unknown> = {}) =>
  ({
    backend: "baseten",
    name: "gpt-oss-job",
    jobConfig: { training_project_id: "proj-1", training_job: trainingJob },
    ...extra,
  }) as TrainingJobArgs;

describe("check of a vendor job", () => {
  it("accepts Baseten's documented example with the key from stack config and Baseten's default URL", async () => {
    const bare = await ProviderHost.start({ config: { "trainkit:basetenApiKey": secret("bt-key") } });
    try {
      expect(await failuresOf(baseten(), bare)).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it("names the jobConfig path of a bad value, with the value", async () => {
    const compute = { ...job.compute, accelerator: { accelerator: "H100", count: 0 } };
    expect(await failuresOf(baseten({ ...job, compute }))).toEqual([
      {
        property: "jobConfig.training_job.compute.accelerator.count",
        reason: "must be greater than 0; got 0",
      },
    ]);
  });

  it("rejects a misspelt field at its path", async () => {
    expect(await failuresOf(baseten({ ...job, compute: { ...job.compute, gpus: 2 } }))).toEqual([
      {
        property: "jobConfig.training_job.compute.gpus",
        reason: "is not a known field; remove it or check its spelling",
      },
    ]);
  });

  it("rejects storage mounts and an account id, which only the Train API takes", async () => {
    const failures = await failuresOf(
      baseten(job, {
        storageMounts: [{ sourceUri: "gs://b/data", mountPath: "/mnt/data" }],
        accountId: "acct-1",
      }),
    );
    expect(failures.map((f) => f.property)).toEqual(["storageMounts", "accountId"]);
    expect(failures[0]!.reason).toBe("Baseten takes no storage mounts; name the data in jobConfig instead");
  });

  it("does not take the Train API's key for a vendor, and names the vendor's own settings", async () => {
    const trainApiOnly = await ProviderHost.start({ config: { "trainkit:apiKey": secret("train-api-key") } });
    try {
      expect(
        await failuresOf(
          { backend: "tensorone", name: "t", jobConfig: tensorOneLlmExample } as TrainingJobArgs,
          trainApiOnly,
        ),
      ).toEqual([
        {
          property: "jobConfig.name",
          reason: 'must equal name ("t") or be left out, as name is written there; got "llama-7b-finetune"',
        },
        {
          property: "apiKey",
          reason:
            "is not set; pass apiKey to the TrainingJob, run `pulumi config set --secret trainkit:tensoroneApiKey <key>`, " +
            "or set TRAINKIT_TENSORONE_API_KEY",
        },
      ]);
    } finally {
      await trainApiOnly.close();
    }
  });

  it("takes a vendor's key from its environment variable", async () => {
    const withEnv = await ProviderHost.start({
      env: { ...process.env, TRAINKIT_TENSORONE_API_KEY: "t1-key" },
    });
    try {
      const args = {
        backend: "tensorone",
        name: "llama-7b-finetune",
        jobConfig: tensorOneLlmExample,
      } as TrainingJobArgs;
      expect(await failuresOf(args, withEnv)).toEqual([]);
    } finally {
      await withEnv.close();
    }
  });

  it("names the vendors when the backend is neither a Train API backend nor a vendor", async () => {
    const failures = await failuresOf({ backend: "modal", name: "m", jobConfig: {} } as never);
    expect(failures).toContainEqual({
      property: "backend",
      reason:
        "for a vendor's training API use baseten, tensorone, customtraining, simplismart; for the Train API, " +
        'must be one of vertex-ai, sagemaker, azure-ml, kubernetes, local; got "modal"',
    });
  });

  it("fills the vendor's name field from name and decodes Simplismart's JSON text", async () => {
    const { inputs } = await plan(host, {
      backend: "simplismart",
      name: "exp-1",
      jobConfig: { ...simplismartForm, experiment_name: undefined },
    } as TrainingJobArgs);
    const config = inputs.jobConfig as Record<string, unknown>;
    expect(config.experiment_name).toBe("exp-1");
    expect(config.model_details).toEqual(JSON.parse(simplismartForm.model_details));
  });
});

describe("check of a vendor job's name and body, by each vendor's rules", () => {
  const tensorone = (name: string) =>
    ({
      backend: "tensorone",
      name,
      jobConfig: { ...tensorOneLlmExample, name: undefined },
      apiKey: "t1-key",
    }) as TrainingJobArgs;

  it("reports a missing Baseten training_job at jobConfig.training_job, not at a field inside it", async () => {
    const args = { backend: "baseten", name: "gpt-oss-job", jobConfig: { training_project_id: "proj-1" } };
    expect(await failuresOf(args as unknown as TrainingJobArgs)).toEqual([
      { property: "jobConfig.training_job", reason: "is required (object)" },
    ]);
  });

  it("reports a Baseten training_job that is not an object at jobConfig.training_job, with the value", async () => {
    const args = {
      backend: "baseten",
      name: "gpt-oss-job",
      jobConfig: { training_project_id: "proj-1", training_job: "gpt-oss-job" },
    };
    expect(await failuresOf(args as unknown as TrainingJobArgs)).toEqual([
      { property: "jobConfig.training_job", reason: 'expected an object; got "gpt-oss-job"' },
    ]);
  });

  it("reports a wrong type inside a Simplismart JSON-text field as the type expected, with the value", async () => {
    const infra = '{"gpu_type": "h100", "gpu_count": "two", "infra_type": "simplismart", "node_count": 2}';
    const args = {
      backend: "simplismart",
      name: "exp-1",
      jobConfig: { ...simplismartForm, experiment_name: undefined, infra_config: infra },
    };
    expect(await failuresOf(args as unknown as TrainingJobArgs)).toEqual([
      { property: "jobConfig.infra_config.gpu_count", reason: 'expected a number; got "two"' },
    ]);
  });

  it("takes a TensorOne name with spaces and punctuation, as TensorOne's name is human-readable", async () => {
    expect(await failuresOf(tensorone("Llama 7B fine-tune: run #3 (LoRA)"))).toEqual([]);
  });

  it("limits a TensorOne name to 91 characters, leaving TensorOne's 100 room for the submission's mark", async () => {
    expect(await failuresOf(tensorone("x".repeat(91)))).toEqual([]);
    expect(await failuresOf(tensorone("x".repeat(92)))).toEqual([
      {
        property: "name",
        reason:
          "must be at most 91 characters: TensorOne takes names of up to 100, and 9 go to the mark that tells " +
          `this submission's job from others; got "${"x".repeat(79)}...`,
      },
    ]);
  });

  it("refuses resumeStopped for a vendor other than TensorOne", async () => {
    expect(await failuresOf(baseten(job, { resumeStopped: true }))).toEqual([
      {
        property: "resumeStopped",
        reason:
          'applies to TensorOne only, whose jobs can be resumed from a checkpoint; remove it for "baseten"',
      },
    ]);
  });

  it("keeps a Baseten name to the identifier form, as Baseten's documentation sets no other rule", async () => {
    const failures = await failuresOf(baseten({ ...job, name: undefined }, { name: "gpt oss job" }));
    expect(failures).toEqual([
      {
        property: "name",
        reason:
          "must start with a letter or digit and hold only letters, digits, '.', '_' and '-'; got \"gpt oss job\"",
      },
    ]);
  });
});

describe("diff of a vendor job", () => {
  async function stateOf(args: TrainingJobArgs): Promise<PropertyBag> {
    const { inputs } = await plan(host, args);
    return {
      ...inputs,
      jobId: "tj_0001",
      status: "IN_PROGRESS",
      createdAt: "2026-03-11T08:12:25Z",
      updatedAt: "2026-03-11T08:12:25Z",
    };
  }

  async function diff(olds: TrainingJobArgs, news: TrainingJobArgs) {
    const old = await stateOf(olds);
    const { registration, inputs } = await plan(host, news);
    return host.diff("tj_0001", registration.urn, old, inputs);
  }

  it("replaces the job when the training project changes", async () => {
    const moved = baseten();
    (moved.jobConfig as Record<string, unknown>).training_project_id = "proj-2";
    expect(await diff(baseten(), moved)).toEqual({
      changes: "some",
      replaces: ["jobConfig"],
      deleteBeforeReplace: true,
    });
  });

  it("updates in place when only the API URL changes", async () => {
    expect(await diff(baseten(), baseten(job, { apiUrl: "http://127.0.0.1:10" }))).toEqual({
      changes: "some",
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("sees no change when Simplismart's JSON text is rewritten as the same objects", async () => {
    const asText = {
      backend: "simplismart",
      name: simplismartForm.experiment_name,
      jobConfig: simplismartForm,
    } as TrainingJobArgs;
    const asObjects = {
      ...asText,
      jobConfig: { ...simplismartForm, infra_config: JSON.parse(simplismartForm.infra_config) },
    } as TrainingJobArgs;
    expect(await diff(asText, asObjects)).toEqual({
      changes: "none",
      replaces: [],
      deleteBeforeReplace: false,
    });
  });
});
