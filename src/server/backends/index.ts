import type { Backend as BackendName } from "../../spec";
import { ConfigError } from "../config";
import { azureMlBackend } from "./azure-ml";
import { kubernetesBackend } from "./kubernetes";
import { localBackend } from "./local";
import { sagemakerBackend } from "./sagemaker";
import type { Backend, BackendContext, BackendFactory } from "./types";
import { vertexAiBackend } from "./vertex-ai";

export * from "./types";

/**
 * The factory of each backend this server can run. Wiring in a backend is one line here; a backend
 * without an entry answers 503 `backend_not_configured` naming `UNWIRED_BACKEND_SETTINGS`.
 */
export const BACKEND_FACTORIES: { [B in BackendName]?: BackendFactory<B> } = {
  "vertex-ai": vertexAiBackend,
  sagemaker: sagemakerBackend,
  "azure-ml": azureMlBackend,
  kubernetes: kubernetesBackend,
  local: localBackend,
};

/** What each backend needs before it can take jobs, for backends with no factory in this build. */
export const UNWIRED_BACKEND_SETTINGS: { [B in BackendName]?: string[] } = {};

export type BackendSlot<B extends BackendName = BackendName> =
  | { backend: Backend<B> }
  | { missing: string[] };
export type BackendRegistry = { [B in BackendName]: BackendSlot<B> };

export function buildBackends(
  env: NodeJS.ProcessEnv,
  ctx: BackendContext,
  factories: { [B in BackendName]?: BackendFactory<B> } = BACKEND_FACTORIES,
): BackendRegistry {
  const slot = <B extends BackendName>(name: B): BackendSlot<B> => {
    const factory = factories[name] as BackendFactory<B> | undefined;
    if (!factory) return { missing: UNWIRED_BACKEND_SETTINGS[name] ?? [] };
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
