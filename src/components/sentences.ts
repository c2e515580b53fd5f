/**
 * Builds the Pulumi form of an argument error: given the sentence, the error to throw instead, or
 * undefined to throw the plain one. Installed by `./owners` when a Pulumi program loads a component.
 */
type Attach = (message: string) => Error | undefined;
let attach: Attach | undefined;

/** Lets `./owners` turn every later ArgumentError into a `pulumi.ResourceError`; see there. */
export function attachArgumentErrors(to: Attach): void {
  attach = to;
}

/**
 * An argument a user gave is invalid. The message is one sentence naming the field, the value and what
 * would be accepted, so `pulumi preview` shows the fix without a stack trace to read.
 *
 * This module loads no Pulumi SDK, because the Train API validates with the same catalogue. Inside a
 * Pulumi program, once a component is loaded, `new ArgumentError(...)` yields a `pulumi.ResourceError`
 * attached to the component the sentence names, with its stack hidden (see `./owners`).
 */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgumentError";
    const attached = attach?.(message);
    // biome-ignore lint/correctness/noConstructorReturn: the Pulumi form replaces this error when one is installed.
    if (attached) return attached;
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
