// trainkit/aws: the AWS components. Importing this loads @pulumi/aws, which the package root never does.
export * from "./bucket";
export * from "./gpu-cluster";
export * from "./pod-identity";
export * from "./registry";
export * from "./sagemaker-role";
export {
  type ArnParts,
  arnParts,
  awsRegion,
  type IdentityPolicyStatement,
  identityStatements,
  PolicyEffect,
  type PolicyStatement,
  policyDocument,
  serviceTrustPolicy,
  type Tags,
} from "./settings";
export * from "./training-api";
export * from "./training-platform";
