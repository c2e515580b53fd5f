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
  /** `aws`, `aws-cn` or `aws-us-gov`. */
  partition: string;
  /** The service namespace, such as `s3` or `iam`. */
  service: string;
  /** The region; `""` for global services (IAM, S3 buckets). */
  region: string;
  /** The 12-digit account ID; `""` where the ARN has none (S3 buckets). */
  account: string;
  /** Everything after the account, colons included: `role/name`, `bucket-name`. */
  resource: string;
}

/** The parts of `arn`; throws a sentence naming the value when it is not an ARN. A missing region or account is `""`. */
export function arnParts(arn: string): ArnParts {
  const [prefix, partition, service, region, account, ...resource] = arn.split(":");
  if (prefix !== "arn" || !partition || !service || resource.length === 0) {
    throw new ArgumentError(`${shownArn(arn)} is not an ARN (arn:<partition>:<service>:...)`);
  }
  return { partition, service, region: region ?? "", account: account ?? "", resource: resource.join(":") };
}

const shownArn = (arn: string) => (arn === "" ? '""' : arn);

/** Whether a policy statement allows or denies its actions. */
export const PolicyEffect = {
  /** The statement allows the actions. */
  Allow: "Allow",
  /** The statement denies the actions, overriding any allow. */
  Deny: "Deny",
} as const;
export type PolicyEffect = (typeof PolicyEffect)[keyof typeof PolicyEffect];

/** One IAM policy statement, as written in a policy document. */
export interface PolicyStatement {
  /** An optional statement ID, unique within the document. */
  Sid?: string;
  /** Whether the statement allows or denies the actions. */
  Effect: PolicyEffect;
  /** Who the statement applies to; only in resource and trust policies, not in identity policies. */
  Principal?: Record<string, string | string[]> | "*";
  /** The actions, such as `s3:GetObject`; `*` wildcards allowed. */
  Action: string | string[];
  /** ARNs the actions apply to; absent in trust policies. */
  Resource?: string | string[];
  /** Conditions by operator, then by key, such as `{ StringEquals: { "aws:SourceAccount": "123456789012" } }`. */
  Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * One statement of an identity policy (a role's own policy, so no `Principal`), with every list written as a
 * list: the shape a `PodIdentity`'s `statements` take in every Pulumi language.
 */
export interface IdentityPolicyStatement {
  /** An optional statement ID, unique within the policy. */
  Sid?: string;
  /** Whether the statement allows or denies the actions. */
  Effect: PolicyEffect;
  /** The actions, such as `s3:GetObject`; `*` wildcards allowed. */
  Action: string[];
  /** ARNs the actions apply to. */
  Resource: string[];
  /** Conditions by operator, then by key, such as `{ StringEquals: { "aws:SourceAccount": ["123456789012"] } }`. */
  Condition?: Record<string, Record<string, string[]>>;
}

/** `statements` (without principals) in the shape `PodIdentity` takes: every action, resource and condition value a list. */
export function identityStatements(statements: PolicyStatement[]): IdentityPolicyStatement[] {
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  return statements.map(({ Sid, Effect, Action, Resource, Condition }) => ({
    ...(Sid !== undefined ? { Sid } : {}),
    Effect,
    Action: list(Action),
    Resource: list(Resource ?? []),
    ...(Condition !== undefined
      ? {
          Condition: Object.fromEntries(
            Object.entries(Condition).map(([op, byKey]) => [
              op,
              Object.fromEntries(Object.entries(byKey).map(([k, v]) => [k, list(v)])),
            ]),
          ),
        }
      : {}),
  }));
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
