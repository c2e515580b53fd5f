import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { TrainingJob } from "../../src/job";

// The resource as a program sees it, under the mock runtime: its type, and outputs that resolve
// to what the provider returned.

async function settled<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("TrainingJob", () => {
  it("registers as pulumi-nodejs:dynamic/trainkit:TrainingJob and exposes the provider's outputs", async () => {
    let type = "";
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          type = args.type;
          return {
            id: "3f2a1b9c-88de-4a12-b901-c2e5f7d04321",
            state: {
              ...args.inputs,
              jobId: "3f2a1b9c-88de-4a12-b901-c2e5f7d04321",
              status: "COMPLETED",
              cloudJobIdentifier: { pid: "42" },
              createdAt: "2026-03-11T08:12:25.542Z",
              updatedAt: "2026-03-11T08:12:35.000Z",
            },
          };
        },
        call: () => ({}),
      },
      "trainkit",
      "test",
    );
    const job = new TrainingJob("job", {
      backend: "local",
      name: "train",
      jobConfig: { command: ["python3"] },
    });
    expect(await settled(job.jobId)).toBe("3f2a1b9c-88de-4a12-b901-c2e5f7d04321");
    expect(type).toBe("pulumi-nodejs:dynamic/trainkit:TrainingJob");
    expect(await settled(job.status)).toBe("COMPLETED");
    expect(await settled(job.cloudJobIdentifier)).toEqual({ pid: "42" });
    expect(await settled(job.name)).toBe("train");
  });
});
