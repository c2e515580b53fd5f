import { beforeAll, describe, expect, it } from "vitest";
import { PodIdentity, serviceAccountTrustPolicy } from "../../src/aws";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { statementsOf } from "../helpers/iam-policies";
import { published } from "../helpers/published";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

// Under the mock runtime: proves the role, policy and association trainkit registers, not how EKS hands
// credentials to pods.

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation";

const TRUST = published<{ principal: { Service: string }; actions: string[]; conditionKeys: string[] }>(
  "aws-docs/eks-pod-identity-trust.json",
);
const CREATE = published<{ CreatePodIdentityAssociationRequest: { required: string[] } }>(
  "aws-botocore/eks-node-groups-and-addons.json",
).CreatePodIdentityAssociationRequest;

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke });
});

describe("PodIdentity", () => {
  it("makes a role only the one namespace and service account may assume, with the published trust", async () => {
    const identity = new PodIdentity("reader", {
      clusterName: "ml-eks",
      namespace: "trainkit",
      serviceAccount: "jobs",
      statements: [
        { Sid: "Read", Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::data/*"] },
      ],
    });
    await mocks.settle();
    expect(statementsOf(mocks.one(ROLE, "reader").inputs.assumeRolePolicy)).toEqual([
      {
        Sid: "AllowEksPodIdentity",
        Effect: "Allow",
        Principal: TRUST.principal,
        Action: TRUST.actions,
        Condition: {
          StringEquals: { [TRUST.conditionKeys[0]!]: "trainkit", [TRUST.conditionKeys[1]!]: "jobs" },
        },
      },
    ]);
    expect(statementsOf(mocks.one(ROLE_POLICY, "reader").inputs.policy)).toEqual([
      { Sid: "Read", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::data/*" },
    ]);
    const association = mocks.one(ASSOCIATION, "reader").inputs;
    expect(association).toMatchObject({
      clusterName: "ml-eks",
      namespace: "trainkit",
      serviceAccount: "jobs",
      roleArn: "arn:aws:iam::123456789012:role/reader",
    });
    for (const field of CREATE.required) expect(association[field]).toBeDefined();
    expect(mocks.one(ASSOCIATION, "reader").dependsOn).toContain(`${ROLE_POLICY}::reader`);
    expect(await outputValue(identity.roleArn)).toBe("arn:aws:iam::123456789012:role/reader");
  });

  it("attaches managed policies, and leaves the association to an add-on when told", async () => {
    new PodIdentity("addon", {
      clusterName: "ml-eks",
      namespace: "kube-system",
      serviceAccount: "ebs-csi-controller-sa",
      managedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
      associate: false,
    });
    await mocks.settle();
    expect(mocks.one(ATTACHMENT, "addon-0").inputs.policyArn).toBe(
      "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    );
    expect(mocks.ofType(ASSOCIATION).filter((r) => r.name === "addon")).toEqual([]);
    expect(mocks.ofType(ROLE_POLICY).filter((r) => r.name === "addon")).toEqual([]);
  });

  it("rejects a role that would be allowed nothing", () => {
    expect(() => new PodIdentity("empty", { clusterName: "c", namespace: "n", serviceAccount: "s" })).toThrow(
      "PodIdentity empty: statements or managedPolicyArns must be given, since a role that may do nothing is a mistake; got neither",
    );
  });

  it("rejects a missing service account", () => {
    expect(
      () =>
        new PodIdentity("nosa", { clusterName: "c", namespace: "n", managedPolicyArns: ["arn:x"] } as never),
    ).toThrow("PodIdentity nosa: serviceAccount must be set; got nothing");
  });
});

describe("serviceAccountTrustPolicy", () => {
  it("trusts tokens of one service account from the cluster's OIDC provider, for STS", () => {
    const issuer = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF";
    expect(
      statementsOf(
        serviceAccountTrustPolicy(
          `arn:aws:iam::123456789012:oidc-provider/${issuer}`,
          "kube-system",
          "aws-node",
        ),
      ),
    ).toEqual([
      {
        Sid: "AllowServiceAccountToken",
        Effect: "Allow",
        Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${issuer}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: "system:serviceaccount:kube-system:aws-node",
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
  });
});
