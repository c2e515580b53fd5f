import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const CHUNK = 64 * 1024;

/**
 * The last `maxLines` lines of a file, reading backwards at most `maxBytes` so that a huge log costs
 * no more than its tail. A missing file has no lines. When the byte budget ends inside a line, that
 * partial line is dropped.
 */
export function tailLines(path: string, maxLines: number, maxBytes: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
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
    let lines = Buffer.concat(chunks).toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (position > 0) lines = lines.slice(1);
    return lines.slice(-maxLines);
  } finally {
    closeSync(fd);
  }
}

/** The tail of a job's stderr as `failure_reason` shows it: at most 20 lines and 4 KB. */
export function stderrExcerpt(path: string): string {
  const lines = tailLines(path, 20, 4096);
  return lines.join("\n").trimEnd();
}
