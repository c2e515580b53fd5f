import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { BackendError } from "../types";

const CHUNK = 64 * 1024;

/**
 * The last `maxLines` lines of a file, reading backwards at most `maxBytes` so that a huge log costs
 * no more than its tail. A missing file has no lines. When the byte budget ends inside a line, that
 * partial line is dropped.
 */
export function tailLines(path: string, maxLines: number, maxBytes: number): string[] {
  return tailLinesAt(path, maxLines, maxBytes).lines;
}

/** `tailLines`, and the file's size when it was read: where a later read continues. */
export function tailLinesAt(
  path: string,
  maxLines: number,
  maxBytes: number,
): { lines: string[]; end: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], end: 0 };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    let read = 0;
    // One newline more than the lines wanted marks where the first wanted line starts.
    while (position > 0 && read < maxBytes && newlines <= maxLines) {
      const length = Math.min(CHUNK, position, maxBytes - read);
      position -= length;
      const chunk = Buffer.alloc(length);
      readSync(fd, chunk, 0, length, position);
      chunks.unshift(chunk);
      read += length;
      for (const byte of chunk) if (byte === 0x0a) newlines++;
    }
    const tail = Buffer.concat(chunks);
    let lines = tail.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (position > 0) lines = lines.slice(1);
    // A line still being written is shown, and read again whole by whoever continues.
    const lastNewline = tail.lastIndexOf(0x0a);
    return { lines: lines.slice(-maxLines), end: lastNewline === -1 ? position : position + lastNewline + 1 };
  } finally {
    closeSync(fd);
  }
}

/**
 * The complete lines written from byte `start` on, at most `maxLines` of them and `maxBytes` read,
 * and the byte after the last one returned. A line still being written (no newline yet) waits for
 * the next read, so a reader that continues from `end` sees each line once and whole. A single
 * line longer than `maxBytes` is returned cut, so a reader never stalls on it.
 */
export function linesFrom(
  path: string,
  start: number,
  maxLines: number,
  maxBytes: number,
): { lines: string[]; end: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], end: start };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    // A file that shrank was replaced (a rerun): read it from its start.
    const from = start > size ? 0 : start;
    const length = Math.min(size - from, maxBytes);
    if (length <= 0) return { lines: [], end: from };
    const chunk = Buffer.alloc(length);
    readSync(fd, chunk, 0, length, from);
    const lines: string[] = [];
    let at = 0;
    while (lines.length < maxLines) {
      const newline = chunk.indexOf(0x0a, at);
      if (newline === -1) break;
      lines.push(chunk.subarray(at, newline).toString("utf8"));
      at = newline + 1;
    }
    if (lines.length === 0 && at === 0 && length === maxBytes) {
      return { lines: [chunk.toString("utf8")], end: from + length };
    }
    return { lines, end: from + at };
  } finally {
    closeSync(fd);
  }
}

/** The tail of a job's stderr as `failure_reason` shows it: at most 20 lines and 4 KB. */
export function stderrExcerpt(path: string): string {
  const lines = tailLines(path, 20, 4096);
  return lines.join("\n").trimEnd();
}

/** A position in a log file as the API hands it out: opaque to callers, checked when it comes back. */
export const offsetCursor = {
  encode(offset: number): string {
    return Buffer.from(JSON.stringify({ offset })).toString("base64url");
  },
  decode(cursor: string): number {
    try {
      const { offset } = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as {
        offset?: unknown;
      };
      if (typeof offset === "number" && Number.isSafeInteger(offset) && offset >= 0) return offset;
    } catch {
      // Not base64url JSON: answered below like any other cursor this server did not issue.
    }
    throw new BackendError(
      400,
      "invalid_request",
      "cursor is not one this server issued for this job's logs; pass next_cursor from the previous answer unchanged",
    );
  },
};
