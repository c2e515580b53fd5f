import { z } from "zod";
import { BACKENDS, CREATE_JOB_REQUESTS, ErrorBody, Job, JobList, JobLogs, JobStatus } from "../spec";

const schema = (s: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(s, { io, target: "openapi-3.0", unrepresentable: "any" }) as Record<string, unknown>;

const json = (ref: string) => ({ content: { "application/json": { schema: { $ref: ref } } } });
const error = (description: string) => ({ description, ...json("#/components/schemas/ErrorBody") });

const jobId = { name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } };
const auth = [{ apiKey: [], account: [] }];
const standardErrors = {
  "400": error("Bad request: missing x-selected-account-id, or invalid input with field details"),
  "401": error("Missing or unknown x-api-key"),
  "403": error("The key may not act for the selected account"),
};

/**
 * The OpenAPI document, generated from the same zod schemas the server validates with (requests as
 * callers write them, responses as the server sends them).
 */
export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    Job: schema(Job, "output"),
    JobList: schema(JobList, "output"),
    JobLogs: schema(JobLogs, "output"),
    ErrorBody: schema(ErrorBody, "output"),
  };
  const paths: Record<string, unknown> = {};
  for (const backend of BACKENDS) {
    const name = `CreateJobRequest_${backend.replace(/-/g, "_")}`;
    schemas[name] = schema(CREATE_JOB_REQUESTS[backend], "input");
    paths[`/v1/${backend}/jobs`] = {
      post: {
        summary: `Submit a job to the ${backend} backend`,
        security: auth,
        parameters: [
          {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description: "Repeating a request with the same key returns the job the first one created.",
            schema: { type: "string", maxLength: 255 },
          },
        ],
        requestBody: { required: true, ...json(`#/components/schemas/${name}`) },
        responses: {
          "201": {
            description: "The job, recorded and handed to the backend",
            ...json("#/components/schemas/Job"),
          },
          "200": {
            description: "The job an earlier request with the same Idempotency-Key created",
            ...json("#/components/schemas/Job"),
          },
          ...standardErrors,
          "413": error("Body over the size limit"),
          "415": error("Body is not application/json"),
          "422": error("Idempotency-Key reused with a different body"),
          "503": error("Backend not configured on this server; the message names the settings it needs"),
        },
      },
    };
  }
  paths["/v1/jobs"] = {
    get: {
      summary: "List the account's jobs, newest first",
      security: auth,
      parameters: [
        { name: "status", in: "query", required: false, schema: schema(JobStatus, "input") },
        {
          name: "limit",
          in: "query",
          required: false,
          schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
        },
        { name: "cursor", in: "query", required: false, schema: { type: "string" } },
      ],
      responses: {
        "200": { description: "One page of jobs", ...json("#/components/schemas/JobList") },
        ...standardErrors,
      },
    },
  };
  paths["/v1/jobs/{id}"] = {
    get: {
      summary: "Read a job",
      security: auth,
      parameters: [jobId],
      responses: {
        "200": { description: "The job", ...json("#/components/schemas/Job") },
        ...standardErrors,
        "404": error("No such job in this account"),
      },
    },
  };
  paths["/v1/jobs/{id}/cancel"] = {
    post: {
      summary: "Cancel a job",
      security: auth,
      parameters: [jobId],
      responses: {
        "200": {
          description: "The job; CANCELED at once if not yet submitted, later otherwise",
          ...json("#/components/schemas/Job"),
        },
        ...standardErrors,
        "404": error("No such job in this account"),
        "409": error("The job is already in a terminal state"),
      },
    },
  };
  paths["/v1/jobs/{id}/logs"] = {
    get: {
      summary: "Read the last lines of a job's output",
      security: auth,
      parameters: [
        jobId,
        {
          name: "stream",
          in: "query",
          required: false,
          schema: { type: "string", enum: ["stdout", "stderr"], default: "stdout" },
        },
        {
          name: "tail",
          in: "query",
          required: false,
          schema: { type: "integer", minimum: 1, maximum: 10000, default: 100 },
        },
        {
          name: "cursor",
          in: "query",
          required: false,
          description: "next_cursor of an earlier answer: read the lines written since (at most tail)",
          schema: { type: "string", minLength: 1, maxLength: 1024 },
        },
        {
          name: "follow",
          in: "query",
          required: false,
          description:
            "true: answer with Server-Sent Events (event lines, then event end with the job once it ended); a job with no log yet is waited for, with comment lines meanwhile, up to TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS, after which event error ends the stream",
          schema: { type: "string", enum: ["true", "false"], default: "false" },
        },
      ],
      responses: {
        "200": { description: "The lines", ...json("#/components/schemas/JobLogs") },
        ...standardErrors,
        "404": error("No such job in this account"),
        "409": error(
          "logs_not_available: the cloud holds no log for the job yet (ask again once it runs, or follow it); job_not_started or logs_not_followable with follow=true",
        ),
        "501": error("logs_not_supported: the job's backend keeps no logs this server can read"),
        "503": error(
          "backend_not_enabled or backend_not_configured: this server does not run the job's backend now (TRAINKIT_BACKENDS), or lacks its settings",
        ),
      },
    },
  };
  paths["/healthz"] = {
    get: { summary: "Liveness", responses: { "200": { description: "The server is up" } } },
  };
  paths["/livez"] = paths["/healthz"];
  paths["/readyz"] = {
    get: {
      summary: "Readiness: the store answers and the reconciler completed a pass recently",
      responses: {
        "200": { description: "Ready" },
        "503": { description: "Not ready; `reasons` says why (store unreachable, reconciler stale)" },
      },
    },
  };
  return {
    openapi: "3.0.3",
    info: { title: "trainkit Train API", version: "1" },
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
        account: { type: "apiKey", in: "header", name: "x-selected-account-id" },
      },
    },
  };
}
