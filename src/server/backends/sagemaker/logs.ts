import type { LogLine } from "../../../spec";
import { logCursor } from "../cloud-common";
import { BackendError } from "../types";

// A training job's output as CloudWatch Logs keeps it: log group `/aws/sagemaker/TrainingJobs`, one
// stream per instance named `<TrainingJobName>/algo-<n>-<epoch seconds>`, read with
// DescribeLogStreams, GetLogEvents and FilterLogEvents
// (test/fixtures/published/aws-botocore/cloudwatch-logs-read-events.json).

/** The log group SageMaker writes every training job's output to. */
export const TRAINING_JOB_LOG_GROUP = "/aws/sagemaker/TrainingJobs";

/** GetLogEvents and FilterLogEvents take at most 10,000 events a page (`EventsLimit`). */
export const EVENTS_MAX_PAGE_SIZE = 10_000;

/** DescribeLogStreams takes at most 50 streams a page (`DescribeLimit`). */
export const STREAMS_MAX_PAGE_SIZE = 50;

/** The CloudWatch Logs actions the backend calls, which the Train API's role must be granted. */
export const LOG_READ_ACTIONS = [
  "logs:DescribeLogStreams",
  "logs:GetLogEvents",
  "logs:FilterLogEvents",
] as const;

/** The prefix that selects one training job's streams and no other job's. */
export function streamPrefix(trainingJobName: string): string {
  return `${trainingJobName}/`;
}

/** The instance a stream belongs to: `algo-1` of `<job>/algo-1-1764669600`. */
export function sourceOf(streamName: string): string {
  const host = streamName.slice(streamName.lastIndexOf("/") + 1);
  return /^(algo-\d+)-\d+$/.exec(host)?.[1] ?? host;
}

/** One event of one stream, as either read returns it. */
export interface StreamEvent {
  streamName: string;
  timestamp: number;
  message: string;
}

/** One event as lines, one per line of its message, each with its time and instance. */
export function linesOf(event: StreamEvent): LogLine[] {
  const timestamp = new Date(event.timestamp).toISOString();
  const source = sourceOf(event.streamName);
  return event.message
    .replace(/\r?\n$/, "")
    .split("\n")
    .map((text) => ({ text, timestamp, source }));
}

/**
 * Where a read stopped: the timestamp (milliseconds) of the last event returned, and how many events
 * of that very millisecond were returned, so that the next read starts at that millisecond
 * (`startTime` includes it) and skips those.
 */
export interface EventPosition {
  timestamp: number;
  seen: number;
}

/** The position after `events` (oldest first), continuing from `after`. */
export function positionAfter(
  events: readonly StreamEvent[],
  after: EventPosition | null,
): EventPosition | null {
  const last = events.at(-1);
  if (!last) return after;
  let seen = after && after.timestamp === last.timestamp ? after.seen : 0;
  for (const e of events) if (e.timestamp === last.timestamp) seen++;
  return { timestamp: last.timestamp, seen };
}

/** A position as the API hands it out: opaque to callers, checked when it comes back. */
export const eventCursor = logCursor<EventPosition>(
  (p) => [p.timestamp, p.seen],
  (v) =>
    v.length === 2 && v.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
      ? { timestamp: v[0] as number, seen: v[1] as number }
      : undefined,
);

/** The answer when a training job has no log stream yet. */
export function logsNotYetAvailable(trainingJobName: string): BackendError {
  return new BackendError(
    409,
    "logs_not_available",
    `logs not yet available: SageMaker has written no log stream for training job ${trainingJobName} to ${TRAINING_JOB_LOG_GROUP} yet (its instances start writing once they have started); ask again when the job is running`,
  );
}
