import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { ArgumentError, shown } from "./sentences";

/** Characters in a suffix: 36^8 (about 2.8 trillion) choices, so two deployments practically never meet. */
export const SUFFIX_LENGTH = 8;
const SUFFIX = /^[a-z0-9]{4,16}$/;

/**
 * A fresh random suffix of `length` lowercase letters and digits, drawn from the operating system's
 * cryptographic generator. Rejection sampling keeps every character equally likely. Those characters are
 * the ones every Azure global name accepts, and EKS cluster names accept them too.
 */
export function randomSuffix(length: number = SUFFIX_LENGTH): string {
  const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
  // Lowercase letters and digits: the only characters every Azure global name accepts.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 252 = 7 * 36: bytes at or above it would favour the first letters.
      if (byte < 252 && out.length < length) out += alphabet[byte % 36];
    }
  }
  return out;
}

// The provider is serialized into the state with the resource (Pulumi's dynamic providers), so it is
// self-contained: no module-level state, only `require` of Node's own crypto module inside `create`.
// Its text, comments included, is what existing stacks hold: editing it shows as a change to them.
// The type token (`trainkit`, `NameSuffix`) is what identifies their resources; it must not change.
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const suffix = randomSuffix(inputs.length);
    return { id: suffix, outs: { length: inputs.length, suffix } };
  },
  async diff(_id, olds, news) {
    // The suffix is drawn once, at create; only asking for another length draws a new one.
    const changed = olds.length !== news.length;
    return { changes: changed, replaces: changed ? ["length"] : [], deleteBeforeReplace: false };
  },
  async read(id, props) {
    // Nothing exists outside the state: what was stored is what there is.
    return { id, props };
  },
};

/** Inputs of `NameSuffix`. */
export interface NameSuffixArgs {
  /** Characters in the suffix, 4 to 16. Defaults to 8. */
  length?: number;
}

/**
 * A random suffix drawn once, when the resource is created, and kept in the stack's state: every later
 * `pulumi up` of the stack reads the same suffix back, while another stack, project, tenant or a
 * `destroy` followed by `up` draws a new one. It is what makes trainkit's globally unique Azure names
 * (storage accounts, registries, Key Vaults), its soft-deleted names (Key Vaults, Azure ML
 * workspaces) and the AWS GpuCluster's EKS cluster name (whose log group EKS re-creates after the
 * cluster is deleted) new per deployment yet stable across updates, as Pulumi's own auto-naming does.
 * It is a dynamic resource: no provider package or plugin of its own to install.
 */
export class NameSuffix extends pulumi.dynamic.Resource {
  /** The suffix: lowercase letters and digits. */
  declare public readonly suffix: pulumi.Output<string>;
  /** Characters in the suffix, as asked for; changing it draws a new suffix. */
  declare public readonly length: pulumi.Output<number>;

  constructor(name: string, args: NameSuffixArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const length = args.length ?? SUFFIX_LENGTH;
    if (!Number.isInteger(length) || length < 4 || length > 16) {
      throw new ArgumentError(
        `NameSuffix ${name}: length must be a whole number from 4 to 16; got ${shown(length)}`,
      );
    }
    super(provider, name, { length, suffix: undefined }, opts, "trainkit", "NameSuffix");
  }
}

/** `value` when it is a valid suffix (for names chosen outside the stack); an error naming `field` otherwise. */
export function checkSuffix(owner: string, field: string, value: string): string {
  if (!SUFFIX.test(value)) {
    throw new ArgumentError(
      `${owner}: ${field} must be 4 to 16 lowercase letters or digits; got ${shown(value)}`,
    );
  }
  return value;
}

/**
 * A name for a resource Azure names globally, or keeps after deletion: a readable stem from `base`
 * (lowercase letters and digits, plus dashes when `dashes`), starting with a letter, ending in `suffix`, at
 * most `maxLength` long. A stem cut short ends in four characters of a hash of the whole `base`, so two
 * parts of one deployment whose names differ only past the cut still get different names.
 */
export function suffixedName(
  base: string,
  suffix: pulumi.Input<string>,
  maxLength: number,
  options: {
    /** Keep dashes in the stem and put one before the suffix. Defaults to false: letters and digits only. */
    dashes?: boolean;
  } = {},
): pulumi.Output<string> {
  const dashes = options.dashes ?? false;
  let stem = base
    .toLowerCase()
    .replace(dashes ? /[^a-z0-9-]+/g : /[^a-z0-9]+/g, dashes ? "-" : "")
    .replace(/^[^a-z]+/, "");
  if (dashes) stem = stem.replace(/-+/g, "-");
  const joiner = dashes ? "-" : "";
  return pulumi.output(suffix).apply((s) => {
    const room = Math.max(0, maxLength - s.length - joiner.length);
    let cut = stem;
    if (cut.length > room) {
      const hash = createHash("sha256").update(base).digest("hex").slice(0, 4);
      cut = room > hash.length ? `${stem.slice(0, room - hash.length)}${hash}` : stem.slice(0, room);
    }
    if (dashes) cut = cut.replace(/-+$/, "");
    return cut === "" ? `t${s}`.slice(0, maxLength) : `${cut}${joiner}${s}`;
  });
}
