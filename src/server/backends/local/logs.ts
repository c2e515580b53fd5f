import { closeSync, readSync } from "node:fs";
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
  const opened = openUntrusted(path);
  if (opened === null) return [];
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
    let lines = Buffer.concat(chunks).toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (position > 0 && lines.length > 1) lines = lines.slice(1);
    return lines.flatMap(pieces).slice(-maxLines);
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
