import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { JobApiError, TrainApiClient } from "../../src/job";
import { retryAfterMs } from "../../src/job/clients/trainapi";

describe("retryAfterMs", () => {
  it("reads Retry-After given in seconds", () => {
    expect(retryAfterMs("3")).toBe(3000);
  });

  it("reads Retry-After given as an HTTP date", () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterMs(inTenSeconds)).toBeGreaterThan(8_000);
    expect(retryAfterMs(inTenSeconds)).toBeLessThanOrEqual(10_000);
  });

  it("ignores a missing or unreadable Retry-After", () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });
});

describe("TrainApiClient errors", () => {
  it("name the request, the server's code, message and details, and not the key", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            code: "invalid_request",
            message: "request body is invalid",
            details: [{ path: "job_config.command", message: "must hold at least the program to run" }],
          },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new TrainApiClient({
        url: `http://127.0.0.1:${port}`,
        apiKey: "tk_never_shown",
        accountId: "acct-1",
      });
      const error = (await client
        .submit({ backend: "local", name: "x", jobConfig: { command: [] }, storageMounts: [] }, "key-1")
        .catch((err: unknown) => err)) as JobApiError;
      expect(error).toBeInstanceOf(JobApiError);
      expect(error.message).toBe(
        `POST http://127.0.0.1:${port}/v1/local/jobs answered 400 invalid_request: request body is invalid ` +
          "(job_config.command: must hold at least the program to run)",
      );
      expect(error.details).toEqual([
        { path: "job_config.command", message: "must hold at least the program to run" },
      ]);
      expect(error.message).not.toContain("tk_never_shown");
    } finally {
      server.close();
    }
  });
});

describe("TrainApiClient", () => {
  it("refuses an API key holding a line break when it is built, without repeating the key", () => {
    const make = () =>
      new TrainApiClient({ url: "http://127.0.0.1:8080", apiKey: "tk_pasted\r\ntwice", accountId: "a" });
    expect(make).toThrow(
      "apiKey contains characters that cannot be sent in an HTTP header (line breaks, control characters or characters beyond Latin-1); check the key",
    );
    expect(make).toThrow(JobApiError);
  });

  it("refuses a URL carrying credentials without repeating the password", () => {
    const make = () =>
      new TrainApiClient({ url: "http://user:hunter2@127.0.0.1:8080", apiKey: "k", accountId: "a" });
    expect(make).toThrow(
      "the Train API URL http://127.0.0.1:8080/ must not carry credentials (user:password@); the key goes in apiKey",
    );
  });
});
