import * as pulumi from "@pulumi/pulumi";
import { TrainingPlatform } from "trainkit/azure";
import { TrainingJob } from "trainkit/job";

const config = new pulumi.Config();
const accountId = config.get("accountId") ?? "team-vision";
// The key callers send as x-api-key. Stored as a secret in the stack and in Key Vault; the API maps it
// to the accounts it may act for.
const apiKey = config.requireSecret("apiKey");

const platform = new TrainingPlatform("ml", {
  resourceGroupName: config.require("resourceGroupName"),
  api: {
    image: config.require("apiImage"),
    apiKeys: apiKey.apply((key) => ({ [key]: [accountId] })),
    // Reachable from this laptop so that `pulumi up` can submit the job below; the API key is the gate.
    // Drop it (ingress internal to the environment) once jobs are submitted from inside Azure.
    public: true,
  },
  // Pushing the training image from this laptop needs a registry that accepts internet connections;
  // Entra ID credentials with AcrPush stay the gate (no admin user, no anonymous pull).
  registry: { public: true },
  // Uploading the training data from this laptop needs the same of the data bucket.
  dataBucket: { publicNetworkAccess: true },
  // The SGP Train API's job runs on a compute named gpu-cluster with one A100 80GB per node, at low priority.
  cluster: { gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 2, spot: true }] },
});

export const platformOutputs = platform.outputs;

// The SGP Train API's Azure ML example, submitted once the training image has been pushed to the platform's
// registry and its tag given as trainkit-azure:trainingImage.
const trainingImage = config.get("trainingImage");
export const mnistJob = trainingImage
  ? new TrainingJob("mnist-training", {
      backend: "azure-ml",
      name: "mnist-training",
      apiUrl: platform.outputs.apiUrl,
      apiKey,
      accountId,
      jobConfig: {
        command: "python train.py --epochs 3",
        environment: { image: pulumi.interpolate`${platform.outputs.registryUrl}/${trainingImage}` },
        compute: platform.cluster.computeNames["gpu-cluster"]!,
        resources: { instance_type: "Standard_NC24ads_A100_v4", instance_count: 1 },
        environment_variables: { LEARNING_RATE: "0.001" },
      },
      storageMounts: [
        {
          sourceUri: pulumi.interpolate`${platform.outputs.dataBucketUrl}mnist`,
          mountPath: "/mnt/data",
          readOnly: true,
        },
        {
          sourceUri: pulumi.interpolate`${platform.outputs.outputBucketUrl}run-1`,
          mountPath: "/mnt/output",
        },
      ],
      waitFor: "running",
    }).status
  : undefined;
