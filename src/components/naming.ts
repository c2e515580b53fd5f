import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * A physical name that fits a cloud's naming rules: lowercase letters, digits and dashes, starting with a
 * letter, at most `maxLength` characters, ending in a short hash of the stack and the full name. Clouds
 * reject names past their limits at apply time, long after `pulumi preview` said all was well, and two
 * stacks in one project must not fight over one name; the hash settles both while the name stays readable.
 */
export function boundedName(
  base: string,
  maxLength: number,
  scope = `${pulumi.getProject()}/${pulumi.getStack()}`,
) {
  const hash = createHash("sha256").update(`${scope}/${base}`).digest("hex").slice(0, 6);
  let stem = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+/g, "-");
  stem = stem.slice(0, Math.max(0, maxLength - hash.length - 1)).replace(/-+$/, "");
  return stem === "" ? `t${hash}`.slice(0, maxLength) : `${stem}-${hash}`;
}
