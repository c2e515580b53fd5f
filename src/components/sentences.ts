/**
 * An argument a user gave is invalid. The message is one sentence naming the field, the value and what
 * would be accepted, so `pulumi preview` shows the fix without a stack trace to read.
 */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgumentError";
  }
}

/** Lists choices the way a sentence does: `1, 2, 4 or 8`. */
export function oneOf(values: readonly (string | number)[]): string {
  const words = values.map(String);
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** Shows a value the user gave, quoting only strings that would otherwise be invisible or ambiguous. */
export function shown(value: unknown): string {
  if (typeof value === "string") return value === "" || /\s/.test(value) ? JSON.stringify(value) : value;
  if (value === undefined) return "nothing";
  return String(value);
}
