import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NameSuffix, randomSuffix } from "../../src/components/name-suffix";
import {
  ProviderHost,
  type Registration,
  registerWithMocks,
  serializedProvider,
} from "../helpers/provider-host";

// The NameSuffix provider as the engine runs it: the program registers the resource under the mock
// runtime (which yields the serialized provider exactly as it would be stored in state), and the real
// dynamic provider host from @pulumi/pulumi, in its own process, is driven over gRPC with Create,
// Diff and Read as `pulumi up`, a later `pulumi up` and `pulumi refresh` call them. Nothing here
// stands in for a cloud: the suffix never leaves the stack's state.

let host: ProviderHost;
let registration: Registration;

beforeAll(async () => {
  const registrations = await registerWithMocks(() => new NameSuffix("platform-suffix"));
  registration = registrations.find((r) => r.name === "platform-suffix")!;
  host = await ProviderHost.start();
});

afterAll(async () => {
  await host?.close();
});

describe("NameSuffix", () => {
  it("registers a serialized provider and asks for eight characters by default", () => {
    expect(registration.type).toBe("pulumi-nodejs:dynamic/trainkit:NameSuffix");
    expect(serializedProvider(registration)).toContain("randomBytes");
    expect(registration.inputs.length).toBe(8);
  });

  it("draws a suffix of lowercase letters and digits on create, the resource's id", async () => {
    const created = await host.create(registration.urn, registration.inputs);
    expect(created.raw.suffix).toMatch(/^[a-z0-9]{8}$/);
    expect(created.id).toBe(created.raw.suffix);
  });

  it("keeps the suffix on every later update and refresh: diff reports no change and read returns it", async () => {
    const created = await host.create(registration.urn, registration.inputs);
    const diff = await host.diff(created.id, registration.urn, created.outputs, registration.inputs);
    expect(diff).toEqual({ changes: "none", replaces: [], deleteBeforeReplace: false });
    const read = await host.read(created.id, registration.urn, created.outputs, registration.inputs);
    expect(read?.raw.suffix).toBe(created.raw.suffix);
  });

  it("draws a new suffix for each new deployment (another stack, or the same one after destroy)", async () => {
    const suffixes = new Set<unknown>();
    for (let i = 0; i < 20; i++)
      suffixes.add((await host.create(registration.urn, registration.inputs)).raw.suffix);
    expect(suffixes.size).toBe(20);
  });

  it("replaces the suffix only when a different length is asked for", async () => {
    const created = await host.create(registration.urn, registration.inputs);
    const diff = await host.diff(created.id, registration.urn, created.outputs, {
      ...registration.inputs,
      length: 12,
    });
    expect(diff.changes).toBe("some");
    expect(diff.replaces).toEqual(["length"]);
  });

  it("uses every character of the alphabet and only those", () => {
    const seen = new Set(randomSuffix(16 * 400).split(""));
    expect([...seen].sort().join("")).toBe("0123456789abcdefghijklmnopqrstuvwxyz");
  });

  it("refuses a length outside 4 to 16 characters", () => {
    expect(() => new NameSuffix("long", { length: 40 })).toThrow(
      "NameSuffix long: length must be a whole number from 4 to 16; got 40",
    );
  });
});
