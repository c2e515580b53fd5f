import { closeSync, readSync } from "node:fs";
import { BackendError } from "../types";
import { openUntrusted, UntrustedFileError } from "./files";

const CHUNK = 64 * 1024;

/** The longest piece of one line a logs answer holds; longer lines come back as several pieces. */
export const LOG_PIECE_CHARS = 8 * 1024;

/**
 * The last `maxLines` lines of a log file, reading backwards at most `maxBytes` so that a huge log
 * costs no more than its tail. A line longer than `LOG_PIECE_CHARS` counts as several lines of at
 * most that length, so output written as one endless line still shows. When the byte budget ends
 * inside a line, that partial line is dropped, unless it is all there is. A missing file has no
 * lines. The file is opened as `openUntrusted` does (no symbolic link, no FIFO, a regular file only).
 */
export function tailLines(path: string, maxLines: number, maxBytes: number): string[] {
  return tailLinesAt(path, maxLines, maxBytes).lines;
}

/** `tailLines`, and the byte after the last complete line read: where a later read continues. */
export function tailLinesAt(
  path: string,
  maxLines: number,
  maxBytes: number,
): { lines: string[]; end: number } {
  const opened = openUntrusted(path);
  if (opened === null) return { lines: [], end: 0 };
  const { fd, size } = opened;
  try {
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    let read = 0;
    // One newline more than the lines wanted marks where the first wanted line starts.
    while (position > 0 && read < maxBytes && newlines <= maxLines) {
      const length = Math.min(CHUNK, position, maxBytes - read);
      position -= length;
      const chunk = Buffer.alloc(length);
      const n = readSync(fd, chunk, 0, length, position);
      chunks.unshift(chunk.subarray(0, n));
      read += length;
      for (let i = 0; i < n; i++) if (chunk[i] === 0x0a) newlines++;
    }
    const tail = Buffer.concat(chunks);
    let lines = tail.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (position > 0 && lines.length > 1) lines = lines.slice(1);
    // A line still being written is shown, and read again whole by whoever continues.
    const lastNewline = tail.lastIndexOf(0x0a);
    return {
      lines: lines.flatMap(pieces).slice(-maxLines),
      end: lastNewline === -1 ? position : position + lastNewline + 1,
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * The complete lines written from byte `start` on, at most `maxLines` of them and `maxBytes` read,
 * and the byte after the last one returned. A line still being written (no newline yet) waits for
 * the next read, so a reader that continues from `end` sees each line once and whole. A single
 * line longer than `maxBytes` is returned cut, so a reader never stalls on it; lines longer than
 * `LOG_PIECE_CHARS` come back in pieces. Opened as `openUntrusted` does.
 */
export function linesFrom(
  path: string,
  start: number,
  maxLines: number,
  maxBytes: number,
): { lines: string[]; end: number } {
  const opened = openUntrusted(path);
  if (opened === null) return { lines: [], end: start };
  const { fd, size } = opened;
  try {
    // A file that shrank was replaced (a rerun): read it from its start.
    const from = start > size ? 0 : start;
    const length = Math.min(size - from, maxBytes);
    if (length <= 0) return { lines: [], end: from };
    const chunk = Buffer.alloc(length);
    const n = readSync(fd, chunk, 0, length, from);
    const lines: string[] = [];
    let at = 0;
    while (lines.length < maxLines) {
      const newline = chunk.indexOf(0x0a, at);
      if (newline === -1 || newline >= n) break;
      lines.push(chunk.subarray(at, newline).toString("utf8"));
      at = newline + 1;
    }
    if (lines.length === 0 && at === 0 && n === maxBytes) {
      return { lines: pieces(chunk.subarray(0, n).toString("utf8")), end: from + n };
    }
    return { lines: lines.flatMap(pieces), end: from + at };
  } finally {
    closeSync(fd);
  }
}

function pieces(line: string): string[] {
  if (line.length <= LOG_PIECE_CHARS) return [line];
  const out: string[] = [];
  for (let i = 0; i < line.length; i += LOG_PIECE_CHARS) out.push(line.slice(i, i + LOG_PIECE_CHARS));
  return out;
}

/** The tail of a job's stderr as `failure_reason` shows it: at most 20 lines and 4 KB. */
export function stderrExcerpt(path: string): string {
  try {
    return tailLines(path, 20, 4096).join("\n").trimEnd().slice(-4096);
  } catch (err) {
    if (err instanceof UntrustedFileError) return `(${err.message})`;
    throw err;
  }
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
