import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrainingJob } from "../../src/job";
import { ensureBuilt } from "../helpers/provider-build";
import {
  isSecret,
  type ProviderCallError,
  ProviderHost,
  plaintextOccurrences,
  registerWithMocks,
  secret,
  serializedProvider,
} from "../helpers/provider-host";
import { nodeJob, plan, up } from "../helpers/provider-jobs";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// Where the API key may be: as an input (then only ever as a secret in state), in stack config or
// the environment (then nowhere in state). Never in the serialized provider, a message or a log.

let api: TrainApi;
// The outputs the engine stores as secrets, as the TrainingJob itself registers them rather than
// as this file would guess them, so that every host below treats the key the way the engine would.
let secretOutputs: string[];

beforeAll(async () => {
  ensureBuilt();
  api = await startTrainApi();
  const [registration] = await registerWithMocks(
    () => new TrainingJob("job", nodeJob("outputs", "0", { apiKey: api.apiKey })),
  );
  secretOutputs = registration!.additionalSecretOutputs;
});

afterAll(async () => {
  await api?.close();
});

describe("the serialized provider", () => {
  it("holds no key, and loads nothing but trainkit's provider module by name", async () => {
    const [registration] = await registerWithMocks(
      () =>
        new TrainingJob(
          "job",
          nodeJob("ser", "0", { apiKey: api.apiKey, apiUrl: api.url, accountId: "acct-1" }),
        ),
    );
    const text = serializedProvider(registration!);
    expect(text).not.toContain(api.apiKey);
    expect(text).not.toContain(api.url);
    expect(text.match(/require\("[^"]+"\)|load\("[^"]+"\)/g)).toEqual([
      'require("node:module")',
      'load("trainkit/job/provider")',
    ]);
    expect(text.length).toBeLessThan(8_000);
  });

  it("is the same text for every job, so the engine loads it once", async () => {
    const registrations = await registerWithMocks(() => [
      new TrainingJob("a", nodeJob("a", "0", { apiKey: "key-a" })),
      new TrainingJob("b", nodeJob("b", "1", { apiKey: "key-b" })),
    ]);
    expect(serializedProvider(registrations[0]!)).toBe(serializedProvider(registrations[1]!));
  });
});

describe("the registration", () => {
  it("marks the key secret even when the program passed a plain string", async () => {
    const [registration] = await registerWithMocks(
      () => new TrainingJob("job", nodeJob("s", "0", { apiKey: "plain" })),
    );
    expect(isSecret(registration!.inputs.apiKey)).toBe(true);
    expect(registration!.inputs.apiKey).toEqual(secret("plain"));
  });

  it("asks the engine to store the apiKey output as a secret", async () => {
    const [registration] = await registerWithMocks(
      () => new TrainingJob("job", nodeJob("s", "0", { apiKey: "plain" })),
    );
    expect(registration!.additionalSecretOutputs).toEqual(["apiKey"]);
  });

  it("keeps the program's own additionalSecretOutputs beside apiKey", async () => {
    const [registration] = await registerWithMocks(
      () =>
        new TrainingJob("job", nodeJob("s", "0", { apiKey: "plain" }), {
          additionalSecretOutputs: ["failureReason"],
        }),
    );
    expect(registration!.additionalSecretOutputs).toEqual(["apiKey", "failureReason"]);
  });
});

describe("a job whose key is an input", () => {
  let host: ProviderHost;
  beforeAll(async () => {
    host = await ProviderHost.start({ additionalSecretOutputs: secretOutputs });
  });
  afterAll(async () => {
    await host?.close();
  });
  const args = () => nodeJob("keyed", "0", { apiKey: api.apiKey, apiUrl: api.url, accountId: api.accountId });

  it("keeps the key only as a secret through check, create, read and update", async () => {
    const { registration, inputs, state } = await up(host, { ...args(), waitFor: "completed" });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    const { inputs: newInputs } = await plan(host, { ...args(), waitTimeoutSeconds: 60 });
    const updated = await host.update(state.id, registration.urn, state.outputs, newInputs);
    for (const bag of [inputs, state.outputs, read!.outputs, updated.outputs]) {
      expect(plaintextOccurrences(bag, api.apiKey)).toEqual([]);
    }
    expect(isSecret(state.outputs.apiKey)).toBe(true);
  });

  it("gets the key back from the host under apiKey only, the output the engine stores as a secret", async () => {
    const { state } = await up(host, args());
    expect(plaintextOccurrences(state.raw, api.apiKey)).toEqual(["apiKey"]);
  });

  it("puts the key in no reason, message or log line when the job fails", async () => {
    const failure = (await up(host, {
      ...nodeJob("keyed-fail", "process.exit(2)"),
      ...keyInputs(),
      waitFor: "completed",
    }).catch((err: unknown) => err)) as ProviderCallError;
    expect(failure.initFailed?.reasons.join(" ")).not.toContain(api.apiKey);
    expect(failure.message).not.toContain(api.apiKey);
    expect(plaintextOccurrences(failure.initFailed!.properties, api.apiKey)).toEqual(["apiKey"]);
    expect(host.logs).not.toContain(api.apiKey);
  });

  function keyInputs() {
    return { apiKey: api.apiKey, apiUrl: api.url, accountId: api.accountId };
  }
});

describe("a job whose key comes from stack config", () => {
  it("gets nothing back from the host that holds the key", async () => {
    const host = await ProviderHost.start({
      additionalSecretOutputs: secretOutputs,
      config: {
        "trainkit:apiUrl": api.url,
        "trainkit:apiKey": secret(api.apiKey),
        "trainkit:accountId": api.accountId,
      },
    });
    try {
      const { registration, inputs, state } = await up(
        host,
        nodeJob("configured", "0", { waitFor: "completed" }),
      );
      const read = await host.read(state.id, registration.urn, state.outputs, inputs);
      expect(plaintextOccurrences(state.raw, api.apiKey)).toEqual([]);
      expect(plaintextOccurrences(read!.raw, api.apiKey)).toEqual([]);
      expect(state.raw).not.toHaveProperty("apiKey");
      expect(host.logs).not.toContain(api.apiKey);
    } finally {
      await host.close();
    }
  });
});

describe("a job whose key moves from its inputs to stack config", () => {
  it("leaves the key out of the state after the update", async () => {
    const host = await ProviderHost.start({
      additionalSecretOutputs: secretOutputs,
      config: { "trainkit:apiKey": secret(api.apiKey) },
    });
    try {
      const where = { apiUrl: api.url, accountId: api.accountId };
      const { registration, state } = await up(
        host,
        nodeJob("moved-key", "0", { ...where, apiKey: api.apiKey }),
      );
      const { inputs } = await plan(host, nodeJob("moved-key", "0", where));
      expect(await host.diff(state.id, registration.urn, state.outputs, inputs)).toMatchObject({
        replaces: [],
      });
      const updated = await host.update(state.id, registration.urn, state.outputs, inputs);
      expect(updated.raw).not.toHaveProperty("apiKey");
      expect(plaintextOccurrences(updated.raw, api.apiKey)).toEqual([]);
    } finally {
      await host.close();
    }
  });
});

describe("a job whose key comes from the environment", () => {
  it("is submitted with it and gets nothing back that holds it", async () => {
    const host = await ProviderHost.start({
      additionalSecretOutputs: secretOutputs,
      env: {
        ...process.env,
        TRAINKIT_API_URL: api.url,
        TRAINKIT_API_KEY: api.apiKey,
        TRAINKIT_ACCOUNT_ID: api.accountId,
      },
    });
    try {
      const { state } = await up(host, nodeJob("from-env", "0"));
      expect(state.outputs.jobId).toBe(state.id);
      expect(plaintextOccurrences(state.raw, api.apiKey)).toEqual([]);
    } finally {
      await host.close();
    }
  });
});
