import { BACKENDS, BACKENDS_SETTING, type Backend as BackendName } from "../../spec";
import { ConfigError } from "../config";
import { azureMlBackend } from "./azure-ml";
import { kubernetesBackend } from "./kubernetes";
import { localBackend } from "./local";
import { sagemakerBackend } from "./sagemaker";
import type { Backend, BackendContext, BackendFactory } from "./types";
import { vertexAiBackend } from "./vertex-ai";

export * from "./types";

/**
 * The factory of each backend this server can run. A factory whose settings are missing returns
 * them, and the server answers that backend's requests with 503 `backend_not_configured` naming them.
 */
export const BACKEND_FACTORIES: { [B in BackendName]?: BackendFactory<B> } = {
  "vertex-ai": vertexAiBackend,
  sagemaker: sagemakerBackend,
  "azure-ml": azureMlBackend,
  kubernetes: kubernetesBackend,
  local: localBackend,
};

/**
 * The backends this server runs: `TRAINKIT_BACKENDS`, a comma-separated list, or every backend when
 * it is unset. A deployed API should name its cloud's backend only: the `local` backend runs
 * commands as the server's own user, which a laptop wants and a shared service does not.
 */
export function enabledBackends(env: NodeJS.ProcessEnv): ReadonlySet<BackendName> {
  const raw = env[BACKENDS_SETTING]?.trim();
  if (!raw) return new Set(BACKENDS);
  const names = raw.split(",").map((n) => n.trim());
  const unknown = names.filter((n) => !(BACKENDS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.includes("")) {
    throw new ConfigError(
      BACKENDS_SETTING,
      `${BACKENDS_SETTING} must be a comma-separated list of ${BACKENDS.join(", ")}; got ${JSON.stringify(raw)}. ` +
        `Fix: name only those backends, such as ${BACKENDS_SETTING}=vertex-ai, or unset it to run them all.`,
      true,
    );
  }
  return new Set(names as BackendName[]);
}

export type BackendSlot<B extends BackendName = BackendName> =
  | { backend: Backend<B> }
  | { missing: string[] }
  | { disabled: { enabled: BackendName[] } };
export type BackendRegistry = { [B in BackendName]: BackendSlot<B> };

export function buildBackends(
  env: NodeJS.ProcessEnv,
  ctx: BackendContext,
  factories: { [B in BackendName]?: BackendFactory<B> } = BACKEND_FACTORIES,
): BackendRegistry {
  const enabled = enabledBackends(env);
  const slot = <B extends BackendName>(name: B): BackendSlot<B> => {
    if (!enabled.has(name)) return { disabled: { enabled: [...enabled] } };
    const factory = factories[name] as BackendFactory<B> | undefined;
    if (!factory) return { missing: [] };
    try {
      return factory(env, ctx);
    } catch (err) {
      // A factory throws for a setting that is present but wrong; its message names the variable.
      throw new ConfigError(`${name} backend`, (err as Error).message, true);
    }
  };
  return {
    "vertex-ai": slot("vertex-ai"),
    sagemaker: slot("sagemaker"),
    "azure-ml": slot("azure-ml"),
    kubernetes: slot("kubernetes"),
    local: slot("local"),
  };
}

export async function closeBackends(registry: BackendRegistry): Promise<void> {
  await Promise.allSettled(
    Object.values(registry).map((slot) => ("backend" in slot ? slot.backend.close?.() : undefined)),
  );
}
