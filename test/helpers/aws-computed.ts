import type { Inputs } from "./pulumi-mocks";

/** The account and region the mock AWS resources live in. */
export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "us-east-1";

const arn = (service: string, resource: string, region = MOCK_REGION, account = MOCK_ACCOUNT) =>
  `arn:aws:${service}:${region}:${account}:${resource}`;

/**
 * The output properties AWS computes that trainkit's AWS components read: ARNs, the ECR URL, the EKS
 * endpoint, CA and OIDC issuer, the load balancer's DNS name, and the names AWS would generate.
 * Pass as `installPulumiMocks({ computed: awsComputed })`.
 */
export function awsComputed({ type, name, inputs }: { type: string; name: string; inputs: Inputs }) {
  const given = (inputs.name as string | undefined) ?? name;
  switch (type) {
    case "aws:iam/role:Role":
      return { name: given, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${given}` };
    case "aws:s3/bucket:Bucket": {
      const bucket = (inputs.bucket as string | undefined) ?? name;
      return { bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case "aws:ecr/repository:Repository":
      return {
        name: given,
        arn: arn("ecr", `repository/${given}`),
        repositoryUrl: `${MOCK_ACCOUNT}.dkr.ecr.${MOCK_REGION}.amazonaws.com/${given}`,
      };
    case "aws:eks/cluster:Cluster":
      return {
        name: given,
        arn: arn("eks", `cluster/${given}`),
        endpoint: "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
        certificateAuthority: { data: "Q0EtREFUQQ==" },
        identities: [{ oidcs: [{ issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF" }] }],
        vpcConfig: { ...inputs.vpcConfig, vpcId: "vpc-0abc", clusterSecurityGroupId: "sg-0cluster" },
      };
    case "aws:eks/nodeGroup:NodeGroup":
      return { resources: [{ autoscalingGroups: [{ name: `eks-${name}-asg` }] }] };
    case "aws:ec2/placementGroup:PlacementGroup":
      return { name: given };

    case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
      return {
        arn: `arn:aws:iam::${MOCK_ACCOUNT}:oidc-provider/${String(inputs.url).replace(/^https:\/\//, "")}`,
      };
    case "aws:kms/key:Key":
      return { arn: arn("kms", `key/${name}`) };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { name: given, arn: arn("logs", `log-group:${given}`) };
    case "aws:secretsmanager/secret:Secret":
      return { arn: arn("secretsmanager", `secret:${name}-AbCdEf`) };
    case "aws:lb/loadBalancer:LoadBalancer":
      return {
        arn: arn("elasticloadbalancing", `loadbalancer/app/${given}/50dc6c495c0c9188`),
        dnsName: `${inputs.internal ? "internal-" : ""}${given}-1234567890.${MOCK_REGION}.elb.amazonaws.com`,
      };
    case "aws:lb/targetGroup:TargetGroup":
      return { arn: arn("elasticloadbalancing", `targetgroup/${given}/6d0ecf831eec9f09`) };
    case "aws:ecs/cluster:Cluster":
      return { arn: arn("ecs", `cluster/${given}`) };
    case "aws:ecs/taskDefinition:TaskDefinition":
      return { arn: arn("ecs", `task-definition/${inputs.family}:1`) };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { latestVersion: 1 };
    default:
      return {};
  }
}

/**
 * The answers of the AWS provider functions trainkit's AWS components call: the provider's region.
 * Pass as `installPulumiMocks({ computed: awsComputed, invoke: awsInvoke })`.
 */
export function awsInvoke(token: string, inputs: Inputs): Record<string, unknown> | undefined {
  if (token === "aws:index/getRegion:getRegion") {
    const region = (inputs.region as string | undefined) ?? MOCK_REGION;
    return { id: region, name: region, region, endpoint: `ec2.${region}.amazonaws.com`, description: region };
  }
  return undefined;
}
