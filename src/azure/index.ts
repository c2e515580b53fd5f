// trainkit/azure: the Azure components. Importing this loads @pulumi/azure-native modules, which the
// package root never does.
export * from "./bucket";
export * from "./gpu-cluster";
export * from "./registry";
export {
  AZURE_ROLES,
  type AzureRole,
  assignRole,
  nameOf,
  resourceGroupOf,
  subscriptionOf,
} from "./settings";
export * from "./training-api";
export * from "./training-platform";
