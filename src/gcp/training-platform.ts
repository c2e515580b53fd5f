import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { Bucket, type BucketSettings } from "./bucket";
import { GpuCluster, type GpuClusterSettings } from "./gpu-cluster";
import { type GoogleApi, ProjectApis } from "./project-apis";
import { Registry, type RegistrySettings } from "./registry";
import { gcpSetting, serviceAccountMember } from "./settings";
import { TrainingApi, type TrainingApiSettings } from "./training-api";

/** Arguments of a GCP `TrainingPlatform`: only `api` is required; each part takes its own component's arguments. */
export interface TrainingPlatformArgs {
  /** The GCP project of every part. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /** The region of every part. Defaults to the stack's `gcp:region` config. */
  region?: pulumi.Input<string>;
  /** The Train API: at least its `image` and `apiKeys`; the job account and buckets are filled in. Required. */
  api: TrainingApiSettings;
  /** The image registry. Defaults to a `Registry` with its own defaults (immutable tags, cleanup, scanning). */
  registry?: RegistrySettings;
  /** The bucket training data is read from (jobs get read access). Defaults to a `Bucket` with its own defaults. */
  dataBucket?: BucketSettings;
  /**
   * The bucket jobs write checkpoints and models to, also Vertex AI's staging bucket (jobs get read-write
   * access). Defaults to a `Bucket` with its own defaults.
   */
  outputBucket?: BucketSettings;
  /**
   * A GKE cluster with GPU pools, for the `kubernetes` backend. Defaults to none, since Vertex AI jobs need
   * no cluster.
   */
  cluster?: PlatformCluster;
  /**
   * Enable every API the platform's parts call (Cloud Run, Secret Manager, IAM, Resource Manager, Artifact
   * Registry, Container Scanning, Vertex AI, and GKE and Compute Engine with a cluster) once, as resources the
   * platform owns that stay on after `pulumi destroy`; every part waits for them. Defaults to true. Set false
   * where APIs are managed elsewhere; the parts then enable none either.
   */
  enableApis?: boolean;
}

/** The GKE cluster of a `TrainingPlatform`: a `GpuCluster`'s settings and where it lives. */
export interface PlatformCluster extends GpuClusterSettings {
  /** The cluster's region, or a zone for a zonal cluster. Defaults to the platform's `region`. */
  location?: pulumi.Input<string>;
}

/** Roles the training jobs' service account holds on the registry: pulling images. */
export const JOB_REGISTRY_ROLE = "roles/artifactregistry.reader";
/** The role jobs hold on the data bucket: reading objects. */
export const JOB_DATA_BUCKET_ROLE = "roles/storage.objectViewer";
/** The role jobs hold on the output bucket: reading, writing and replacing objects. */
export const JOB_OUTPUT_BUCKET_ROLE = "roles/storage.objectAdmin";

/** What another stack or a `TrainingJob` needs from the platform, as stack outputs. */
export interface TrainingPlatformOutputs {
  /** The GCP project every part lives in. */
  project: pulumi.Output<string>;
  /** The region of the registry, the buckets, the Train API and the Vertex AI jobs. */
  region: pulumi.Output<string>;
  /** The Train API's HTTPS URL on Cloud Run, a `TrainingJob`'s `apiUrl`. */
  apiUrl: pulumi.Output<string>;
  /** Where to push training images: `<region>-docker.pkg.dev/<project>/<repository>`. */
  registryUrl: pulumi.Output<string>;
  /** `gs://<bucket>` of the bucket jobs read training data from. */
  dataBucketUrl: pulumi.Output<string>;
  /** `gs://<bucket>` of the bucket jobs write checkpoints and models to, also Vertex AI's staging bucket. */
  outputBucketUrl: pulumi.Output<string>;
  /** Email of the service account Vertex AI jobs run as. */
  jobServiceAccountEmail: pulumi.Output<string>;
  /** Email of the service account the Train API runs as, for grants made outside the platform. */
  apiServiceAccountEmail: pulumi.Output<string>;
  /** The GKE cluster's name; undefined when the platform has no `cluster`. */
  clusterName?: pulumi.Output<string>;
  /**
   * A kubeconfig for the GKE cluster that authenticates through `gke-gcloud-auth-plugin`. Secret; undefined
   * without `cluster`.
   */
  kubeconfig?: pulumi.Output<string>;
}

/** The TrainingPlatform parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  registry: Registry;
  dataBucket: Bucket;
  outputBucket: Bucket;
  jobServiceAccountGrants: (gcp.storage.BucketIAMMember | gcp.artifactregistry.RepositoryIamMember)[];
  api: TrainingApi;
  cluster: GpuCluster | undefined;
  apis: ProjectApis | undefined;
}>();

/**
 * Everything a GCP training platform needs: a registry, a data and an output bucket, a service account for
 * the jobs, the Train API on Cloud Run, and optionally a GKE GPU cluster.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  /** The Artifact Registry repository for training images. */
  get registry(): Registry {
    return offSchema.get(this, "registry");
  }
  /** The bucket jobs read training data from (the job account may only read it). */
  get dataBucket(): Bucket {
    return offSchema.get(this, "dataBucket");
  }
  /** The bucket jobs write outputs to, also Vertex AI's staging bucket (the job account may read and write). */
  get outputBucket(): Bucket {
    return offSchema.get(this, "outputBucket");
  }
  /** The service account Vertex AI jobs run as. */
  public readonly jobServiceAccount: gcp.serviceaccount.Account;
  /** The job account's grants: reading the data bucket, writing the output bucket, pulling from the registry. */
  get jobServiceAccountGrants(): (gcp.storage.BucketIAMMember | gcp.artifactregistry.RepositoryIamMember)[] {
    return offSchema.get(this, "jobServiceAccountGrants");
  }
  /** The Train API on Cloud Run, submitting to Vertex AI as its own service account. */
  get api(): TrainingApi {
    return offSchema.get(this, "api");
  }
  /** The GKE GPU cluster; undefined unless `cluster` is given. */
  get cluster(): GpuCluster | undefined {
    return offSchema.get(this, "cluster");
  }
  /** The APIs the platform enabled, unless `enableApis` is false. */
  get apis(): ProjectApis | undefined {
    return offSchema.get(this, "apis");
  }
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
      offSchema.set(
        this,
        "apis",
        new ProjectApis(`${name}-apis`, { project, apis: needs }, { parent: this }),
      );
    }
    // Each part waits for the platform's APIs and enables none of its own.
    const parent = { parent: this, dependsOn: this.apis ? Object.values(this.apis.services) : [] };
    const part = { enableApis: false };

    offSchema.set(
      this,
      "registry",
      new Registry(`${name}-images`, { ...args.registry, ...where, ...part }, parent),
    );
    offSchema.set(this, "dataBucket", new Bucket(`${name}-data`, { ...args.dataBucket, ...where }, parent));
    offSchema.set(
      this,
      "outputBucket",
      new Bucket(`${name}-output`, { ...args.outputBucket, ...where }, parent),
    );

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
    offSchema.set(this, "jobServiceAccountGrants", [
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
    ]);

    offSchema.set(
      this,
      "api",
      new TrainingApi(
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
      ),
    );

    if (args.cluster !== undefined) {
      offSchema.set(
        this,
        "cluster",
        new GpuCluster(
          `${name}-gke`,
          { ...args.cluster, project, location: args.cluster.location ?? region, ...part },
          parent,
        ),
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
