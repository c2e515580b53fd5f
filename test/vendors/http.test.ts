import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, OutcomeUnknownError } from "../../src/job/clients/http";
import { JobApiError } from "../../src/job/clients/types";
import { FakeCloud } from "../helpers/fake-cloud";

// The shared HTTP client's rules for a create that an API cannot deduplicate.

let fake: FakeCloud;
let created = 0;

beforeAll(async () => {
  fake = await FakeCloud.start((req) => {
    if (req.method === "POST") created += 1;
    return { status: 201, body: { id: `job-${created}` } };
  });
});

afterAll(async () => {
  await fake?.close();
});

const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("a request sent once", () => {
  it("raises OutcomeUnknownError when its answer is lost, without sending it again", async () => {
    const http = new HttpClient(fake.url, "the test API URL", {}, policy);
    const before = fake.received("POST", /^\/jobs$/).length;
    fake.failNext((r) => r.method === "POST", { dropAfterHandling: true });
    const error = await http.request("POST", "jobs", { json: {}, once: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as OutcomeUnknownError).code).toBe("outcome_unknown");
    expect(fake.received("POST", /^\/jobs$/).length - before).toBe(1);
  });

  it("is sent again when the connection was refused, since nothing reached the API", async () => {
    const http = new HttpClient(`http://127.0.0.1:${await closedPort()}`, "the test API URL", {}, policy);
    const error = (await http
      .request("POST", "jobs", { json: {}, once: true })
      .catch((e: unknown) => e)) as JobApiError;
    expect(error).not.toBeInstanceOf(OutcomeUnknownError);
    expect(error.message).toMatch(/failed after 3 attempts; last: ECONNREFUSED/);
  });
});

describe("createOnce", () => {
  it("gives up after as many submissions as the policy allows when every answer is lost and no job is found", async () => {
    const http = new HttpClient(fake.url, "the test API URL", {}, policy);
    const before = fake.received("POST", /^\/jobs$/).length;
    fake.failNext(
      (r) => r.method === "POST",
      { respond: { status: 502, body: { message: "bad gateway" } } },
      3,
    );
    let lookups = 0;
    const error = (await http
      .createOnce(
        async () => (await http.request("POST", "jobs", { json: {}, once: true })).body,
        async () => {
          lookups += 1;
          return undefined;
        },
      )
      .catch((e: unknown) => e)) as JobApiError;
    expect(error.message).toContain("got no usable answer: 502 bad gateway");
    expect(error.message).toContain(
      "gave up after 3 submissions, each followed by a look-up that found no job it created",
    );
    expect(fake.received("POST", /^\/jobs$/).length - before).toBe(3);
    expect(lookups).toBe(3);
  });
});

describe("header values fetch cannot send", () => {
  const KEY = "bt_live_key_with\na_line_break";

  it("refuse an API key with a line break when the client is built, naming apiKey but not the key", () => {
    let error: unknown;
    try {
      new HttpClient(fake.url, "the test API URL", { authorization: `Api-Key ${KEY}` }, policy);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(JobApiError);
    expect((error as JobApiError).code).toBe("invalid_header");
    expect((error as JobApiError).message).toBe(
      "apiKey contains characters that cannot be sent in an HTTP header (line breaks, control characters or characters beyond Latin-1); check the key",
    );
    expect((error as JobApiError).message).not.toContain("bt_live_key");
  });

  it("refuse a per-request header with a NUL at once, sending nothing and trying no second time", async () => {
    const http = new HttpClient(fake.url, "the test API URL", {}, { ...policy, attempts: 6 });
    const before = fake.received("POST", /^\/jobs$/).length;
    const error = (await http
      .request("POST", "jobs", { json: {}, headers: { "idempotency-key": "key\u0000one" } })
      .catch((e: unknown) => e)) as JobApiError;
    expect(error.code).toBe("invalid_header");
    expect(error.message).toContain("the idempotency-key header contains characters that cannot be sent");
    expect(error.message).not.toContain("key\u0000one");
    expect(fake.received("POST", /^\/jobs$/).length - before).toBe(0);
  });

  it("send a key whose only line break is the last character, as fetch strips it", async () => {
    const http = new HttpClient(
      fake.url,
      "the test API URL",
      { authorization: "Bearer tk_key_from_a_file\n" },
      policy,
    );
    const answer = await http.request("POST", "jobs", { json: {} });
    expect(answer.status).toBe(201);
  });
});
