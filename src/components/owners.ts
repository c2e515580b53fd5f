import * as pulumi from "@pulumi/pulumi";
import { attachArgumentErrors } from "./sentences";

/** Each component by the owner its sentences start with (`GpuCluster gpu`), so an error finds its component. */
const owners = new Map<string, pulumi.Resource>();

/**
 * Names a component the way its argument errors begin (`GpuCluster gpu`) and records it, so that an
 * ArgumentError starting with that owner is reported by Pulumi against this component.
 */
export function ownerOf(component: pulumi.ComponentResource, kind: string, name: string): string {
  const owner = `${kind} ${name}`;
  owners.set(owner, component);
  return owner;
}

/**
 * Inside a Pulumi program an invalid argument is a `pulumi.ResourceError`: the CLI prints the sentence
 * under the component it names and hides the stack, as it does for the providers' own errors.
 */
attachArgumentErrors((message) => {
  const colon = message.indexOf(": ");
  const resource = colon > 0 ? owners.get(message.slice(0, colon)) : undefined;
  const error = new pulumi.ResourceError(message, resource, true);
  error.name = "ArgumentError";
  return error;
});
