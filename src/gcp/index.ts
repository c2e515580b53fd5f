// trainkit/gcp: the GCP components. Importing this loads @pulumi/gcp, which the package root never does.
export * from "./bucket";
export * from "./gpu-cluster";
export * from "./node-pools";
export * from "./project-apis";
export * from "./registry";
export { gcpSetting, serviceAccountMember } from "./settings";
export * from "./training-api";
export * from "./training-platform";
export * from "./zones";
