import { ArgumentError, shown } from "./sentences";

/**
 * A whole-number argument within bounds, or the sentence naming it. `unit` reads after "a whole number of"
 * (`days`), and `owner` leads the sentence (`Bucket data`), as every component's argument errors do.
 * `bounds.least` and `bounds.most` are inclusive; `bounds.fallback` stands in for an undefined `value`.
 */
export function wholeNumberArg(
  owner: string,
  field: string,
  value: number | undefined,
  bounds: { least: number; most?: number; fallback: number; unit?: string },
): number {
  const n = value ?? bounds.fallback;
  if (!Number.isInteger(n) || n < bounds.least || (bounds.most !== undefined && n > bounds.most)) {
    const what = bounds.unit ? `a whole number of ${bounds.unit}` : "a whole number";
    const range =
      bounds.most === undefined ? `at least ${bounds.least}` : `from ${bounds.least} to ${bounds.most}`;
    throw new ArgumentError(`${owner}: ${field} must be ${what}, ${range}; got ${shown(n)}`);
  }
  return n;
}
