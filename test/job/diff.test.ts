import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrainingJobArgs } from "../../src/job";
import { ensureBuilt } from "../helpers/provider-build";
import { type PropertyBag, ProviderHost, secret } from "../helpers/provider-host";
import { plan } from "../helpers/provider-jobs";

// `diff` as the engine calls it on `pulumi preview`: old state against newly checked inputs. The
// API URL points at a closed port: diff must decide without calling it.

let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  host = await ProviderHost.start({
    config: {
      "trainkit:apiUrl": "http://127.0.0.1:9",
      "trainkit:apiKey": secret("k"),
      "trainkit:accountId": "a",
    },
  });
});

afterAll(async () => {
  await host?.close();
});

const base: TrainingJobArgs<"sagemaker"> = {
  backend: "sagemaker",
  name: "train",
  jobConfig: {
    image: "img:1",
    command: ["python3", "train.py"],
    resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" },
    hyperparameters: { lr: "0.1", epochs: "3" },
  },
  storageMounts: [{ sourceUri: "s3://bucket/data", mountPath: "/mnt/data", readOnly: true }],
  apiUrl: "http://127.0.0.1:9",
  apiKey: "key-1",
  accountId: "acct-1",
  waitFor: "running",
  waitTimeoutSeconds: 600,
  requestTimeoutSeconds: 20,
};

/** The state `create` leaves: the checked inputs plus the job's fields. */
async function stateOf(args: TrainingJobArgs): Promise<PropertyBag> {
  const { inputs } = await plan(host, args);
  return {
    ...inputs,
    jobId: "3f2a1b9c-88de-4a12-b901-c2e5f7d04321",
    status: "IN_PROGRESS",
    createdAt: "2026-03-11T08:12:25.542Z",
    updatedAt: "2026-03-11T08:12:25.542Z",
  };
}

async function diff(olds: TrainingJobArgs, news: TrainingJobArgs) {
  const old = await stateOf(olds);
  const { registration, inputs } = await plan(host, news);
  return host.diff(String(old.jobId), registration.urn, old, inputs);
}

const replacing: { input: string; change: TrainingJobArgs; replaces: string[] }[] = [
  {
    input: "backend",
    change: {
      ...base,
      backend: "kubernetes",
      jobConfig: { image: "img:1" },
      storageMounts: [{ sourceUri: "pvc://data", mountPath: "/mnt/data", readOnly: true }],
    } as TrainingJobArgs,
    replaces: ["backend", "jobConfig", "storageMounts"],
  },
  { input: "name", change: { ...base, name: "train-2" }, replaces: ["name"] },
  {
    input: "jobConfig",
    change: { ...base, jobConfig: { ...base.jobConfig, hyperparameters: { lr: "0.2", epochs: "3" } } },
    replaces: ["jobConfig"],
  },
  {
    input: "storageMounts",
    change: {
      ...base,
      storageMounts: [...(base.storageMounts as []), { sourceUri: "s3://bucket/out", mountPath: "/mnt/out" }],
    },
    replaces: ["storageMounts"],
  },
];

const updating: { input: string; change: TrainingJobArgs }[] = [
  { input: "waitFor", change: { ...base, waitFor: "completed" } },
  { input: "waitTimeoutSeconds", change: { ...base, waitTimeoutSeconds: 1200 } },
  { input: "requestTimeoutSeconds", change: { ...base, requestTimeoutSeconds: 5 } },
  { input: "apiUrl", change: { ...base, apiUrl: "http://127.0.0.1:10" } },
  { input: "apiKey", change: { ...base, apiKey: "key-2" } },
  { input: "accountId", change: { ...base, accountId: "acct-2" } },
];

describe("diff", () => {
  it.each(replacing)(
    "replaces the job, cancelling the old one first, when $input changes",
    async ({ change, replaces }) => {
      expect(await diff(base, change)).toEqual({ changes: "some", replaces, deleteBeforeReplace: true });
    },
  );

  it.each(updating)("updates in place, with nothing replaced, when $input changes", async ({ change }) => {
    expect(await diff(base, change)).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: false });
  });

  it("reports no change for the same inputs", async () => {
    expect(await diff(base, { ...base })).toEqual({
      changes: "none",
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("reports no change when only the key order of jobConfig differs", async () => {
    const reordered = {
      ...base,
      jobConfig: {
        hyperparameters: { epochs: "3", lr: "0.1" },
        resource_config: { instance_type: "ml.g5.xlarge", instance_count: 1 },
        command: ["python3", "train.py"],
        image: "img:1",
      },
    };
    expect((await diff(base, reordered)).changes).toBe("none");
  });

  it("reports no change when a default is written out that check had filled in", async () => {
    const explicit: TrainingJobArgs = {
      ...base,
      jobConfig: {
        ...base.jobConfig,
        resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge", volume_size_in_gb: 50 },
      },
    };
    expect((await diff(base, explicit)).changes).toBe("none");
  });

  it("reports no change when waitFor, timeouts and readOnly are written out at their defaults", async () => {
    const implicit: TrainingJobArgs = {
      ...base,
      storageMounts: [{ sourceUri: "s3://bucket/data", mountPath: "/mnt/data" }],
      waitFor: undefined,
      waitTimeoutSeconds: undefined,
      requestTimeoutSeconds: undefined,
    };
    const explicit: TrainingJobArgs = {
      ...implicit,
      storageMounts: [{ sourceUri: "s3://bucket/data", mountPath: "/mnt/data", readOnly: false }],
      waitFor: "submitted",
      waitTimeoutSeconds: 3600,
      requestTimeoutSeconds: 30,
    };
    expect((await diff(implicit, explicit)).changes).toBe("none");
  });

  it("replaces when the new jobConfig is not known yet (preview)", async () => {
    const old = await stateOf(base);
    const { registration, inputs } = await plan(host, base);
    const result = await host.diff(String(old.jobId), registration.urn, old, {
      ...inputs,
      jobConfig: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    });
    expect(result.replaces).toEqual(["jobConfig"]);
  });
});
