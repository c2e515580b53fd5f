import type { BackendFactory } from "../types";
import { LocalBackend } from "./backend";
import { readLocalSettings } from "./settings";

export { LocalBackend, type LocalBackendState } from "./backend";
export { INHERITED_ENV } from "./environment";
export { LOCAL_SETTING_DEFAULTS, type LocalSettings, readLocalSettings } from "./settings";

/**
 * The `local` backend: jobs run as processes on the server's machine, under `<dataDir>/local/<jobId>/`.
 * It needs no settings, so it is always available; `TRAINKIT_LOCAL_MAX_CONCURRENT` (default 2) and
 * `TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS` (default 10) tune it, and a bad value throws naming the variable.
 */
export const localBackend: BackendFactory<"local"> = (env, ctx) => ({
  backend: new LocalBackend(readLocalSettings(env), env, ctx),
});
