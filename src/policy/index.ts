import type { PolicyPackArgs } from "@pulumi/policy";
import { TRAINKIT_POLICIES } from "./rules";

export { type GpuDemand, type GpuKind, gpuDemands, TYPES } from "./resources";
export {
  gpuAllowedAccelerators,
  gpuMaxCount,
  gpuNodesTainted,
  gpuSpotRequired,
  jobRuntimeLimit,
  kubernetesApiPrivate,
  registryPrivate,
  SPOT_STACK_TAG,
  storagePrivate,
  TRAINKIT_POLICIES,
  type TrainkitPolicy,
} from "./rules";

/** The name the pack is served under, shown in `pulumi preview` next to each violation. */
export const POLICY_PACK_NAME = "trainkit";

/**
 * The arguments of trainkit's policy pack, for `new PolicyPack(POLICY_PACK_NAME, policyPackArgs())`; the
 * shipped pack (`node_modules/trainkit/policy`) is exactly that. A pack of your own can take a subset of
 * {@link TRAINKIT_POLICIES} and add its own rules.
 */
export function policyPackArgs(): PolicyPackArgs {
  return {
    description: "Rules for GPU training infrastructure, written by hand or by trainkit's components.",
    policies: [...TRAINKIT_POLICIES],
  };
}
