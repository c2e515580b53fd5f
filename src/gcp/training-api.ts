import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import * as trainApi from "../components/train-api";
import { apiDependencies, type ProjectApis } from "./project-apis";
import { gcpSetting, serviceAccountMember } from "./settings";

/**
 * Direct VPC egress: the service's instances get addresses in a subnetwork, so they reach private addresses
 * there (a Cloud SQL instance's private IP, a VM) without a Serverless VPC Access connector.
 */
export interface DirectVpcEgressArgs {
  /** The VPC network. Defaults to the subnetwork's network. */
  network?: pulumi.Input<string>;
  /** The subnetwork the instances take addresses from, in the service's region. Required. */
  subnetwork: pulumi.Input<string>;
  /** Network tags for the instances, for firewall rules. Defaults to none. */
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Send all outbound traffic through the VPC (`ALL_TRAFFIC`), not only traffic to private ranges
   * (`PRIVATE_RANGES_ONLY`). Defaults to false; with true, the VPC needs Cloud NAT or Private Google Access to
   * reach Google APIs and the internet.
   */
  allTraffic?: boolean;
}

/** Arguments of the GCP `TrainingApi`: the common Train API arguments plus where and as whom it runs. */
export interface TrainingApiArgs extends TrainingApiSettings {
  /** The GCP project of the service and of the Vertex AI jobs. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /** The region of the service and of the Vertex AI jobs. Defaults to the stack's `gcp:region` config. */
  region?: pulumi.Input<string>;
  /**
   * Email of the service account Vertex AI jobs run as. The API may act as this account and no other.
   * Required.
   */
  jobServiceAccountEmail: pulumi.Input<string>;
  /** Name of the bucket Vertex AI stages job outputs in (passed as `gs://<name>`). Required; also granted in `buckets`. */
  stagingBucket: pulumi.Input<string>;
  /**
   * Names of further buckets the API may read and write objects in. Defaults to none beyond `stagingBucket`.
   * The API itself reads no training data (Vertex AI mounts it for the job's own account), so the data
   * bucket does not belong here.
   */
  buckets?: pulumi.Input<string>[];
}

/** The GCP `TrainingApi`'s settings besides its project, region, job account and buckets: what a `TrainingPlatform` passes on. */
export interface TrainingApiSettings extends trainApi.TrainingApiCommonArgs {
  /**
   * Accept requests from the internet and let anyone invoke the service (`allUsers` holds `run.invoker`);
   * the API keys are then the only gate. Defaults to false: ingress is internal-only and callers need
   * `run.invoker` (see `invokers`).
   */
  public?: boolean;
  /**
   * IAM members (`user:...`, `serviceAccount:...`, `group:...`) granted `roles/run.invoker`: the identities
   * whose Google ID token Cloud Run accepts, such as the account that runs `pulumi up` with `TrainingJob`s or a
   * CI runner's service account. Defaults to none.
   */
  invokers?: pulumi.Input<string>[];
  /**
   * Accept requests from outside Google Cloud's internal networks (`INGRESS_TRAFFIC_ALL`) while IAM still
   * checks every caller's ID token, so `TrainingJob`s run from a workstation or an outside CI can reach the
   * API without making it public. Defaults to false: ingress is internal-only, reachable from the project's
   * VPC networks. Implied by `public`.
   */
  externalIngress?: boolean;
  /** Direct VPC egress, e.g. to reach a Cloud SQL instance's private IP in `databaseUrl`. Defaults to none. */
  vpcEgress?: DirectVpcEgressArgs;
  /** Fewest instances kept running. Defaults to 1 without `databaseUrl` (state lives on it), 0 with it. */
  minInstances?: number;
  /** Most instances. Defaults to 1 without `databaseUrl`, which it must then stay at; 3 with it. */
  maxInstances?: number;
  /** CPU per instance. Defaults to `1`. */
  cpu?: pulumi.Input<string>;
  /** Memory per instance. Defaults to `1Gi`. */
  memory?: pulumi.Input<string>;
  /**
   * Refuse to delete the service. Defaults to false: the service holds no data of its own once `databaseUrl`
   * is set, and can be recreated from its image.
   */
  deletionProtection?: pulumi.Input<boolean>;
  /** Labels for the service, its secrets and its revisions. Defaults to the trainkit labels only. */
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Enable the Cloud Run, Secret Manager, IAM, Resource Manager and Vertex AI APIs in the project, as
   * resources this component owns that stay on after `pulumi destroy`. Defaults to true. Set false where
   * APIs are managed elsewhere.
   */
  enableApis?: boolean;
}

/**
 * Exactly what the API does on Vertex AI: create, read, list (to find a job a lost answer created) and
 * cancel custom jobs. No predefined role is that narrow (`roles/aiplatform.user` also deploys models, runs
 * pipelines and reads datasets), so the API holds a custom role with these permissions.
 */
export const API_VERTEX_PERMISSIONS = [
  "aiplatform.customJobs.create",
  "aiplatform.customJobs.get",
  "aiplatform.customJobs.list",
  "aiplatform.customJobs.cancel",
] as const;
/** The role the API holds on the job service account only, so it can submit jobs that run as it. */
export const API_ACT_AS_ROLE = "roles/iam.serviceAccountUser";
/** The role the API holds on each platform bucket only. */
export const API_BUCKET_ROLE = "roles/storage.objectAdmin";
/** The role the API holds on each of its own secrets only. */
export const API_SECRET_ROLE = "roles/secretmanager.secretAccessor";

const MANAGED_ENV = [
  ...trainApi.SERVER_MANAGED_ENV,
  "TRAINKIT_VERTEX_PROJECT",
  "TRAINKIT_VERTEX_REGION",
  "TRAINKIT_VERTEX_SERVICE_ACCOUNT",
  "TRAINKIT_VERTEX_STAGING_BUCKET",
];

/** The TrainingApi parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  apis: ProjectApis | undefined;
  iamMembers: (
    | gcp.projects.IAMMember
    | gcp.serviceaccount.IAMMember
    | gcp.storage.BucketIAMMember
    | gcp.secretmanager.SecretIamMember
  )[];
}>();

/**
 * The Train API on Cloud Run (v2), submitting jobs to Vertex AI as its own least-privilege service account,
 * with its API keys (and database URL) in Secret Manager, internal-only unless `public: true`.
 */
export class TrainingApi extends pulumi.ComponentResource {
  /** The service account the Cloud Run service runs as; it holds only the grants in `iamMembers`. */
  public readonly serviceAccount: gcp.serviceaccount.Account;
  /** The custom role holding `API_VERTEX_PERMISSIONS`, which the service account holds on the project. */
  public readonly vertexRole: gcp.projects.IAMCustomRole;
  /** The APIs this component enabled, unless `enableApis` is false. */
  get apis(): ProjectApis | undefined {
    return offSchema.get(this, "apis");
  }
  /** Every IAM grant the service account holds, one resource each. */
  get iamMembers(): (
    | gcp.projects.IAMMember
    | gcp.serviceaccount.IAMMember
    | gcp.storage.BucketIAMMember
    | gcp.secretmanager.SecretIamMember
  )[] {
    return offSchema.get(this, "iamMembers");
  }
  /** The Secret Manager secret holding the API keys, readable by the service account only. */
  public readonly apiKeysSecret: gcp.secretmanager.Secret;
  /** The version of `apiKeysSecret` the service reads; its payload is secret in the state. */
  public readonly apiKeysSecretVersion: gcp.secretmanager.SecretVersion;
  /** The Secret Manager secret holding `databaseUrl`; undefined when `databaseUrl` is not set. */
  public readonly databaseUrlSecret?: gcp.secretmanager.Secret;
  /** The version of `databaseUrlSecret` the service reads (secret payload); undefined without `databaseUrl`. */
  public readonly databaseUrlSecretVersion?: gcp.secretmanager.SecretVersion;
  /** The Cloud Run (v2) service that runs the Train API image. */
  public readonly service: gcp.cloudrunv2.Service;
  /**
   * The `roles/run.invoker` grants on the service: `allUsers` when `public` is set, then one per `invokers`
   * member; empty when neither is given.
   */
  public readonly invokerMembers: gcp.cloudrunv2.ServiceIamMember[];
  /** The service's HTTPS URL, the `apiUrl` a `TrainingJob` sends jobs to. */
  public readonly url: pulumi.Output<string>;
  /** Email of `serviceAccount`, the identity the Train API calls Vertex AI as. */
  public readonly serviceAccountEmail: pulumi.Output<string>;

  constructor(name: string, args: TrainingApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:TrainingApi", name, {}, opts);
    const owner = ownerOf(this, "TrainingApi", name);
    if (args?.image === undefined)
      throw new ArgumentError(`${owner}: image must be set to the Train API image; got nothing`);
    if (args.jobServiceAccountEmail === undefined) {
      throw new ArgumentError(
        `${owner}: jobServiceAccountEmail must be set to the account Vertex AI jobs run as; got nothing`,
      );
    }
    if (args.stagingBucket === undefined) {
      throw new ArgumentError(
        `${owner}: stagingBucket must be set to a bucket name for Vertex AI staging; got nothing`,
      );
    }
    const apiKeysJson = trainApi.apiKeysJson(owner, args);
    const project = gcpSetting(args.project, "project", "project", owner);
    const region = gcpSetting(args.region, "region", "region", owner);
    const durable = args.databaseUrl !== undefined;
    const maxInstances = args.maxInstances ?? (durable ? 3 : 1);
    const minInstances = args.minInstances ?? (durable ? 0 : 1);
    if (!Number.isInteger(maxInstances) || maxInstances < 1) {
      throw new ArgumentError(
        `${owner}: maxInstances must be a whole number, at least 1; got ${shown(maxInstances)}`,
      );
    }
    trainApi.requireSingleWriter(owner, "maxInstances", maxInstances, durable);
    if (!Number.isInteger(minInstances) || minInstances < 0 || minInstances > maxInstances) {
      throw new ArgumentError(
        `${owner}: minInstances must be a whole number from 0 to maxInstances (${maxInstances}); got ${shown(minInstances)}`,
      );
    }
    trainApi.rejectManagedEnv(owner, args.env, MANAGED_ENV);
    const isPublic = args.public ?? false;
    const labels = mergeLabels("training-api", args.labels);
    const { apis, dependsOn } = apiDependencies(
      this,
      name,
      project,
      ["run", "secretmanager", "iam", "cloudresourcemanager", "aiplatform"],
      args.enableApis,
      opts,
    );
    offSchema.set(this, "apis", apis);
    const parent = { parent: this, dependsOn };

    this.serviceAccount = new gcp.serviceaccount.Account(
      `${name}-sa`,
      { project, accountId: boundedName(`${name}-api`, 30), displayName: `Train API ${name} (trainkit)` },
      parent,
    );
    this.serviceAccountEmail = this.serviceAccount.email;
    const member = serviceAccountMember(this.serviceAccount.email);

    // A deleted custom role's id stays taken for up to 37 days, so an id fixed per stack would fail the
    // `pulumi up` that follows a `pulumi destroy`; the account's numeric id is new with every account.
    this.vertexRole = new gcp.projects.IAMCustomRole(
      `${name}-vertex-jobs`,
      {
        project,
        roleId: pulumi.interpolate`trainkit_vertex_jobs_${this.serviceAccount.uniqueId}`,
        title: `Train API ${name}: Vertex AI custom jobs (trainkit)`,
        description: "Create, read, list and cancel Vertex AI custom jobs; nothing else.",
        permissions: [...API_VERTEX_PERMISSIONS],
      },
      parent,
    );
    const grants: TrainingApi["iamMembers"] = [
      new gcp.projects.IAMMember(
        `${name}-vertex-jobs`,
        { project, role: this.vertexRole.name, member },
        parent,
      ),
    ];
    grants.push(
      new gcp.serviceaccount.IAMMember(
        `${name}-act-as-jobs`,
        {
          serviceAccountId: pulumi.interpolate`projects/${project}/serviceAccounts/${args.jobServiceAccountEmail}`,
          role: API_ACT_AS_ROLE,
          member,
        },
        parent,
      ),
    );
    [args.stagingBucket, ...(args.buckets ?? [])].forEach((bucket, i) => {
      grants.push(
        new gcp.storage.BucketIAMMember(
          `${name}-objects-${i}`,
          { bucket, role: API_BUCKET_ROLE, member },
          parent,
        ),
      );
    });

    const secret = (suffix: string, value: pulumi.Input<string>) => {
      const s = new gcp.secretmanager.Secret(
        `${name}-${suffix}`,
        { project, replication: { auto: {} }, labels },
        parent,
      );
      const version = new gcp.secretmanager.SecretVersion(
        `${name}-${suffix}`,
        { secret: s.id, secretData: pulumi.secret(value) },
        parent,
      );
      grants.push(
        new gcp.secretmanager.SecretIamMember(
          `${name}-${suffix}-access`,
          { project, secretId: s.secretId, role: API_SECRET_ROLE, member },
          parent,
        ),
      );
      return { secret: s, version };
    };

    const apiKeys = secret("api-keys", apiKeysJson);
    this.apiKeysSecret = apiKeys.secret;
    this.apiKeysSecretVersion = apiKeys.version;
    const database = args.databaseUrl === undefined ? undefined : secret("database-url", args.databaseUrl);
    this.databaseUrlSecret = database?.secret;
    this.databaseUrlSecretVersion = database?.version;
    offSchema.set(this, "iamMembers", grants);

    const secretEnv = (
      envName: string,
      s: { secret: gcp.secretmanager.Secret; version: gcp.secretmanager.SecretVersion },
    ) => ({
      name: envName,
      // Pinning the version rather than `latest` makes a changed secret roll out as a new revision.
      valueSource: { secretKeyRef: { secret: s.secret.secretId, version: s.version.version } },
    });
    const envs: gcp.types.input.cloudrunv2.ServiceTemplateContainerEnv[] = [
      // Cloud Run sets PORT from containerPort itself and refuses it as a variable.
      ...trainApi.serverEnv("vertex-ai", "/tmp/trainkit", { platformSetsPort: true }),
      { name: "TRAINKIT_VERTEX_PROJECT", value: project },
      { name: "TRAINKIT_VERTEX_REGION", value: region },
      { name: "TRAINKIT_VERTEX_SERVICE_ACCOUNT", value: args.jobServiceAccountEmail },
      { name: "TRAINKIT_VERTEX_STAGING_BUCKET", value: pulumi.interpolate`gs://${args.stagingBucket}` },
      secretEnv("TRAINKIT_API_KEYS", apiKeys),
      ...(database ? [secretEnv("DATABASE_URL", database)] : []),
      ...trainApi.extraEnv(args.env),
    ];

    if (isPublic) {
      pulumi.log.warn(
        `TrainingApi ${name} is public: anyone on the internet can reach it, and its API keys are the only gate.`,
        this,
      );
    }

    const egress = args.vpcEgress;
    if (egress !== undefined && egress.subnetwork === undefined) {
      throw new ArgumentError(
        `${owner}: vpcEgress.subnetwork must name the subnetwork the service takes addresses from; got nothing`,
      );
    }
    this.service = new gcp.cloudrunv2.Service(
      name,
      {
        project,
        location: region,
        ingress: isPublic || args.externalIngress ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY",
        deletionProtection: args.deletionProtection ?? false,
        labels,
        template: {
          serviceAccount: this.serviceAccount.email,
          scaling: { minInstanceCount: minInstances, maxInstanceCount: maxInstances },
          labels,
          vpcAccess:
            egress === undefined
              ? undefined
              : {
                  networkInterfaces: [
                    { network: egress.network, subnetwork: egress.subnetwork, tags: egress.tags },
                  ],
                  egress: egress.allTraffic ? "ALL_TRAFFIC" : "PRIVATE_RANGES_ONLY",
                },
          containers: [
            {
              image: args.image,
              ports: { containerPort: trainApi.TRAIN_API_PORT },
              envs,
              resources: {
                limits: { cpu: args.cpu ?? "1", memory: args.memory ?? "1Gi" },
                // The reconciler polls Vertex AI between requests; throttled CPU would stall job status.
                cpuIdle: false,
                startupCpuBoost: true,
              },
              // Traffic moves to a new revision once it is ready (store open); a hung process is restarted.
              startupProbe: {
                httpGet: { path: trainApi.TRAIN_API_READY_PATH },
                periodSeconds: 2,
                failureThreshold: 30,
              },
              livenessProbe: {
                httpGet: { path: trainApi.TRAIN_API_LIVE_PATH },
                periodSeconds: 10,
                failureThreshold: 3,
              },
            },
          ],
        },
      },
      // Cloud Run checks secret access when it deploys a revision, so the grants must exist first.
      { parent: this, dependsOn: [...dependsOn, ...grants] },
    );

    const invokers = [...(isPublic ? ["allUsers"] : []), ...(args.invokers ?? [])];
    this.invokerMembers = invokers.map(
      (invoker, i) =>
        new gcp.cloudrunv2.ServiceIamMember(
          isPublic && i === 0 ? `${name}-public` : `${name}-invoker-${isPublic ? i - 1 : i}`,
          {
            project,
            location: region,
            name: this.service.name,
            role: "roles/run.invoker",
            member: invoker,
          },
          parent,
        ),
    );

    this.url = this.service.uri;
    this.registerOutputs({
      url: this.url,
      serviceAccountEmail: this.serviceAccountEmail,
    });
  }
}
