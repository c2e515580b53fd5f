import * as pulumi from "@pulumi/pulumi";

/** Labels every trainkit resource carries, so a bill or an inventory can be filtered by platform and part. */
export function trainkitLabels(component: string): Record<string, string> {
  return { "managed-by": "trainkit", "trainkit-component": component };
}

type Labels = pulumi.Input<Record<string, pulumi.Input<string>>>;

/**
 * The user's labels plus the trainkit labels. On a clash the trainkit keys win, since cost reports and
 * cleanup rely on them. A plain map stays a plain map: wrapping it in an output would cost every resource
 * that carries it an extra round of output resolution for nothing.
 */
export function mergeLabels(component: string, user?: Labels): Labels {
  if (user === undefined) return trainkitLabels(component);
  if (!pulumi.Output.isInstance(user) && !(user instanceof Promise)) {
    return { ...(user as Record<string, pulumi.Input<string>>), ...trainkitLabels(component) };
  }
  return pulumi.output(user).apply((given) => ({ ...given, ...trainkitLabels(component) }));
}
