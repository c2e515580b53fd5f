import * as pulumi from "@pulumi/pulumi";
import { ArgumentError } from "../components/sentences";

// Project and region are needed by value (workload identity pools, registry URLs, IAM members), so an arg
// left unset falls back to the provider's stack config the way the gcp provider itself would, and a
// missing value fails at construction with the command that fixes it.

/** `value`, or the stack's `gcp:<key>` config; throws a sentence naming both when neither is set. */
export function gcpSetting(
  value: pulumi.Input<string> | undefined,
  field: string,
  key: "project" | "region",
  owner: string,
): pulumi.Input<string> {
  if (value !== undefined) return value;
  const fromConfig = new pulumi.Config("gcp").get(key);
  if (fromConfig) return fromConfig;
  const example = key === "project" ? "my-project" : "us-central1";
  throw new ArgumentError(
    `${owner}: ${field} must be set, or the stack must set gcp:${key} (pulumi config set gcp:${key} ${example}); got nothing`,
  );
}

/** `serviceAccount:<email>`, the IAM member form of a service account. */
export function serviceAccountMember(email: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`serviceAccount:${email}`;
}
