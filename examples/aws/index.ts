import * as pulumi from "@pulumi/pulumi";
import { bucketAccessStatements, identityStatements, TrainingPlatform } from "trainkit/aws";
import { sageMakerInstanceFor } from "trainkit/gpu";
import { TrainingJob } from "trainkit/job";
import * as k8sTk from "trainkit/kubernetes";

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
  // SageMaker needs no cluster. Set trainkit-aws:eksCluster to true for an EKS cluster with an L4 pool that
  // the Cluster Autoscaler grows from zero; `pulumi up` must then reach its endpoint (run it in the VPC, or
  // set publicEndpoint and publicAccessCidrs).
  cluster: config.getBoolean("eksCluster")
    ? {
        subnetIds: privateSubnetIds,
        gpuPools: [{ gpu: "nvidia-l4", gpusPerNode: 1, maxNodes: 2 }],
        deletionProtection: false,
        ...(config.getObject<string[]>("clusterAccessCidrs")
          ? { publicEndpoint: true, publicAccessCidrs: config.requireObject<string[]>("clusterAccessCidrs") }
          : {}),
      }
    : undefined,
});

export const platformOutputs = platform.outputs;

// On the cluster: the Train API with the kubernetes backend (GpuCluster already runs the device plugin, so
// GpuSupport is off), and the jobs' service account allowed to read the data and write the output bucket.
const cluster = platform.cluster;
const k8sPlatform = cluster
  ? new k8sTk.TrainingPlatform(
      "ml-k8s",
      {
        image: config.require("apiImage"),
        apiKeys: apiKey.apply((key) => ({ [key]: [accountId] })),
        gpu: { enabled: false },
      },
      { providers: { kubernetes: cluster.kubernetesProvider! } },
    )
  : undefined;
if (cluster && k8sPlatform) {
  cluster.podIdentity("ml-jobs", {
    namespace: k8sPlatform.jobsNamespaceName,
    serviceAccount: k8sPlatform.jobServiceAccount.metadata.name,
    statements: pulumi
      .all([platform.dataBucket.arn, platform.outputBucket.arn])
      .apply(([data, output]) => identityStatements(bucketAccessStatements([data], [output]))),
  });
}
export const kubernetesApiService = k8sPlatform?.apiUrl;

// A one-GPU job on the cluster, once trainkit-aws:kubernetesApiUrl points at the in-cluster API (for example
// http://127.0.0.1:8080 with `kubectl -n trainkit port-forward svc/<service> 8080:80` running). The L4
// pool starts at zero nodes: the autoscaler adds one for this pod, and removes it when the pod is gone.
const kubernetesApiUrl = config.get("kubernetesApiUrl");
export const gpuSmokeJob =
  k8sPlatform && kubernetesApiUrl
    ? new TrainingJob("l4-smoke", {
        backend: "kubernetes",
        name: "l4-smoke",
        apiUrl: kubernetesApiUrl,
        apiKey,
        accountId,
        jobConfig: {
          image: "nvcr.io/nvidia/cuda:12.6.3-base-ubuntu24.04",
          command: ["nvidia-smi"],
          resources: { gpu: 1 },
          run_as_user: 1000,
        },
        waitFor: "completed",
        waitTimeoutSeconds: 1800,
      }).status
    : undefined;
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
