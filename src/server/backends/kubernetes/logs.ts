import type { LogLine } from "../../../spec";
import { logCursor } from "../cloud-common";

// A pod's log as the kubelet serves it (GET .../pods/{name}/log): with `timestamps=true` every
// line starts with its RFC3339 or RFC3339Nano time and a space, and `sinceSeconds` returns only
// lines from that many seconds back (test/fixtures/published/kubernetes/pod-log-read.json). The
// generated client has no `sinceTime`, so a read from a position asks for the seconds since it,
// plus a margin for clock skew between this server and the node, and drops what it already returned.

/** Seconds added to every `sinceSeconds`, for the difference between this server's clock and the node's. */
export const CLOCK_SKEW_MARGIN_SECONDS = 120;

/**
 * Where a read stopped: the pod, the time of the last line returned, and how many lines had that very
 * time, or `ALL_AT_TIME` after a read of the last lines, which cannot count those before its window.
 */
export interface PodLogPosition {
  pod: string;
  timestamp: string;
  seen: number;
}

/** `seen` of a position that stands after every line logged at its time. */
export const ALL_AT_TIME = -1;

/** A position as the API hands it out: opaque to callers, checked when it comes back. */
export const podLogCursor = logCursor<PodLogPosition>(
  (p) => [p.pod, p.timestamp, p.seen],
  (v) =>
    v.length === 3 &&
    typeof v[0] === "string" &&
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v[0]) &&
    typeof v[1] === "string" &&
    sortKey(v[1]) !== undefined &&
    Number.isSafeInteger(v[2]) &&
    (v[2] as number) >= ALL_AT_TIME
      ? { pod: v[0], timestamp: v[1], seen: v[2] as number }
      : undefined,
);

/** One line of a `timestamps=true` log. */
export interface TimedLine {
  timestamp: string;
  text: string;
}

/** The lines of a `timestamps=true` log; a line without a time (none should come) keeps the one before's. */
export function timedLines(body: string): TimedLine[] {
  const rows = body.split("\n");
  if (rows.at(-1) === "") rows.pop();
  const lines: TimedLine[] = [];
  for (const row of rows) {
    const space = row.indexOf(" ");
    const stamp = space > 0 ? row.slice(0, space) : "";
    if (sortKey(stamp) !== undefined) lines.push({ timestamp: stamp, text: row.slice(space + 1) });
    else lines.push({ timestamp: lines.at(-1)?.timestamp ?? "", text: row });
  }
  return lines;
}

/**
 * A time that sorts as text: RFC3339Nano drops trailing zeros of the fraction (`.5Z` is later than
 * `.123Z`), so the fraction is padded to nine digits. Undefined for anything that is not a UTC time.
 */
export function sortKey(timestamp: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(timestamp);
  return m ? `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}Z` : undefined;
}

/** The lines after `after` (of the same pod), in order: later times, and at its time those past `seen`. */
export function linesAfter(lines: readonly TimedLine[], after: PodLogPosition | null): TimedLine[] {
  if (!after) return [...lines];
  const key = sortKey(after.timestamp)!;
  let atKey = 0;
  return lines.filter((line) => {
    const k = sortKey(line.timestamp) ?? "";
    if (k > key) return true;
    if (k === key) return after.seen !== ALL_AT_TIME && ++atKey > after.seen;
    return false;
  });
}

/** The position after `taken` (in order), continuing from `after` within the same pod. */
export function positionAfter(
  pod: string,
  taken: readonly TimedLine[],
  after: PodLogPosition | null,
): PodLogPosition | null {
  const last = taken.at(-1);
  if (!last) return after;
  const key = sortKey(last.timestamp);
  if (after?.seen === ALL_AT_TIME && sortKey(after.timestamp) === key) return after;
  let seen = after && sortKey(after.timestamp) === key ? after.seen : 0;
  for (const line of taken) if (sortKey(line.timestamp) === key) seen++;
  return { pod, timestamp: last.timestamp, seen };
}

/** The `sinceSeconds` that covers everything after `timestamp`, with the skew margin. */
export function sinceSecondsFor(timestamp: string, now: number): number {
  const elapsed = Math.ceil((now - Date.parse(timestamp)) / 1000);
  return Math.max(1, elapsed) + CLOCK_SKEW_MARGIN_SECONDS;
}

export function logLine(line: TimedLine, pod: string): LogLine {
  return { text: line.text, ...(line.timestamp ? { timestamp: line.timestamp } : {}), source: pod };
}
