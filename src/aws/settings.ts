import * as pulumi from "@pulumi/pulumi";
import { ArgumentError } from "../components/sentences";

// The region is needed by value (ARNs in policies, the API's settings, the kubeconfig), so an arg left
// unset falls back to the provider's stack config the way the aws provider itself would, and a missing
// value fails at construction with the command that fixes it.

/** `value`, or the stack's `aws:region` config; throws a sentence naming both when neither is set. */
export function awsRegion(value: pulumi.Input<string> | undefined, field: string, owner: string) {
  if (value !== undefined) return value;
  const fromConfig = new pulumi.Config("aws").get("region");
  if (fromConfig) return fromConfig;
  throw new ArgumentError(
    `${owner}: ${field} must be set, or the stack must set aws:region (pulumi config set aws:region us-east-1); got nothing`,
  );
}

/** The parts of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`) policies are built from. */
export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function arnParts(arn: string): ArnParts {
  const [prefix, partition, service, region, account, ...resource] = arn.split(":");
  if (prefix !== "arn" || !partition || !service || resource.length === 0) {
    throw new ArgumentError(`${shownArn(arn)} is not an ARN (arn:<partition>:<service>:...)`);
  }
  return { partition, service, region: region ?? "", account: account ?? "", resource: resource.join(":") };
}

const shownArn = (arn: string) => (arn === "" ? '""' : arn);

/** One IAM policy statement, as written in a policy document. */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Record<string, string | string[]> | "*";
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** An IAM policy document as the JSON string IAM, S3 and KMS take. */
export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * The trust policy letting one AWS service assume a role. With `account`, only that service acting for that
 * account may assume it, which shuts out the confused deputy (another account's job using this role).
 */
export function serviceTrustPolicy(service: string, account?: string): string {
  return policyDocument([
    {
      Effect: "Allow",
      Principal: { Service: service },
      Action: "sts:AssumeRole",
      ...(account ? { Condition: { StringEquals: { "aws:SourceAccount": account } } } : {}),
    },
  ]);
}

/** The tags every trainkit resource on AWS carries, with the user's under them. */
export type Tags = pulumi.Input<Record<string, pulumi.Input<string>>>;
