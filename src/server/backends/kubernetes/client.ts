import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import type {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ListWatch,
} from "@kubernetes/client-node" with { "resolution-mode": "import" };

/** Where the kubeconfig comes from, found without loading the client. */
export type KubeConfigSource = { files: string[] } | { inCluster: true };

export interface KubeClients {
  batch: BatchV1Api;
  core: CoreV1Api;
  /**
   * The client's list-then-watch cache of the objects under `path` matching `labelSelector`, not yet
   * started: it lists with `list`, watches from the list's resourceVersion, resumes from the last
   * version it saw when a watch ends, and lists again when the server answers 410 Gone.
   */
  listWatch<T extends KubernetesObject>(
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    labelSelector: string,
  ): ListWatch<T>;
}

/**
 * The kubeconfig in the order `kubectl` and the client's `loadFromDefault` look: `KUBECONFIG`,
 * `~/.kube/config`, the pod's service account. Undefined when there is none, so the server can
 * name what to set instead of talking to a default `localhost:8080`.
 */
export function findKubeConfig(env: NodeJS.ProcessEnv): KubeConfigSource | undefined {
  const files = (env.KUBECONFIG ?? "").split(delimiter).filter((f) => f !== "");
  if (files.length > 0) {
    const absent = files.find((f) => !existsSync(f));
    if (absent) throw new Error(`names ${absent}, which does not exist; point it at a kubeconfig file`);
    return { files };
  }
  const home = join(env.HOME ?? homedir(), ".kube", "config");
  if (existsSync(home)) return { files: [home] };
  if (env.KUBERNETES_SERVICE_HOST) return { inCluster: true };
  return undefined;
}

/**
 * The API clients for a kubeconfig, its current cluster's server replaced by `endpoint` when given.
 * `@kubernetes/client-node` is an ES module and this package is CommonJS, so it is loaded with a
 * dynamic import, once, on the backend's first call.
 */
export async function makeClients(
  source: KubeConfigSource,
  endpoint: string | undefined,
): Promise<KubeClients> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  if ("inCluster" in source) {
    kc.loadFromCluster();
  } else {
    const [first, ...rest] = source.files;
    loadFile(kc, first!);
    for (const file of rest) {
      const more = new k8s.KubeConfig();
      loadFile(more, file);
      kc.mergeConfig(more);
    }
  }
  const config = endpoint ? withEndpoint(kc, endpoint, new k8s.KubeConfig()) : kc;
  return {
    batch: config.makeApiClient(k8s.BatchV1Api),
    core: config.makeApiClient(k8s.CoreV1Api),
    listWatch: (path, list, labelSelector) =>
      new k8s.ListWatch(path, new k8s.Watch(config), list, false, labelSelector),
  };
}

/**
 * A kubeconfig file that could not be read or parsed, described by its path, line and the kind of
 * mistake only: the YAML parser's own message quotes the lines around the mistake, and those are
 * where the file keeps its tokens and client keys.
 */
export class KubeConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line === undefined ? "" : ` (line ${line})`} ${reason}`);
    this.name = "KubeConfigFileError";
  }
}

// The client's own checks of a parsed file name a field or a duplicate entry's name, never a value.
const SAFE_CHECK_MESSAGE =
  /^((clusters|users|contexts)\[\d+\]\.[\w.]+ is missing|Duplicate (cluster|user|context): .{0,253})$/;

function loadFile(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw describeLoadFailure(file, err);
  }
}

function describeLoadFailure(file: string, err: unknown): KubeConfigFileError {
  const e = (err ?? {}) as { name?: unknown; reason?: unknown; mark?: { line?: unknown }; code?: unknown };
  if (e.name === "YAMLException") {
    const line = typeof e.mark?.line === "number" ? e.mark.line + 1 : undefined;
    const reason = typeof e.reason === "string" ? `: ${e.reason}` : "";
    return new KubeConfigFileError(file, line, `is not valid YAML${reason}`);
  }
  if (typeof e.code === "string")
    return new KubeConfigFileError(file, undefined, `cannot be read (${e.code})`);
  const message = err instanceof Error ? err.message : "";
  return new KubeConfigFileError(
    file,
    undefined,
    SAFE_CHECK_MESSAGE.test(message) ? `is not a valid kubeconfig: ${message}` : "is not a valid kubeconfig",
  );
}

function withEndpoint(kc: KubeConfig, endpoint: string, replaced: KubeConfig): KubeConfig {
  const current = kc.getCurrentCluster();
  if (!current) {
    throw new Error(
      `the kubeconfig names no current cluster for TRAINKIT_KUBERNETES_ENDPOINT to replace the server of`,
    );
  }
  replaced.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.name === current.name ? { ...c, server: endpoint } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return replaced;
}
