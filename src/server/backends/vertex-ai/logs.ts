import type { LogLine } from "../../../spec";
import { logCursor } from "../cloud-common";
import { BackendError } from "../types";

// A custom job's output as Cloud Logging keeps it: entries of the `ml_job` monitored resource whose
// `job_id` label is the CustomJob's numeric id, one per replica line, read with entries.list
// (test/fixtures/published/google-cloud-docs/logging-v2-entries-list.json).

/** entries.list takes at most 1,000 entries a page. */
export const LOGGING_MAX_PAGE_SIZE = 1000;

/** The subset of a LogEntry this reads. */
export interface CloudLogEntry {
  timestamp?: string;
  insertId?: string;
  textPayload?: string;
  jsonPayload?: { message?: unknown };
  labels?: Record<string, string>;
  resource?: { type?: string; labels?: Record<string, string> };
}

/** Where a read stopped: the last entry returned, in entries.list's own order (timestamp, then insertId). */
export interface EntryPosition {
  timestamp: string;
  insertId: string;
}

/** The filter that selects one CustomJob's entries, as `gcloud ai custom-jobs stream-logs` writes it. */
export function customJobFilter(customJobName: string, after?: EntryPosition): string {
  const id = customJobName.split("/").pop() ?? "";
  if (!/^\d+$/.test(id)) {
    throw new BackendError(
      502,
      "cloud_bad_response",
      `the CustomJob name ${customJobName} ends in no numeric id`,
    );
  }
  const clauses = [
    '(resource.type="ml_job" OR resource.type="cloudml_job")',
    `resource.labels.job_id="${id}"`,
  ];
  if (after) {
    const t = quote(after.timestamp);
    clauses.push(`(timestamp>${t} OR (timestamp=${t} AND insertId>${quote(after.insertId)}))`);
  }
  return clauses.join(" AND ");
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/** One entry as lines: `jsonPayload.message`, else `textPayload`, one line per line of it. */
export function linesOf(entry: CloudLogEntry): LogLine[] {
  const message =
    entry.jsonPayload !== undefined
      ? typeof entry.jsonPayload.message === "string"
        ? entry.jsonPayload.message
        : ""
      : (entry.textPayload ?? "");
  const source =
    entry.resource?.labels?.task_name ??
    entry.labels?.task_name ??
    entry.labels?.["ml.googleapis.com/task_name"];
  const texts = message.replace(/\n$/, "").split("\n");
  return texts.map((text) => ({
    text,
    ...(entry.timestamp ? { timestamp: entry.timestamp } : {}),
    ...(source ? { source } : {}),
  }));
}

export function positionOf(entry: CloudLogEntry): EntryPosition | undefined {
  return entry.timestamp && entry.insertId !== undefined
    ? { timestamp: entry.timestamp, insertId: entry.insertId }
    : undefined;
}

/** A position as the API hands it out: opaque to callers, checked when it comes back. */
export const entryCursor = logCursor<EntryPosition>(
  (p) => [p.timestamp, p.insertId],
  (v) =>
    v.length === 2 && typeof v[0] === "string" && !Number.isNaN(Date.parse(v[0])) && typeof v[1] === "string"
      ? { timestamp: v[0], insertId: v[1] }
      : undefined,
);
