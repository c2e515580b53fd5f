import * as pulumi from "@pulumi/pulumi";
import { TrainingPlatform } from "trainkit/aws";
import { sageMakerInstanceFor } from "trainkit/gpu";
import { TrainingJob } from "trainkit/job";

const config = new pulumi.Config();
const accountId = config.get("accountId") ?? "team-vision";
// The key callers send as x-api-key. Stored as a secret in the stack and in Secrets Manager; the API
// maps it to the accounts it may act for.
const apiKey = config.requireSecret("apiKey");
const privateSubnetIds = config.requireObject<string[]>("privateSubnetIds");

const platform = new TrainingPlatform("ml", {
  api: {
    image: config.require("apiImage"),
    apiKeys: apiKey.apply((key) => ({ [key]: [accountId] })),
    vpcId: config.require("vpcId"),
    subnetIds: privateSubnetIds,
    // Internet-facing so that `pulumi up` on a laptop can submit the job below, over HTTPS with the API
    // key as the gate. Drop these four (an internal load balancer) once jobs are submitted from the VPC.
    public: true,
    loadBalancerSubnetIds: config.requireObject<string[]>("publicSubnetIds"),
    certificateArn: config.require("certificateArn"),
    domainName: config.require("apiDomain"),
  },
  // SageMaker needs no cluster. Set trainkit-aws:eksCluster to true for an EKS cluster with a spot L4 pool.
  cluster: config.getBoolean("eksCluster")
    ? {
        subnetIds: privateSubnetIds,
        gpuPools: [{ gpu: "nvidia-l4", gpusPerNode: 1, maxNodes: 2, spot: true }],
        deletionProtection: false,
      }
    : undefined,
});

export const platformOutputs = platform.outputs;
// Point the apiDomain's DNS record (a CNAME) at this name.
export const loadBalancerDnsName = platform.api.loadBalancer.dnsName;

// The SGP Train API's SageMaker example, submitted once the training image has been pushed to the platform's
// registry and its tag given as trainkit-aws:trainingImage. One T4 per instance is ml.g4dn.xlarge.
const trainingImage = config.get("trainingImage");
export const mnistJob = trainingImage
  ? new TrainingJob("mnist-training", {
      backend: "sagemaker",
      name: "mnist-training",
      apiUrl: platform.outputs.apiUrl,
      apiKey,
      accountId,
      jobConfig: {
        image: pulumi.interpolate`${platform.outputs.registryUrl}:${trainingImage}`,
        command: ["python3", "/app/train.py"],
        resource_config: {
          instance_count: 1,
          instance_type: sageMakerInstanceFor("nvidia-t4", 1).instanceType,
          volume_size_in_gb: 50,
        },
        hyperparameters: { learning_rate: "0.001" },
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
