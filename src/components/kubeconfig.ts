/** The `exec` credential plugin a kubeconfig user runs for a fresh token on each use. */
export interface KubeconfigExec {
  /** The plugin's executable, looked up on the `PATH` of whoever uses the kubeconfig. */
  command: string;
  /** Arguments to `command`. Defaults to none. */
  args?: string[];
  /** Environment variables set for the plugin (`AWS_PROFILE`). Defaults to none. */
  env?: { name: string; value: string }[];
  /** What kubectl prints when `command` is missing: how to install it. */
  installHint: string;
  /** Whether the plugin is handed the cluster's details in `KUBERNETES_EXEC_INFO`. Defaults to false. */
  provideClusterInfo?: boolean;
}

/**
 * A kubeconfig whose user runs an exec plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`) for a fresh
 * token on each use, so it holds no credential of its own and does not expire the way an embedded token
 * would.
 */
export function execKubeconfig(
  context: string,
  server: string,
  caCertificate: string,
  exec: KubeconfigExec,
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: context, cluster: { server, "certificate-authority-data": caCertificate } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    "current-context": context,
    users: [
      {
        name: context,
        user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", ...exec } },
      },
    ],
  });
}
