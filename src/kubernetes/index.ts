// trainkit/kubernetes: the Kubernetes components. Importing this loads @pulumi/kubernetes, which the
// package root never does.
export * from "./gpu-support";
export * from "./training-api";
export * from "./training-platform";
