import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { ownerOf } from "../components/owners";
import { ArgumentError } from "../components/sentences";
import { arnParts, type IdentityPolicyStatement, policyDocument, type Tags } from "./settings";

/** The service principal EKS Pod Identity assumes roles as. */
export const POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com";

/**
 * The trust policy of a role for EKS Pod Identity, limited by the session tags EKS sets to one namespace and
 * service account, so another association in the account cannot borrow the role.
 */
export function podIdentityTrustPolicy(namespace: string, serviceAccount: string): string {
  return policyDocument([
    {
      Sid: "AllowEksPodIdentity",
      Effect: "Allow",
      Principal: { Service: POD_IDENTITY_PRINCIPAL },
      Action: ["sts:AssumeRole", "sts:TagSession"],
      Condition: {
        StringEquals: {
          "aws:RequestTag/kubernetes-namespace": namespace,
          "aws:RequestTag/kubernetes-service-account": serviceAccount,
        },
      },
    },
  ]);
}

/**
 * The trust policy of a role for IAM roles for service accounts (IRSA): tokens of one service account, issued
 * by the cluster's OIDC provider for STS.
 */
export function serviceAccountTrustPolicy(
  oidcProviderArn: string,
  namespace: string,
  serviceAccount: string,
): string {
  // The provider's ARN ends in its issuer without the scheme, which is how IAM names the condition keys.
  const issuer = arnParts(oidcProviderArn).resource.replace(/^oidc-provider\//, "");
  return policyDocument([
    {
      Sid: "AllowServiceAccountToken",
      Effect: "Allow",
      Principal: { Federated: oidcProviderArn },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: {
          [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
          [`${issuer}:aud`]: "sts.amazonaws.com",
        },
      },
    },
  ]);
}

/**
 * The policy document of identity statements, with every one-item list written as its item (as IAM's own
 * examples write them), so statements given as plain strings before come out as they did.
 */
export function compactPolicyDocument(statements: IdentityPolicyStatement[]): string {
  const one = (v: string[]) => (v.length === 1 ? v[0] : v);
  return policyDocument(
    statements.map((st) => ({
      ...st,
      Action: one(st.Action) as string | string[],
      Resource: one(st.Resource) as string | string[],
      ...(st.Condition !== undefined
        ? {
            Condition: Object.fromEntries(
              Object.entries(st.Condition).map(([op, byKey]) => [
                op,
                Object.fromEntries(Object.entries(byKey).map(([k, v]) => [k, one(v) as string | string[]])),
              ]),
            ),
          }
        : {}),
    })),
  );
}

/** Inputs of `PodIdentity`. */
export interface PodIdentityArgs {
  /** The EKS cluster's name (a `GpuCluster`'s `name`). Required. */
  clusterName: pulumi.Input<string>;
  /** The namespace of the service account. Required. */
  namespace: pulumi.Input<string>;
  /** The Kubernetes service account whose pods get the role. Required; it need not exist yet. */
  serviceAccount: pulumi.Input<string>;
  /**
   * Statements of the role's inline policy: what the pods may do. Defaults to none. At least one of
   * `statements` and `managedPolicyArns` must be given, since a role allowed nothing is a mistake.
   */
  statements?: pulumi.Input<IdentityPolicyStatement[]>;
  /** ARNs of managed policies to attach. Defaults to none. */
  managedPolicyArns?: pulumi.Input<string>[];
  /**
   * Create the Pod Identity association too. Defaults to true. Set false when an EKS add-on's
   * `podIdentityAssociations` makes the association, which then owns it.
   */
  associate?: boolean;
  /** A permissions boundary policy ARN for the role. Defaults to none. */
  permissionsBoundary?: pulumi.Input<string>;
  /** The region of the cluster. Defaults to the provider's region. */
  region?: pulumi.Input<string>;
  /** Tags for the role and the association. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/**
 * AWS permissions for the pods of one Kubernetes service account on EKS, through EKS Pod Identity: an IAM role
 * only that namespace and service account may assume, its policy, and the association that hands its
 * credentials to the pods (through the `eks-pod-identity-agent` add-on, which `GpuCluster` installs).
 */
export class PodIdentity extends pulumi.ComponentResource {
  /** The IAM role the pods assume, trusted by EKS Pod Identity for this cluster, namespace and service account only. */
  public readonly role: aws.iam.Role;
  /** The role's inline policy; undefined when `statements` is not given. */
  public readonly rolePolicy?: aws.iam.RolePolicy;
  /** One attachment per ARN of `managedPolicyArns`; empty when none are given. */
  public readonly rolePolicyAttachments: aws.iam.RolePolicyAttachment[];
  /** The association handing the role to the service account's pods; undefined when `associate` is false. */
  public readonly association?: aws.eks.PodIdentityAssociation;
  /** The role's ARN, for an add-on's `podIdentityAssociations` or a policy naming the role. */
  public readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: PodIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:PodIdentity", name, {}, opts);
    const owner = ownerOf(this, "PodIdentity", name);
    for (const field of ["clusterName", "namespace", "serviceAccount"] as const) {
      if (args?.[field] === undefined || args[field] === "") {
        throw new ArgumentError(`${owner}: ${field} must be set; got nothing`);
      }
    }
    if (args.statements === undefined && (args.managedPolicyArns ?? []).length === 0) {
      throw new ArgumentError(
        `${owner}: statements or managedPolicyArns must be given, since a role that may do nothing is a mistake; got neither`,
      );
    }
    const tags = mergeLabels("pod-identity", args.tags);
    const parent = { parent: this };
    this.role = new aws.iam.Role(
      name,
      {
        description: pulumi.interpolate`EKS Pod Identity of ${args.namespace}/${args.serviceAccount} (trainkit)`,
        assumeRolePolicy: pulumi
          .all([args.namespace, args.serviceAccount])
          .apply(([namespace, serviceAccount]) => podIdentityTrustPolicy(namespace, serviceAccount)),
        permissionsBoundary: args.permissionsBoundary,
        tags,
      },
      parent,
    );
    if (args.statements !== undefined) {
      this.rolePolicy = new aws.iam.RolePolicy(
        name,
        { role: this.role.name, policy: pulumi.output(args.statements).apply(compactPolicyDocument) },
        parent,
      );
    }
    this.rolePolicyAttachments = (args.managedPolicyArns ?? []).map(
      (policyArn, i) =>
        new aws.iam.RolePolicyAttachment(`${name}-${i}`, { role: this.role.name, policyArn }, parent),
    );
    if (args.associate ?? true) {
      this.association = new aws.eks.PodIdentityAssociation(
        name,
        {
          region: args.region,
          clusterName: args.clusterName,
          namespace: args.namespace,
          serviceAccount: args.serviceAccount,
          roleArn: this.role.arn,
          tags,
        },
        {
          ...parent,
          dependsOn: [...(this.rolePolicy ? [this.rolePolicy] : []), ...this.rolePolicyAttachments],
        },
      );
    }
    this.roleArn = this.role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
