import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { isCloudRunUrl } from "../job/clients/google-id-token";
import type { ApiSettings } from "../job/clients/types";
import { LOCAL_ACCOUNT_ID, LOCAL_API_KEY_FILE } from "../server/config";

/** A mistake the user can fix: the message says how. The CLI prints it and exits with `EXIT.usage`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The flags every command takes to reach the Train API. */
export interface ConnectionFlags {
  apiUrl?: string;
  apiKey?: string;
  apiKeyFile?: string;
  account?: string;
  config?: string;
}

/** What a config file may hold: the names `TrainingJob` takes as inputs. */
const ConfigFile = z
  .object({
    apiUrl: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
    apiKeyFile: z.string().min(1).optional(),
    accountId: z.string().min(1).optional(),
  })
  .strict();
type ConfigFile = z.infer<typeof ConfigFile>;

/** `$XDG_CONFIG_HOME/trainkit/config.yaml`, else `~/.config/trainkit/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "trainkit", "config.yaml");
}

function readConfigFile(path: string, named: boolean): { file: ConfigFile; path?: string } {
  if (!existsSync(path)) {
    if (named) throw new UsageError(`config file ${path} does not exist; check --config or TRAINKIT_CONFIG`);
    return { file: {} };
  }
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(
      `config file ${path} is not valid YAML or JSON (${(err as Error).message.split("\n")[0]}); fix it or point --config elsewhere`,
    );
  }
  const parsed = ConfigFile.safeParse(data ?? {});
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ");
    throw new UsageError(
      `config file ${path} is invalid: ${where}; it takes apiUrl, apiKey or apiKeyFile, and accountId`,
    );
  }
  return { file: parsed.data, path };
}

function readKeyFile(path: string, from: string): string {
  try {
    const key = readFileSync(path, "utf8").trim();
    if (key !== "") return key;
  } catch {
    // Answered below.
  }
  throw new UsageError(`the API key file ${path} (${from}) cannot be read or is empty; check the path`);
}

/**
 * Where the Train API is and who calls it. Each setting comes from the first of: a flag, the
 * environment variable `TrainingJob` reads (`TRAINKIT_API_URL`, `TRAINKIT_API_KEY`,
 * `TRAINKIT_ACCOUNT_ID`), the config file. With none of them, a server started here by `npm start`
 * is used: `http://127.0.0.1:8080`, its generated key in `.trainkit/api-key`, account `local`.
 */
export function resolveSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv, cwd: string): ApiSettings {
  const named = flags.config ?? env.TRAINKIT_CONFIG;
  const { file } = readConfigFile(named ? resolve(cwd, named) : defaultConfigPath(env), named !== undefined);

  let url = flags.apiUrl ?? (env.TRAINKIT_API_URL || undefined) ?? file.apiUrl;
  let apiKey: string | undefined;
  if (flags.apiKey !== undefined) apiKey = flags.apiKey;
  else if (flags.apiKeyFile !== undefined)
    apiKey = readKeyFile(resolve(cwd, flags.apiKeyFile), "--api-key-file");
  else if (env.TRAINKIT_API_KEY) apiKey = env.TRAINKIT_API_KEY;
  else if (file.apiKey !== undefined) apiKey = file.apiKey;
  else if (file.apiKeyFile !== undefined) apiKey = readKeyFile(resolve(cwd, file.apiKeyFile), "apiKeyFile");
  let accountId = flags.account ?? (env.TRAINKIT_ACCOUNT_ID || undefined) ?? file.accountId;

  const localKey = join(resolve(cwd, env.TRAINKIT_DATA_DIR || ".trainkit"), LOCAL_API_KEY_FILE);
  if (url === undefined && apiKey === undefined && accountId === undefined && existsSync(localKey)) {
    url = `http://127.0.0.1:${env.PORT || 8080}`;
    apiKey = readKeyFile(localKey, "written by `npm start`");
    accountId = LOCAL_ACCOUNT_ID;
  }

  const missing: string[] = [];
  if (url === undefined) missing.push("the Train API URL (--api-url, TRAINKIT_API_URL or apiUrl)");
  if (apiKey === undefined) {
    missing.push("the API key (TRAINKIT_API_KEY, --api-key-file, or apiKey or apiKeyFile)");
  }
  if (accountId === undefined) missing.push("the account (--account, TRAINKIT_ACCOUNT_ID or accountId)");
  if (url === undefined || apiKey === undefined || accountId === undefined) {
    throw new UsageError(
      `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not set; set ${missing.length > 1 ? "them" : "it"} ` +
        `with a flag, an environment variable or the config file ${named ?? defaultConfigPath(env)}`,
    );
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(
      `the Train API URL must be an http:// or https:// URL such as http://127.0.0.1:8080`,
    );
  }
  if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") {
    throw new UsageError(
      `the Train API URL must be an http:// or https:// URL such as http://127.0.0.1:8080`,
    );
  }
  return { url, apiKey, accountId, googleIdToken: isCloudRunUrl(url) };
}
