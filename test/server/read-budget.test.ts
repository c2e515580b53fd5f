import { describe, expect, it } from "vitest";
import { DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE, ReadBudget } from "../../src/server/log-follow";
import { published } from "../helpers/published";

describe("the followers' read budget", () => {
  it("allows a backend's reads up to its limit per rolling minute, then again as the oldest age out", () => {
    let now = 1_000_000;
    const budget = new ReadBudget({ "vertex-ai": 2 }, () => now);
    expect(budget.take("vertex-ai")).toBe(true);
    now += 10_000;
    expect(budget.take("vertex-ai")).toBe(true);
    expect(budget.take("vertex-ai")).toBe(false);
    now += 50_000; // the first read is a minute old now
    expect(budget.take("vertex-ai")).toBe(true);
    expect(budget.take("vertex-ai")).toBe(false);
  });

  it("does not limit backends it names no budget for", () => {
    const budget = new ReadBudget({ "vertex-ai": 1 });
    for (let i = 0; i < 100; i++) expect(budget.take("sagemaker")).toBe(true);
  });
});

describe("the default Cloud Logging read budget", () => {
  it("stays within the lowest per-project read quota the service reports", async () => {
    const quota = published<{ errorInfo: { quota_limit: string; quota_limit_values_seen: number[] } }>(
      "google-cloud-docs/logging-read-quota.json",
    ).errorInfo;
    expect(quota.quota_limit).toBe("ReadRequestsPerMinutePerProject");
    expect(DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE).toBeLessThanOrEqual(
      Math.min(...quota.quota_limit_values_seen) / 2,
    );
  });
});
