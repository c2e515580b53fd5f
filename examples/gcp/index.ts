import * as pulumi from "@pulumi/pulumi";
import { TrainingPlatform } from "trainkit/gcp";
import { TrainingJob } from "trainkit/job";

const config = new pulumi.Config();
const accountId = config.get("accountId") ?? "team-vision";
// The key callers send as x-api-key. Stored as a secret in the stack and in Secret Manager; the API
// maps it to the accounts it may act for.
const apiKey = config.requireSecret("apiKey");

function gkeCluster(networks: string[]) {
  return {
    gpuPools: [{ gpu: "nvidia-l4" as const, gpusPerNode: 1, maxNodes: 2, spot: true }],
    deletionProtection: false,
    ...(networks.length === 0 ? { privateEndpoint: true } : { authorizedCidrBlocks: networks }),
  };
}

const platform = new TrainingPlatform("ml", {
  api: {
    image: config.require("apiImage"),
    apiKeys: apiKey.apply((key) => ({ [key]: [accountId] })),
    // Not public: Cloud Run checks every caller's Google ID token. From inside the project's VPC, leave
    // externalIngress off; from a workstation, set trainkit-gcp:externalIngress and name yourself an invoker.
    externalIngress: config.getBoolean("externalIngress") ?? false,
    invokers: config.getObject<string[]>("invokers") ?? [],
  },
  // Vertex AI needs no cluster. Set trainkit-gcp:gkeCluster to true for a GKE cluster with a spot L4 pool, and
  // trainkit-gcp:clusterNetworks to the CIDR blocks that may reach its control plane ([] keeps it in the VPC).
  cluster: config.getBoolean("gkeCluster")
    ? gkeCluster(config.requireObject<string[]>("clusterNetworks"))
    : undefined,
});

export const platformOutputs = platform.outputs;

// The SGP Train API's Vertex AI example, submitted once the training image has been pushed to the platform's
// registry and its tag given as trainkit-gcp:trainingImage.
const trainingImage = config.get("trainingImage");
export const mnistJob = trainingImage
  ? new TrainingJob("mnist-training", {
      backend: "vertex-ai",
      name: "mnist-training",
      apiUrl: platform.outputs.apiUrl,
      apiKey,
      accountId,
      jobConfig: {
        worker_pool_specs: [
          {
            machine_spec: {
              machine_type: "g2-standard-8",
              accelerator_type: "NVIDIA_L4",
              accelerator_count: 1,
            },
            replica_count: 1,
            container_spec: {
              image_uri: pulumi.interpolate`${platform.outputs.registryUrl}/${trainingImage}`,
              command: ["python3", "train.py"],
              args: ["--epochs", "3"],
            },
          },
        ],
        scheduling: { timeout: "86400s" },
        service_account: platform.outputs.jobServiceAccountEmail,
      },
      storageMounts: [
        {
          sourceUri: pulumi.interpolate`${platform.outputs.dataBucketUrl}/mnist-data`,
          mountPath: "/mnt/data",
          readOnly: true,
        },
        {
          sourceUri: pulumi.interpolate`${platform.outputs.outputBucketUrl}/output/run-1`,
          mountPath: "/mnt/output",
        },
      ],
      waitFor: "running",
    }).status
  : undefined;
