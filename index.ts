import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { TrainingJob } from "trainkit/job";
import { quickstartJobRequest } from "trainkit/quickstart";

// The quickstart job of examples/quickstart as a Pulumi resource: `npm start` runs the Train API,
// `pulumi up` submits the job and waits for it, `pulumi destroy` cancels it if it still runs.
// The job itself is examples/quickstart/job.json, the same body the curl quick start posts, with
// its relative paths made absolute for this machine.

const config = new pulumi.Config("trainkit");
const example = path.join(__dirname, "examples", "quickstart");
const dataDir = path.resolve(process.env.TRAINKIT_DATA_DIR ?? ".trainkit");
// Beside the server's data directory, not in it: no job may reach the server's own files.
const outputDir = path.resolve(config.get("outputDir") ?? `${dataDir}-runs/pulumi-quickstart`);
const job = quickstartJobRequest({ outputDir, exampleDir: example });

/**
 * A key set with `pulumi config set --secret trainkit:apiKey` reaches the provider through its
 * configuration and never enters the state. Without one, the key `npm start` wrote to the data
 * directory is passed in, as a secret.
 */
function localApiKey(): pulumi.Output<string> | undefined {
  if (config.getSecret("apiKey") !== undefined) return undefined;
  const file = path.join(dataDir, "api-key");
  try {
    return pulumi.secret(readFileSync(file, "utf8").trim());
  } catch {
    throw new Error(
      `no API key: ${file} does not exist; run \`npm start\` first (it writes that file), ` +
        "or set one with `pulumi config set --secret trainkit:apiKey <key>`",
    );
  }
}

const quickstart = new TrainingJob("quickstart", {
  backend: "local",
  name: job.name,
  jobConfig: job.job_config,
  storageMounts: (job.storage_mounts ?? []).map((mount) => ({
    sourceUri: mount.source_uri,
    mountPath: mount.mount_path,
    readOnly: mount.read_only ?? false,
  })),
  apiKey: localApiKey(),
  waitFor: (config.get("waitFor") as "submitted" | "running" | "completed" | undefined) ?? "completed",
  waitTimeoutSeconds: 600,
});

export const jobId = quickstart.jobId;
export const status = quickstart.status;
export const modelDir = outputDir;
