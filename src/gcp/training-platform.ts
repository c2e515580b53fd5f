import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { boundedName } from "../components/naming";
import { ownerOf } from "../components/owners";
import { Bucket, type BucketArgs } from "./bucket";
import { GpuCluster, type GpuClusterArgs } from "./gpu-cluster";
import { type GoogleApi, ProjectApis } from "./project-apis";
import { Registry, type RegistryArgs } from "./registry";
import { gcpSetting, serviceAccountMember } from "./settings";
import { TrainingApi, type TrainingApiArgs } from "./training-api";

type Shared = "project" | "location";

export interface TrainingPlatformArgs {
  /** The GCP project of every part. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /** The region of every part. Defaults to the stack's `gcp:region` config. */
  region?: pulumi.Input<string>;
  /** The Train API: at least its `image` and `apiKeys`; the job account and buckets are filled in. Required. */
  api: Omit<TrainingApiArgs, "project" | "region" | "jobServiceAccountEmail" | "stagingBucket" | "buckets">;
  /** The image registry. Defaults to a `Registry` with its own defaults (immutable tags, cleanup, scanning). */
  registry?: Omit<RegistryArgs, Shared>;
  /** The bucket training data is read from (jobs get read access). Defaults to a `Bucket` with its own defaults. */
  dataBucket?: Omit<BucketArgs, Shared>;
  /**
   * The bucket jobs write checkpoints and models to, also Vertex AI's staging bucket (jobs get read-write
   * access). Defaults to a `Bucket` with its own defaults.
   */
  outputBucket?: Omit<BucketArgs, Shared>;
  /**
   * A GKE cluster with GPU pools, for the `kubernetes` backend. Defaults to none, since Vertex AI jobs need
   * no cluster.
   */
  cluster?: Omit<GpuClusterArgs, "project" | "location"> & { location?: pulumi.Input<string> };
  /**
   * Enable every API the platform's parts call (Cloud Run, Secret Manager, IAM, Resource Manager, Artifact
   * Registry, Container Scanning, Vertex AI, and GKE and Compute Engine with a cluster) once, as resources the
   * platform owns that stay on after `pulumi destroy`; every part waits for them. Defaults to true. Set false
   * where APIs are managed elsewhere; the parts then enable none either.
   */
  enableApis?: boolean;
}

/** Roles the training jobs' service account holds on the registry: pulling images. */
export const JOB_REGISTRY_ROLE = "roles/artifactregistry.reader";
/** The role jobs hold on the data bucket: reading objects. */
export const JOB_DATA_BUCKET_ROLE = "roles/storage.objectViewer";
/** The role jobs hold on the output bucket: reading, writing and replacing objects. */
export const JOB_OUTPUT_BUCKET_ROLE = "roles/storage.objectAdmin";

/** What another stack or a `TrainingJob` needs from the platform, as stack outputs. */
export interface TrainingPlatformOutputs {
  project: pulumi.Output<string>;
  region: pulumi.Output<string>;
  apiUrl: pulumi.Output<string>;
  registryUrl: pulumi.Output<string>;
  dataBucketUrl: pulumi.Output<string>;
  outputBucketUrl: pulumi.Output<string>;
  jobServiceAccountEmail: pulumi.Output<string>;
  apiServiceAccountEmail: pulumi.Output<string>;
  clusterName?: pulumi.Output<string>;
  kubeconfig?: pulumi.Output<string>;
}

/**
 * Everything a GCP training platform needs: a registry, a data and an output bucket, a service account for
 * the jobs, the Train API on Cloud Run, and optionally a GKE GPU cluster.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  public readonly registry: Registry;
  public readonly dataBucket: Bucket;
  public readonly outputBucket: Bucket;
  public readonly jobServiceAccount: gcp.serviceaccount.Account;
  public readonly jobServiceAccountGrants: (
    | gcp.storage.BucketIAMMember
    | gcp.artifactregistry.RepositoryIamMember
  )[];
  public readonly api: TrainingApi;
  public readonly cluster?: GpuCluster;
  /** The APIs the platform enabled, unless `enableApis` is false. */
  public readonly apis?: ProjectApis;
  /** The platform's outputs in one object: `export const platform = tp.outputs` publishes them all. */
  public readonly outputs: TrainingPlatformOutputs;

  constructor(name: string, args: TrainingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:TrainingPlatform", name, {}, opts);
    const owner = ownerOf(this, "TrainingPlatform", name);
    const project = gcpSetting(args?.project, "project", "project", owner);
    const region = gcpSetting(args?.region, "region", "region", owner);
    const where = { project, location: region };
    const needs: GoogleApi[] = [
      "run",
      "secretmanager",
      "iam",
      "cloudresourcemanager",
      "artifactregistry",
      "containerscanning",
      "aiplatform",
      ...(args.cluster !== undefined ? (["container", "compute"] as const) : []),
    ];
    if (args.enableApis ?? true) {
      this.apis = new ProjectApis(`${name}-apis`, { project, apis: needs }, { parent: this });
    }
    // Each part waits for the platform's APIs and enables none of its own.
    const parent = { parent: this, dependsOn: this.apis ? Object.values(this.apis.services) : [] };
    const part = { enableApis: false };

    this.registry = new Registry(`${name}-images`, { ...args.registry, ...where, ...part }, parent);
    this.dataBucket = new Bucket(`${name}-data`, { ...args.dataBucket, ...where }, parent);
    this.outputBucket = new Bucket(`${name}-output`, { ...args.outputBucket, ...where }, parent);

    this.jobServiceAccount = new gcp.serviceaccount.Account(
      `${name}-jobs`,
      {
        project,
        accountId: boundedName(`${name}-jobs`, 30),
        displayName: `Training jobs of ${name} (trainkit)`,
      },
      parent,
    );
    const member = serviceAccountMember(this.jobServiceAccount.email);
    this.jobServiceAccountGrants = [
      new gcp.storage.BucketIAMMember(
        `${name}-jobs-read-data`,
        { bucket: this.dataBucket.name, role: JOB_DATA_BUCKET_ROLE, member },
        parent,
      ),
      new gcp.storage.BucketIAMMember(
        `${name}-jobs-write-output`,
        { bucket: this.outputBucket.name, role: JOB_OUTPUT_BUCKET_ROLE, member },
        parent,
      ),
      new gcp.artifactregistry.RepositoryIamMember(
        `${name}-jobs-pull-images`,
        {
          project,
          location: this.registry.repository.location,
          repository: this.registry.repository.name,
          role: JOB_REGISTRY_ROLE,
          member,
        },
        parent,
      ),
    ];

    this.api = new TrainingApi(
      `${name}-api`,
      {
        ...args.api,
        project,
        region,
        jobServiceAccountEmail: this.jobServiceAccount.email,
        stagingBucket: this.outputBucket.name,
        ...part,
      },
      parent,
    );

    if (args.cluster !== undefined) {
      this.cluster = new GpuCluster(
        `${name}-gke`,
        { ...args.cluster, project, location: args.cluster.location ?? region, ...part },
        parent,
      );
    }

    this.outputs = {
      project: pulumi.output(project),
      region: pulumi.output(region),
      apiUrl: this.api.url,
      registryUrl: this.registry.url,
      dataBucketUrl: this.dataBucket.url,
      outputBucketUrl: this.outputBucket.url,
      jobServiceAccountEmail: this.jobServiceAccount.email,
      apiServiceAccountEmail: this.api.serviceAccountEmail,
      ...(this.cluster ? { clusterName: this.cluster.name, kubeconfig: this.cluster.kubeconfig } : {}),
    };
    this.registerOutputs({ ...this.outputs });
  }
}
