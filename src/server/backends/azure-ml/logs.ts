import type { LogLine } from "../../../spec";
import { logCursor } from "../cloud-common";
import { BackendError } from "../types";

// A command job's output as Azure ML keeps it: files of the job's run in run history, listed by
// Runs_GetDetails (`logFiles`: file name -> a read-only SAS URL of the blob in the workspace's
// default datastore), each read with ranged Get Blob requests
// (test/fixtures/published/azure-rest-api-specs/run-history-2019-08-01.json).

/** The token scope of the Azure ML data-plane APIs, run history among them. */
export const AZURE_ML_DATA_PLANE_SCOPE = "https://ml.azure.com/.default";

/** Where Azure ML puts a job in run history when its body names no experiment. */
export const DEFAULT_EXPERIMENT = "Default";

/** Bytes one ranged read of a log blob asks for. Defaults to 4 MiB; a busy log is read over several reads. */
export const DEFAULT_LOG_READ_BYTES = 4 * 1024 * 1024;

/**
 * The files holding a job's own output: `user_logs/std_log.txt` for a single process, and
 * `user_logs/std_log_process_<n>.txt` (one per process, `node_<n>` parts where several nodes run)
 * otherwise. Each holds the process's stdout and stderr together.
 */
const STD_LOG = /^user_logs\/std_log(?:_([A-Za-z0-9_]+))?\.txt$/;

/** The run history path of one job's details. */
export function runDetailsPath(workspaceId: string, experimentName: string, runId: string): string {
  return `/history/v1.0${workspaceId}/experiments/${encodeURIComponent(experimentName)}/runs/${encodeURIComponent(runId)}/details`;
}

/** The run history host of a workspace: the origin of its `discoveryUrl`. */
export function runHistoryOrigin(discoveryUrl: string | undefined, workspace: string): string {
  try {
    if (discoveryUrl) return new URL(discoveryUrl).origin;
  } catch {
    // answered below
  }
  throw new BackendError(
    502,
    "cloud_bad_response",
    `Azure ML workspace ${workspace} reports no usable discoveryUrl (${JSON.stringify(discoveryUrl ?? null)}); the run history endpoint that holds job logs cannot be found`,
  );
}

/** The job's output files among a run's `logFiles`, in a stable order: process 0 first. */
export function stdLogFiles(logFiles: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(logFiles ?? {})
    .filter((name) => STD_LOG.test(name))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** The process a file belongs to: `process_1` of `user_logs/std_log_process_1.txt`; none for `std_log.txt`. */
export function sourceOf(fileName: string): string | undefined {
  return STD_LOG.exec(fileName)?.[1];
}

/** Where a read stopped: for each file read, the byte offset after its last whole line returned. */
export type FileOffsets = Record<string, number>;

/** A position as the API hands it out: opaque to callers, checked when it comes back. */
export const fileCursor = logCursor<FileOffsets>(
  (p) => Object.entries(p).flat(),
  (v) => {
    if (v.length % 2 !== 0) return undefined;
    const offsets: FileOffsets = {};
    for (let i = 0; i < v.length; i += 2) {
      const [name, offset] = [v[i], v[i + 1]];
      if (typeof name !== "string" || !STD_LOG.test(name)) return undefined;
      if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) return undefined;
      offsets[name] = offset;
    }
    return offsets;
  },
);

/**
 * The whole lines of `bytes` (read from `start`), with the offset after the last one. A line still
 * being written (no line break yet) is left for the next read, unless `final` says the file is
 * complete. When `start` is not the file's start, the first line may be a piece and is dropped.
 */
export function wholeLines(
  bytes: Buffer,
  start: number,
  options: { final: boolean; fromMiddle: boolean },
): { lines: { text: string; end: number }[]; end: number } {
  const lines: { text: string; end: number }[] = [];
  let from = 0;
  if (options.fromMiddle) {
    const first = bytes.indexOf(0x0a);
    if (first < 0) return { lines, end: start };
    from = first + 1;
  }
  for (;;) {
    const nl = bytes.indexOf(0x0a, from);
    if (nl < 0) break;
    lines.push({ text: bytes.subarray(from, nl).toString("utf8").replace(/\r$/, ""), end: start + nl + 1 });
    from = nl + 1;
  }
  if (options.final && from < bytes.length) {
    lines.push({ text: bytes.subarray(from).toString("utf8").replace(/\r$/, ""), end: start + bytes.length });
    from = bytes.length;
  }
  return { lines, end: start + from };
}

/** One line as the API answers it, with the process that wrote it where the file name says. */
export function logLine(text: string, fileName: string): LogLine {
  const source = sourceOf(fileName);
  return { text, ...(source ? { source } : {}) };
}

/** The answer when a job's run has no output file yet. */
export function logsNotYetAvailable(jobName: string): BackendError {
  return new BackendError(
    409,
    "logs_not_available",
    `logs not yet available: Azure ML has recorded no user_logs/std_log*.txt file for job ${jobName} yet (the job writes them once its processes have started); ask again when the job is running`,
  );
}
