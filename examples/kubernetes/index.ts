import * as pulumi from "@pulumi/pulumi";
import { TrainingJob } from "trainkit/job";
import { TrainingPlatform } from "trainkit/kubernetes";

const config = new pulumi.Config();
const accountId = config.get("accountId") ?? "team-vision";
// The key callers send as x-api-key. Stored as a secret in the stack and in a Kubernetes Secret.
const apiKey = config.requireSecret("apiKey");

const platform = new TrainingPlatform("ml", {
  image: config.require("apiImage"),
  apiKeys: apiKey.apply((key) => ({ [key]: [accountId] })),
  // "none" on GKE GPU pools with automatic driver installation, which run their own device plugin.
  gpu: {
    installer:
      (config.get("gpuInstaller") as "nvidia-device-plugin" | "gpu-operator" | "none") ??
      "nvidia-device-plugin",
  },
  // Needs Kueue installed in the cluster; leave trainkit-kubernetes:gpuQuota unset to go without.
  kueue: config.getNumber("gpuQuota") ? { gpuQuota: config.requireNumber("gpuQuota") } : undefined,
  // The API admits only pods of the namespaces named here (e.g. a CI runner's).
  api: { allowFromNamespaces: config.getObject<string[]>("allowFromNamespaces") ?? [] },
});

export const apiUrl = platform.apiUrl;
export const namespace = platform.namespace;
export const jobsNamespace = platform.jobsNamespaceName;
export const queueName = platform.queueName;

// The API is reachable only inside the cluster. Set trainkit-kubernetes:apiUrl to where this machine
// reaches it (e.g. http://127.0.0.1:8080 while `kubectl port-forward` runs) to submit the job below.
const reachableUrl = config.get("apiUrl");
export const mnistJob = reachableUrl
  ? new TrainingJob("mnist-training", {
      backend: "kubernetes",
      name: "mnist-training",
      apiUrl: reachableUrl,
      apiKey,
      accountId,
      jobConfig: {
        image: config.require("trainingImage"),
        command: ["python3", "train.py"],
        args: ["--epochs", "3"],
        resources: { gpu: 1, cpu: "4", memory: "16Gi" },
        queue: platform.queueName,
        active_deadline_seconds: 86400,
      },
      storageMounts: [
        { sourceUri: "pvc://datasets/mnist", mountPath: "/mnt/data", readOnly: true },
        { sourceUri: "pvc://checkpoints/run-1", mountPath: "/mnt/output" },
      ],
      waitFor: "running",
    }).status
  : undefined;
