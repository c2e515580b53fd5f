import type {
  EnforcementLevel,
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { oneOf } from "../components/sentences";
import { GPUS } from "../gpu";
import { type GpuDemand, gpuDemands, gpuModelWord, type Props, TYPES } from "./resources";

// The rules trainkit's components follow by default, as policies any stack can be held to: resources
// written by hand next to the components are checked by the same rules. Each rule is a plain object
// whose `validateResource` can be called directly, with the arguments the policy SDK passes.

/** A trainkit rule: one resource validation with its default enforcement level and config schema. */
export interface TrainkitPolicy extends ResourceValidationPolicy {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  configSchema: PolicyConfigSchema;
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => void;
}

/** The stack tag that, set to `required`, makes `trainkit-gpu-spot-required` apply to a stack. */
export const SPOT_STACK_TAG = "trainkit:spot";

// The engine fills in a schema's defaults before it sends the config; a direct call may not, so the
// defaults are applied here too.
function configOf<T>(args: ResourceValidationArgs, schema: PolicyConfigSchema): T {
  const given = (args.getConfig<Record<string, unknown>>() ?? {}) as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties)) {
    config[key] = given[key] ?? (typeof property === "object" ? property.default : undefined);
  }
  return config as T;
}

const demandsOf = (args: ResourceValidationArgs) => gpuDemands(args.type, args.props);

const what = (d: GpuDemand) => (d.kind === "pool" ? "GPU pool" : "GPU job");

const allowedGpusSchema: PolicyConfigSchema = {
  properties: {
    allowedGpus: {
      type: "array",
      items: { type: "string", enum: [...GPUS] },
      default: [...GPUS],
      description: "The catalogue GPUs pools and jobs may ask for (trainkit/gpu names, such as nvidia-l4).",
    },
  },
};

/** GPU pools and jobs may only ask for the GPUs the config allows. */
export const gpuAllowedAccelerators: TrainkitPolicy = {
  name: "trainkit-gpu-allowed-accelerators",
  description: "GPU node pools and training jobs ask only for GPUs in the allowed list.",
  enforcementLevel: "mandatory",
  configSchema: allowedGpusSchema,
  validateResource: (args, reportViolation) => {
    const { allowedGpus } = configOf<{ allowedGpus: string[] }>(args, allowedGpusSchema);
    const everything = GPUS.every((g) => allowedGpus.includes(g));
    const allowedModels = new Set(allowedGpus.map(gpuModelWord));
    for (const d of demandsOf(args)) {
      const a = d.accelerator;
      if (!a) {
        if (!everything) {
          reportViolation(
            `${what(d)} asks for ${d.perUnit} nvidia.com/gpu without choosing which GPU, so it may land on any; ` +
              `select one of ${oneOf(allowedGpus)} with the node selector trainkit.dev/gpu`,
          );
        }
        continue;
      }
      // Vendors name GPUs their own way (H100, rtx-4090); those are compared by GPU model.
      const allowed = a.gpu ? allowedGpus.includes(a.gpu) : allowedModels.has(gpuModelWord(a.named));
      if (!allowed) {
        const kind = a.gpu && a.gpu !== a.named ? ` (${a.gpu})` : "";
        reportViolation(
          `${a.field} is ${a.named}${kind}, which is not an allowed GPU; allowed: ${oneOf(allowedGpus)}. ` +
            "Choose one of them, or add it to allowedGpus in the policy pack config",
        );
      }
    }
  },
};

const maxCountSchema: PolicyConfigSchema = {
  properties: {
    maxGpusPerPool: {
      type: "integer",
      minimum: 1,
      default: 64,
      description: "The most GPUs one node pool may reach at its maximum size.",
    },
    maxGpusPerJob: {
      type: "integer",
      minimum: 1,
      default: 64,
      description: "The most GPUs one job or workload may ask for, over all its replicas.",
    },
  },
};

/** A pool's GPUs at its maximum size, and a job's GPUs over its replicas, stay under the configured caps. */
export const gpuMaxCount: TrainkitPolicy = {
  name: "trainkit-gpu-max-count",
  description: "GPU node pools and training jobs stay within the maximum GPU count per pool or job.",
  enforcementLevel: "mandatory",
  configSchema: maxCountSchema,
  validateResource: (args, reportViolation) => {
    const { maxGpusPerPool, maxGpusPerJob } = configOf<{ maxGpusPerPool: number; maxGpusPerJob: number }>(
      args,
      maxCountSchema,
    );
    for (const d of demandsOf(args)) {
      const cap = d.kind === "pool" ? maxGpusPerPool : maxGpusPerJob;
      const config = d.kind === "pool" ? "maxGpusPerPool" : "maxGpusPerJob";
      if (d.units === undefined) {
        if (d.kind === "pool") {
          reportViolation(
            `${what(d)} has no maximum node count, so its GPUs are not bounded; set ${d.unitsField} ` +
              `so that ${d.perUnit} GPUs per node times it is at most ${cap} (${config})`,
          );
        }
        continue;
      }
      const total = d.perUnit * d.units;
      if (total > cap) {
        const per = d.kind === "pool" ? "node" : "replica";
        reportViolation(
          `${what(d)} reaches ${total} GPUs (${d.perUnit} per ${per} x ${d.units}${d.unitsField ? `, ${d.unitsField}` : ""}), ` +
            `more than the ${cap} allowed by ${config}; lower it, or raise ${config} in the policy pack config`,
        );
      }
    }
  },
};

const spotSchema: PolicyConfigSchema = {
  properties: {
    required: {
      type: "boolean",
      default: false,
      description: `Whether GPU pools and jobs must run on spot capacity; a stack tagged ${SPOT_STACK_TAG}=required asks for it too.`,
    },
  },
};

/** Where a stack asks for it, GPU pools and jobs run on spot capacity. */
export const gpuSpotRequired: TrainkitPolicy = {
  name: "trainkit-gpu-spot-required",
  description: `GPU node pools and training jobs run on spot capacity where the stack asks for it (config required, or stack tag ${SPOT_STACK_TAG}=required).`,
  enforcementLevel: "mandatory",
  configSchema: spotSchema,
  validateResource: (args, reportViolation) => {
    const { required } = configOf<{ required: boolean }>(args, spotSchema);
    if (!required && args.stackTags?.get(SPOT_STACK_TAG) !== "required") return;
    for (const d of demandsOf(args)) {
      if (d.spot === false) {
        reportViolation(
          `${what(d)} runs on on-demand capacity, and this stack requires spot; set ${d.spotField}`,
        );
      }
    }
  },
};

/** GPU nodes carry the `nvidia.com/gpu` NoSchedule taint, so only pods that ask for GPUs land there. */
export const gpuNodesTainted: TrainkitPolicy = {
  name: "trainkit-gpu-nodes-tainted",
  description:
    "GPU node pools carry the nvidia.com/gpu NoSchedule taint, so only GPU pods are scheduled there.",
  enforcementLevel: "mandatory",
  configSchema: { properties: {} },
  validateResource: (args, reportViolation) => {
    for (const d of demandsOf(args)) {
      if (d.tainted === false) {
        reportViolation(
          `${what(d)} of ${d.accelerator?.named} has no nvidia.com/gpu NoSchedule taint, so any pod may take its ` +
            `nodes; add ${d.taintField}`,
        );
      }
    }
  },
};

const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];
const PUBLIC_ACLS = ["public-read", "public-read-write", "authenticated-read"];
const PUBLIC_ACCESS_BLOCK = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
];

function publicMembers(props: Props): string[] {
  const members: unknown[] = [props.member, ...(Array.isArray(props.members) ? props.members : [])];
  return members.filter((m): m is string => typeof m === "string" && PUBLIC_MEMBERS.includes(m));
}

// The `policyData` of an IAM policy resource is the JSON text of `{ bindings: [{ role, members }] }`.
function publicBindings(policyData: unknown): { role: string; member: string }[] {
  let policy: Props | undefined;
  try {
    policy = typeof policyData === "string" ? JSON.parse(policyData) : undefined;
  } catch {
    return [];
  }
  const bindings: Props[] = Array.isArray(policy?.bindings) ? policy.bindings : [];
  return bindings.flatMap((b) =>
    publicMembers({ members: b?.members }).map((member) => ({ role: b.role, member })),
  );
}

/** Buckets block public access: GCS, S3 and Azure Storage. */
export const storagePrivate: TrainkitPolicy = {
  name: "trainkit-storage-private",
  description: "Buckets block public access (GCS, S3, Azure Storage).",
  enforcementLevel: "mandatory",
  configSchema: { properties: {} },
  validateResource: (args, reportViolation) => {
    const p = args.props;
    switch (args.type) {
      case TYPES.gcsBucket:
        if (p.publicAccessPrevention !== "enforced") {
          reportViolation(
            `publicAccessPrevention is ${p.publicAccessPrevention ?? "unset"}; set it to "enforced"`,
          );
        }
        if (p.uniformBucketLevelAccess !== true) {
          reportViolation(
            "uniformBucketLevelAccess is not true, so object ACLs can open objects; set it to true",
          );
        }
        return;
      case TYPES.gcsBucketIamMember:
      case TYPES.gcsBucketIamBinding:
        for (const m of publicMembers(p))
          reportViolation(`grants ${p.role} to ${m}, which makes the bucket public`);
        return;
      case TYPES.gcsBucketIamPolicy:
        for (const { role, member } of publicBindings(p.policyData)) {
          reportViolation(`policyData grants ${role} to ${member}, which makes the bucket public`);
        }
        return;
      case TYPES.s3PublicAccessBlock:
        for (const field of PUBLIC_ACCESS_BLOCK) {
          if (p[field] !== true)
            reportViolation(`${field} is not true; set all four of ${oneOf(PUBLIC_ACCESS_BLOCK)}`);
        }
        return;
      case TYPES.s3Bucket:
      case TYPES.s3BucketAcl:
        if (PUBLIC_ACLS.includes(p.acl)) reportViolation(`acl is ${p.acl}; use "private" or leave acl out`);
        return;
      case TYPES.storageAccount:
        if (p.allowBlobPublicAccess !== false) {
          reportViolation(
            `allowBlobPublicAccess is ${p.allowBlobPublicAccess ?? "unset"} (its default depends on the API version); set it to false`,
          );
        }
        return;
      case TYPES.blobContainer:
        if (p.publicAccess !== undefined && p.publicAccess !== "None") {
          reportViolation(`publicAccess is ${p.publicAccess}; set it to "None"`);
        }
        return;
    }
  },
};

const registrySchema: PolicyConfigSchema = {
  properties: {
    allowPublicNetworkAccess: {
      type: "boolean",
      default: false,
      description:
        "Whether an Azure Container Registry may keep its public endpoint (pulls still need credentials).",
    },
  },
};

// An ECR repository policy statement that lets anyone in, without a condition narrowing it.
function openStatements(policy: unknown): number {
  let doc: Props | undefined = policy as Props | undefined;
  if (typeof policy === "string") {
    try {
      doc = JSON.parse(policy);
    } catch {
      return 0;
    }
  }
  const statements: Props[] = Array.isArray(doc?.Statement)
    ? doc.Statement
    : doc?.Statement
      ? [doc.Statement]
      : [];
  const anyone = (principal: unknown): boolean =>
    principal === "*" ||
    (typeof principal === "object" && principal !== null && [(principal as Props).AWS].flat().includes("*"));
  return statements.filter((s) => s?.Effect === "Allow" && anyone(s.Principal) && s.Condition === undefined)
    .length;
}

/** Registries are private: no anonymous pulls (Artifact Registry, ECR, ACR). */
export const registryPrivate: TrainkitPolicy = {
  name: "trainkit-registry-private",
  description:
    "Container registries are private: no anonymous pulls (Artifact Registry, ECR, Azure Container Registry).",
  enforcementLevel: "mandatory",
  configSchema: registrySchema,
  validateResource: (args, reportViolation) => {
    const p = args.props;
    switch (args.type) {
      case TYPES.artifactRepositoryIamMember:
      case TYPES.artifactRepositoryIamBinding:
        for (const m of publicMembers(p))
          reportViolation(`grants ${p.role} to ${m}, which makes the repository public`);
        return;
      case TYPES.artifactRepositoryIamPolicy:
        for (const { role, member } of publicBindings(p.policyData)) {
          reportViolation(`policyData grants ${role} to ${member}, which makes the repository public`);
        }
        return;
      case TYPES.ecrPublicRepository:
        reportViolation(
          `${p.repositoryName ?? "the repository"} is an ECR Public repository, which anyone can pull from; use a private ECR repository (aws.ecr.Repository)`,
        );
        return;
      case TYPES.ecrRepositoryPolicy:
        if (openStatements(p.policy) > 0) {
          reportViolation(
            'policy allows Principal "*" without a Condition, so anyone can reach the repository; name the accounts or add a Condition',
          );
        }
        return;
      case TYPES.containerRegistry: {
        const { allowPublicNetworkAccess } = configOf<{ allowPublicNetworkAccess: boolean }>(
          args,
          registrySchema,
        );
        if (p.anonymousPullEnabled === true) reportViolation("anonymousPullEnabled is true; set it to false");
        if (!allowPublicNetworkAccess && p.publicNetworkAccess !== "Disabled") {
          reportViolation(
            `publicNetworkAccess is ${p.publicNetworkAccess ?? "unset (Enabled)"}; set it to "Disabled" and reach the ` +
              "registry through a private endpoint, or set allowPublicNetworkAccess in the policy pack config",
          );
        }
        return;
      }
    }
  },
};

const OPEN = ["0.0.0.0/0", "::/0"];
const restricted = (ranges: unknown): boolean =>
  Array.isArray(ranges) &&
  ranges.length > 0 &&
  ranges.every((r) => typeof r === "string" && !OPEN.includes(r));

/** A cluster's Kubernetes API is private, or public only to authorized networks (GKE, EKS, AKS). */
export const kubernetesApiPrivate: TrainkitPolicy = {
  name: "trainkit-kubernetes-api-private",
  description:
    "A cluster's Kubernetes API endpoint is private, or public only to authorized networks (GKE, EKS, AKS).",
  enforcementLevel: "mandatory",
  configSchema: { properties: {} },
  validateResource: (args, reportViolation) => {
    const p = args.props;
    switch (args.type) {
      case TYPES.gkeCluster: {
        // The provider documents enablePrivateEndpoint as applying only to private clusters, those with
        // enablePrivateNodes; on any other cluster the public endpoint stays.
        const pcc = p.privateClusterConfig ?? {};
        if (pcc.enablePrivateEndpoint === true && pcc.enablePrivateNodes === true) return;
        const man = p.masterAuthorizedNetworksConfig ?? {};
        const blocks = Array.isArray(man.cidrBlocks)
          ? man.cidrBlocks.map((b: Props) => b?.cidrBlock)
          : undefined;
        if (!restricted(blocks)) {
          const only =
            pcc.enablePrivateEndpoint === true ? " (it takes effect only with enablePrivateNodes)" : "";
          reportViolation(
            "the control plane has a public endpoint open to any address; set privateClusterConfig.enablePrivateEndpoint " +
              `and enablePrivateNodes to true${only}, or list the networks in masterAuthorizedNetworksConfig.cidrBlocks (not 0.0.0.0/0)`,
          );
        } else if (man.gcpPublicCidrsAccessEnabled === true) {
          reportViolation(
            "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled is true, so any Compute Engine VM's public " +
              "address, in any project, reaches the control plane besides the listed networks; set it to false",
          );
        }
        return;
      }
      case TYPES.eksCluster: {
        const vpc = p.vpcConfig ?? {};
        // EKS opens the public endpoint to 0.0.0.0/0 unless told otherwise.
        if (vpc.endpointPublicAccess === false) return;
        if (!restricted(vpc.publicAccessCidrs)) {
          reportViolation(
            "the API server endpoint is public to any address; set vpcConfig.endpointPublicAccess to false, or list " +
              "the networks in vpcConfig.publicAccessCidrs (not 0.0.0.0/0)",
          );
        }
        return;
      }
      case TYPES.aksCluster: {
        const access = p.apiServerAccessProfile ?? {};
        if (access.enablePrivateCluster === true) return;
        if (!restricted(access.authorizedIPRanges)) {
          reportViolation(
            "the API server is public to any address; set apiServerAccessProfile.enablePrivateCluster to true, or " +
              "list the networks in apiServerAccessProfile.authorizedIPRanges (not 0.0.0.0/0)",
          );
        }
        return;
      }
    }
  },
};

// What a backend lets a job run for when the job sets no limit: Vertex AI's Scheduling.timeout defaults to
// seven days, SageMaker's StoppingCondition.MaxRuntimeInSeconds to one day; the others run until they end.
const BACKEND_DEFAULT_SECONDS: Record<string, number> = { "vertex-ai": 7 * 86_400, sagemaker: 86_400 };

function seconds(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  // Vertex AI durations: "3600s", "1.5s".
  if (typeof value === "string" && /^\d+(\.\d+)?s$/.test(value)) return Number(value.slice(0, -1));
  return undefined;
}

/** Where a TrainingJob's runtime limit is set, per backend, and what it is. */
function jobLimit(props: Props): { field: string; seconds?: number } | undefined {
  const c: Props = props.jobConfig ?? {};
  switch (props.backend) {
    case "vertex-ai":
      return { field: "jobConfig.scheduling.timeout", seconds: seconds(c.scheduling?.timeout) };
    case "sagemaker":
      return { field: "jobConfig.max_runtime_seconds", seconds: seconds(c.max_runtime_seconds) };
    case "azure-ml":
      return { field: "jobConfig.limits.timeout", seconds: seconds(c.limits?.timeout) };
    case "kubernetes":
      return { field: "jobConfig.active_deadline_seconds", seconds: seconds(c.active_deadline_seconds) };
    case "local":
      return { field: "jobConfig.timeout_seconds", seconds: seconds(c.timeout_seconds) };
    case "customtraining":
      return { field: "jobConfig.timeout_seconds", seconds: seconds(c.timeout_seconds) };
    default:
      // Baseten, TensorOne and Simplismart jobs have no runtime limit field to set.
      return undefined;
  }
}

const runtimeSchema: PolicyConfigSchema = {
  properties: {
    maxRuntimeSeconds: {
      type: "integer",
      minimum: 1,
      description: "The longest runtime limit a job may set; unset, any limit will do.",
    },
  },
};

/** Jobs set a runtime limit, so a stuck job does not hold GPUs for ever (TrainingJob, Kubernetes Jobs with GPUs). */
export const jobRuntimeLimit: TrainkitPolicy = {
  name: "trainkit-job-runtime-limit",
  description: "Training jobs set a runtime limit (TrainingJob, and Kubernetes Jobs that ask for GPUs).",
  enforcementLevel: "advisory",
  configSchema: runtimeSchema,
  validateResource: (args, reportViolation) => {
    const { maxRuntimeSeconds } = configOf<{ maxRuntimeSeconds?: number }>(args, runtimeSchema);
    let limit: { field: string; seconds?: number; fallback?: number } | undefined;
    if (args.type === TYPES.trainingJob) {
      const found = jobLimit(args.props);
      limit = found && { ...found, fallback: BACKEND_DEFAULT_SECONDS[args.props.backend] };
    } else if (args.type === TYPES.kubernetesJob || args.type === TYPES.kubernetesCronJob) {
      if (gpuDemands(args.type, args.props).length === 0) return;
      const cron = args.type === TYPES.kubernetesCronJob;
      const spec = cron ? args.props.spec?.jobTemplate?.spec : args.props.spec;
      const field = `spec.${cron ? "jobTemplate.spec." : ""}activeDeadlineSeconds`;
      limit = {
        field,
        seconds: seconds(spec?.activeDeadlineSeconds ?? spec?.template?.spec?.activeDeadlineSeconds),
      };
    }
    if (!limit) return;
    const effective = limit.seconds ?? limit.fallback;
    if (effective === undefined) {
      reportViolation(`the job has no runtime limit, so a stuck run keeps its GPUs; set ${limit.field}`);
    } else if (maxRuntimeSeconds !== undefined && effective > maxRuntimeSeconds) {
      const source = limit.seconds === undefined ? `the backend's default of ${effective}s` : `${effective}s`;
      reportViolation(
        `${limit.field} allows ${source}, more than the ${maxRuntimeSeconds}s of maxRuntimeSeconds; set it lower`,
      );
    }
  },
};

/** Every trainkit rule, in the order the pack lists them. */
export const TRAINKIT_POLICIES: readonly TrainkitPolicy[] = [
  gpuAllowedAccelerators,
  gpuMaxCount,
  gpuSpotRequired,
  gpuNodesTainted,
  storagePrivate,
  registryPrivate,
  kubernetesApiPrivate,
  jobRuntimeLimit,
];
