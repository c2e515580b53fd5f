// trainkit/azure: the Azure components. Importing this loads @pulumi/azure-native modules, which the
// package root never does.

export { NameSuffix, type NameSuffixArgs } from "../components/name-suffix";
export * from "./bucket";
export * from "./gpu-cluster";
export * from "./registry";
export {
  AZURE_RESOURCE_PROVIDERS,
  AZURE_ROLES,
  type AzureRole,
  assignRole,
  nameOf,
  REGISTER_PROVIDERS_COMMAND,
  resourceGroupOf,
  subscriptionOf,
} from "./settings";
export * from "./training-api";
export * from "./training-platform";
