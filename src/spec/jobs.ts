import { z } from "zod";
import { type CapacityOption, capacityOptionsFor, gcpMachineByType, vertexMachineSpecIssues } from "../gpu";
import type { Backend } from "./backend";
import { AbsolutePath, EnvMap, EnvName, ImageRef, NonNegativeInt, PositiveInt } from "./common";
import {
  INT32_MAX,
  intBetween,
  maxChars,
  maxCodePoints,
  maxEntries,
  maxItems,
  RESERVED_ENV_MESSAGE,
  STORAGE_MOUNT_ENV,
  tooLong,
} from "./limits";
import { SAGEMAKER_TRAINING_INSTANCE_TYPES } from "./sagemaker-instance-types";

// Each job_config mirrors its cloud's native job API, in snake_case. Unknown keys are
// rejected so that a misspelt field fails validation instead of being silently dropped. Every limit
// the cloud publishes for its native request is enforced here, with the place it is published beside
// it, so that `pulumi preview` and the Train API's 400 say what the cloud would only say after the
// job was accepted.

/**
 * How a job's machines are bought. The same field, `job_config.capacity`, on every backend, so a job
 * moved from one backend to another keeps its meaning: `on-demand` (the default), `spot` (much
 * cheaper; the cloud may reclaim the machines, so the job should checkpoint) and, on Vertex AI only,
 * `flex-start` (Dynamic Workload Scheduler: the job waits until all its machines can be had, then runs
 * for at most seven days). Each backend writes it as its cloud's own field: Vertex AI
 * `scheduling.strategy`, SageMaker `EnableManagedSpotTraining`, Azure ML `queueSettings.jobTier`, and
 * on Kubernetes a node selector on the capacity label trainkit's GPU pools carry.
 */
export const JOB_CAPACITIES = ["on-demand", "spot", "flex-start"] as const;
export type JobCapacity = (typeof JOB_CAPACITIES)[number];

function capacityField<const C extends readonly [JobCapacity, ...JobCapacity[]]>(
  choices: C,
  backend: string,
) {
  return z.enum(choices, {
    error: (issue) =>
      `must be ${choices.map((c) => JSON.stringify(c)).join(" or ")} on the ${backend} backend; got ${JSON.stringify(issue.input)}`,
  });
}

/** Why a catalogue shape cannot be bought the way a job asks, or undefined when it can. */
function capacityProblem(
  options: readonly CapacityOption[],
  chosen: JobCapacity,
  reserved: boolean,
  what: string,
  reservationHint: string,
): string | undefined {
  if (options.includes(chosen)) return undefined;
  if (chosen === "on-demand" && reserved && options.includes("reservation")) return undefined;
  const sold = options.filter((o): o is JobCapacity => (JOB_CAPACITIES as readonly string[]).includes(o));
  const ways = [...sold.map((o) => JSON.stringify(o))];
  const reservation = options.includes("reservation") ? ` or ${reservationHint}` : "";
  if (ways.length === 0) {
    return `cannot be ${JSON.stringify(chosen)} for ${what}, which is sold only through reservations; remove capacity and ${reservationHint}`;
  }
  return `cannot be ${JSON.stringify(chosen)} for ${what}, which is not sold that way; set capacity to ${ways.join(" or ")}${reservation}`;
}

/** The environment variable names a job sets, checked against the names the Train API sets itself. */
function rejectReservedNames(
  names: readonly string[],
  ctx: z.RefinementCtx,
  path: (i: number) => PropertyKey[],
) {
  names.forEach((name, i) => {
    if (STORAGE_MOUNT_ENV.test(name))
      ctx.addIssue({ code: "custom", path: path(i), message: RESERVED_ENV_MESSAGE });
  });
}

/** Accelerators Vertex AI accepts in `machine_spec.accelerator_type`: the `AcceleratorType` enum of
 * google/cloud/aiplatform/v1/accelerator_type.proto, without the unspecified value and the deprecated K80. */
export const VERTEX_ACCELERATOR_TYPES = [
  "NVIDIA_TESLA_P100",
  "NVIDIA_TESLA_V100",
  "NVIDIA_TESLA_P4",
  "NVIDIA_TESLA_T4",
  "NVIDIA_TESLA_A100",
  "NVIDIA_A100_80GB",
  "NVIDIA_L4",
  "NVIDIA_H100_80GB",
  "NVIDIA_H100_MEGA_80GB",
  "NVIDIA_H200_141GB",
  "NVIDIA_B200",
  "NVIDIA_GB200",
  "NVIDIA_RTX_PRO_6000",
  "TPU_V2",
  "TPU_V3",
  "TPU_V4_POD",
  "TPU_V5_LITEPOD",
] as const;

/** A duration in seconds as Vertex AI writes it (`"86400s"`): google.protobuf.Duration's JSON form. */
export const VertexDuration = z
  .string()
  .regex(/^\d+(\.\d{1,9})?s$/, 'must be a duration in seconds such as "86400s"');

/** Seconds in a Vertex AI duration. */
export function vertexSeconds(duration: string): number {
  return Number(duration.slice(0, -1));
}

/** The label trainkit adds to every CustomJob, which a job's own labels may not take. */
export const VERTEX_JOB_ID_LABEL = "trainkit-job-id";
/** The longest a flex-start job runs (https://cloud.google.com/vertex-ai/docs/training/schedule-jobs-dws). */
export const FLEX_START_MAX_RUN_SECONDS = 7 * 24 * 3600;

// custom_job.proto CustomJob.labels: keys and values of at most 64 code points of lowercase letters,
// digits, '_' and '-', international characters allowed; keys start with a letter
// (https://cloud.google.com/resource-manager/docs/labels-overview), at most 64 labels a resource.
const VERTEX_LABEL_OWNER = "Vertex AI CustomJob.labels";
const VertexLabelKey = maxCodePoints(64, VERTEX_LABEL_OWNER)
  .regex(/^\p{Ll}[\p{Ll}\p{Lo}\p{N}_-]*$/u, {
    error: (issue) =>
      `must start with a lowercase letter and hold only lowercase letters, digits, '_' and '-' (${VERTEX_LABEL_OWNER}); got ${JSON.stringify(issue.input)}`,
  })
  .refine((key) => key !== VERTEX_JOB_ID_LABEL, {
    message: `is set by the Train API to the job's id; choose another label key`,
  });
const VertexLabelValue = maxCodePoints(64, VERTEX_LABEL_OWNER).regex(/^[\p{Ll}\p{Lo}\p{N}_-]*$/u, {
  error: (issue) =>
    `must hold only lowercase letters, digits, '_' and '-' (${VERTEX_LABEL_OWNER}); got ${JSON.stringify(issue.input)}`,
});

// reservation_affinity.proto: SPECIFIC_RESERVATION names its reservation through key and values.
const VertexReservationAffinity = z
  .object({
    reservation_affinity_type: z.enum(["NO_RESERVATION", "ANY_RESERVATION", "SPECIFIC_RESERVATION"]),
    key: z.string().min(1).optional(),
    values: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .superRefine((affinity, ctx) => {
    if (affinity.reservation_affinity_type !== "SPECIFIC_RESERVATION") return;
    for (const field of ["key", "values"] as const) {
      if (affinity[field] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message:
            'must be set for SPECIFIC_RESERVATION: key "compute.googleapis.com/reservation-name" and values holding the reservation\'s full resource name',
        });
      }
    }
  });

export const VertexMachineSpec = z
  .object({
    machine_type: z.string().min(1, "must name a machine type such as g2-standard-8"),
    accelerator_type: z
      .enum(VERTEX_ACCELERATOR_TYPES, {
        error: (issue) =>
          `must be one of ${VERTEX_ACCELERATOR_TYPES.join(", ")} (Vertex AI AcceleratorType); got ${JSON.stringify(issue.input)}`,
      })
      .optional(),
    // machine_resources.proto MachineSpec.accelerator_count: int32.
    accelerator_count: intBetween(1, INT32_MAX, "Vertex AI MachineSpec.accelerator_count").optional(),
    reservation_affinity: VertexReservationAffinity.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.accelerator_count !== undefined && spec.accelerator_type === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["accelerator_type"],
        message: "must be set when accelerator_count is set",
      });
      return;
    }
    // Vertex only accepts the GPU counts each machine family is built with; catching a wrong pair
    // here fails `pulumi preview` instead of the job minutes later.
    for (const issue of vertexMachineSpecIssues(spec)) {
      ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
    }
  });

export const VertexContainerSpec = z
  .object({
    image_uri: ImageRef,
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    // env_var.proto EnvVar.name: a C identifier. custom_job.proto ContainerSpec.env: at most 100,
    // counted with the STORAGE_MOUNT_<i>_PATH variables the Train API adds (checked with the mounts).
    env: z.array(z.object({ name: EnvName, value: z.string() }).strict()).optional(),
  })
  .strict();

export const VertexWorkerPoolSpec = z
  .object({
    machine_spec: VertexMachineSpec,
    // custom_job.proto WorkerPoolSpec.replica_count: int64.
    replica_count: PositiveInt,
    container_spec: VertexContainerSpec,
    disk_spec: z
      .object({
        // machine_resources.proto DiskSpec.boot_disk_type: the three documented values.
        boot_disk_type: z.enum(["pd-ssd", "pd-standard", "hyperdisk-balanced"]).optional(),
        // https://cloud.google.com/vertex-ai/docs/training/configure-compute#boot_disk_options
        boot_disk_size_gb: intBetween(100, 64000, "Vertex AI DiskSpec.boot_disk_size_gb").optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The most worker pools a CustomJob has: primary, workers, parameter servers, evaluators. */
export const VERTEX_MAX_WORKER_POOLS = 4;

export const VertexAiJobConfig = z
  .object({
    // https://cloud.google.com/vertex-ai/docs/training/distributed-training: up to four pools,
    // the first of which holds the one primary replica.
    worker_pool_specs: maxItems(
      VertexWorkerPoolSpec,
      VERTEX_MAX_WORKER_POOLS,
      "Vertex AI CustomJobSpec.worker_pool_specs",
    ).min(1, "must hold at least one worker pool"),
    capacity: capacityField(["on-demand", "spot", "flex-start"], "vertex-ai").optional(),
    scheduling: z
      .object({
        timeout: VertexDuration.optional(),
        restart_job_on_worker_restart: z.boolean().optional(),
        disable_retries: z.boolean().optional(),
        // custom_job.proto Scheduling.max_wait_duration: only for FLEX_START; 0 waits indefinitely.
        max_wait_duration: VertexDuration.optional(),
      })
      .strict()
      .optional(),
    service_account: z.string().email("must be a service account email").optional(),
    labels: maxEntries(
      VertexLabelKey,
      VertexLabelValue,
      63,
      "Vertex AI allows 64 labels and the Train API adds one",
    ).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const primary = config.worker_pool_specs[0];
    if (primary && primary.replica_count !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["worker_pool_specs", 0, "replica_count"],
        message: `must be 1: the first worker pool holds the job's one primary replica (Vertex AI distributed training); got ${primary.replica_count}, so put the other replicas in worker_pool_specs[1]`,
      });
    }
    const capacity = config.capacity ?? "on-demand";
    if (config.scheduling?.max_wait_duration !== undefined && capacity !== "flex-start") {
      ctx.addIssue({
        code: "custom",
        path: ["scheduling", "max_wait_duration"],
        message:
          'applies only to flex-start capacity (Vertex AI Scheduling.max_wait_duration); set capacity to "flex-start" or remove it',
      });
    }
    const timeout = config.scheduling?.timeout;
    if (
      capacity === "flex-start" &&
      timeout !== undefined &&
      vertexSeconds(timeout) > FLEX_START_MAX_RUN_SECONDS
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["scheduling", "timeout"],
        message: `must be at most ${FLEX_START_MAX_RUN_SECONDS}s (7 days) with flex-start capacity, the longest a flex-start job runs; got ${timeout}`,
      });
    }
    config.worker_pool_specs.forEach((pool, i) => {
      const type = pool.machine_spec.machine_type;
      if (gcpMachineByType(type).length === 0) return;
      const affinity = pool.machine_spec.reservation_affinity?.reservation_affinity_type;
      const reserved = affinity === "ANY_RESERVATION" || affinity === "SPECIFIC_RESERVATION";
      const problem = capacityProblem(
        capacityOptionsFor("gcp", type),
        capacity,
        reserved,
        `machine type ${type}`,
        `set worker_pool_specs[${i}].machine_spec.reservation_affinity to a reservation`,
      );
      if (problem) ctx.addIssue({ code: "custom", path: ["capacity"], message: problem });
    });
  });

const SAGEMAKER_INSTANCE_TYPE_SET: ReadonlySet<string> = new Set(SAGEMAKER_TRAINING_INSTANCE_TYPES);

// The SageMaker service model's CreateTrainingJob shapes (botocore/data/sagemaker/2017-07-24/service-2.json).
const SM = {
  image: "SageMaker AlgorithmSpecification.TrainingImage",
  entrypoint: "SageMaker AlgorithmSpecification.ContainerEntrypoint",
  arguments: "SageMaker AlgorithmSpecification.ContainerArguments",
  hyperparameters: "SageMaker HyperParameters",
  environment: "SageMaker Environment",
  pending: "SageMaker StoppingCondition.MaxPendingTimeInSeconds",
} as const;

export const SageMakerJobConfig = z
  .object({
    image: ImageRef.max(255, tooLong(255, SM.image)),
    command: maxItems(maxChars(256, SM.entrypoint), 100, SM.entrypoint)
      .min(1, "must hold at least the program to run")
      .optional(),
    args: maxItems(maxChars(256, SM.arguments), 100, SM.arguments)
      .min(1, "must hold at least one argument, or be left out")
      .optional(),
    resource_config: z
      .object({
        instance_count: PositiveInt,
        instance_type: z.string().refine((type) => SAGEMAKER_INSTANCE_TYPE_SET.has(type), {
          error: (issue) =>
            `must be a SageMaker instance type such as ml.g5.xlarge or ml.p6-b200.48xlarge (SageMaker TrainingInstanceType); got ${JSON.stringify(issue.input)}`,
        }),
        volume_size_in_gb: PositiveInt.max(16384, "must be at most 16384").default(50),
        // ResourceConfig.TrainingPlanArn: the reserved capacity of a SageMaker training plan.
        training_plan_arn: z
          .string()
          .min(50, "must be a SageMaker training plan ARN (at least 50 characters)")
          .max(2048, tooLong(2048, "SageMaker ResourceConfig.TrainingPlanArn"))
          .regex(
            /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:training-plan\/.*$/,
            "must be a training plan ARN such as arn:aws:sagemaker:us-east-1:123456789012:training-plan/my-plan",
          )
          .optional(),
      })
      .strict(),
    hyperparameters: maxEntries(
      maxChars(256, SM.hyperparameters),
      maxChars(2500, SM.hyperparameters),
      100,
      SM.hyperparameters,
    ).optional(),
    // At most 100 entries with the STORAGE_MOUNT_<i>_PATH variables (checked with the mounts).
    environment: z
      .record(EnvName.max(512, tooLong(512, SM.environment)), maxChars(512, SM.environment))
      .optional(),
    // StoppingCondition.MaxRuntimeInSeconds: at least 1; SageMaker's default is one day.
    max_runtime_seconds: PositiveInt.optional(),
    capacity: capacityField(["on-demand", "spot"], "sagemaker").optional(),
    // StoppingCondition.MaxWaitTimeInSeconds: spot only, at least MaxRuntimeInSeconds.
    max_wait_time_seconds: PositiveInt.optional(),
    max_pending_time_seconds: intBetween(7200, 2_419_200, SM.pending).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const spot = config.capacity === "spot";
    if (config.max_wait_time_seconds !== undefined) {
      const runtime = config.max_runtime_seconds ?? SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS;
      if (!spot) {
        ctx.addIssue({
          code: "custom",
          path: ["max_wait_time_seconds"],
          message:
            'applies only to managed spot training (SageMaker StoppingCondition.MaxWaitTimeInSeconds); set capacity to "spot" or remove it',
        });
      } else if (config.max_wait_time_seconds < runtime) {
        ctx.addIssue({
          code: "custom",
          path: ["max_wait_time_seconds"],
          message: `must be at least max_runtime_seconds (${runtime}): SageMaker counts the time waiting for spot capacity and the run together; got ${config.max_wait_time_seconds}`,
        });
      }
    }
    const type = config.resource_config.instance_type;
    if (!sageMakerCatalogued(type)) return;
    const problem = capacityProblem(
      capacityOptionsFor("sagemaker", type),
      config.capacity ?? "on-demand",
      config.resource_config.training_plan_arn !== undefined,
      `instance type ${type}`,
      "set resource_config.training_plan_arn to a training plan that reserves it",
    );
    if (problem) ctx.addIssue({ code: "custom", path: ["capacity"], message: problem });
  });

/** `StoppingCondition.MaxRuntimeInSeconds` when the job gives none: SageMaker's own default, one day. */
export const SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS = 86_400;

function sageMakerCatalogued(type: string): boolean {
  try {
    capacityOptionsFor("sagemaker", type);
    return true;
  } catch {
    return false;
  }
}

// The Azure ML REST API, stable 2024-04-01 (specification/machinelearningservices/resource-manager/
// Microsoft.MachineLearningServices/stable/2024-04-01/mfe.json): CommandJob, JobResourceConfiguration,
// JobLimits and QueueSettings.
export const AzureMlJobConfig = z
  .object({
    // CommandJob.command: minLength 1, pattern [a-zA-Z0-9_].
    command: z
      .string()
      .trim()
      .min(1, 'must be a shell command such as "python train.py"')
      .regex(/[a-zA-Z0-9_]/, "must hold at least one letter, digit or '_' (Azure ML CommandJob.command)"),
    environment: z.object({ image: ImageRef }).strict(),
    compute: z.string().min(1, 'must name a compute cluster, or be "serverless"'),
    resources: z
      .object({
        instance_type: z.string().min(1).optional(),
        // ResourceConfiguration.instanceCount: int32.
        instance_count: intBetween(1, INT32_MAX, "Azure ML ResourceConfiguration.instanceCount").optional(),
        // JobResourceConfiguration.shmSize: pattern \d+[bBkKmMgG].
        shm_size: z
          .string()
          .regex(
            /^\d+[bBkKmMgG]$/,
            'must be a size such as "16g": a number and one of b, k, m or g (Azure ML JobResourceConfiguration.shmSize)',
          )
          .optional(),
      })
      .strict()
      .optional(),
    environment_variables: EnvMap.optional(),
    // JobLimits.timeout: an ISO 8601 duration of whole seconds.
    limits: z
      .object({ timeout: PositiveInt.describe("seconds") })
      .strict()
      .optional(),
    experiment_name: z.string().min(1).optional(),
    capacity: capacityField(["on-demand", "spot"], "azure-ml").optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.capacity === undefined) return;
    // QueueSettings.jobTier chooses the VMs Azure ML provisions for a serverless job; the nodes of a
    // named compute cluster are bought by the cluster itself (its VM priority), whatever the job says.
    if (config.compute !== "serverless") {
      ctx.addIssue({
        code: "custom",
        path: ["capacity"],
        message: `applies only to serverless compute (Azure ML QueueSettings.jobTier): the nodes of cluster ${JSON.stringify(config.compute)} are bought as the cluster's VM priority says; remove capacity and use a low-priority cluster, or set compute to "serverless"`,
      });
      return;
    }
    const type = config.resources?.instance_type;
    if (type === undefined) return;
    let options: readonly CapacityOption[];
    try {
      options = capacityOptionsFor("azure", type);
    } catch {
      return;
    }
    const problem = capacityProblem(
      options,
      config.capacity,
      false,
      `VM size ${type}`,
      "use a reserved cluster",
    );
    if (problem) ctx.addIssue({ code: "custom", path: ["capacity"], message: problem });
  });

// Kubernetes API validation (k8s.io/apimachinery/pkg/util/validation/validation.go and
// k8s.io/apimachinery/pkg/api/resource/quantity.go; batch/v1 JobSpec field types in
// k8s.io/api/batch/v1/types.go).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const K8S_LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A non-negative resource.Quantity: `<number><suffix>`, suffix one of Ki..Ei, m, k..E or an exponent. */
const QUANTITY = /^\+?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export const KubernetesLabelValue = z
  .string()
  .max(63, tooLong(63, "a Kubernetes label value"))
  .regex(
    K8S_LABEL_VALUE,
    "must be a Kubernetes label value: letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
  );

export const KubernetesLabelKey = z.string().superRefine((key, ctx) => {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    ctx.addIssue({
      code: "custom",
      message: `must have a DNS subdomain of at most 253 characters before '/' (a Kubernetes label key); got ${JSON.stringify(key)}`,
    });
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    ctx.addIssue({
      code: "custom",
      message: `must end in a name of 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (a Kubernetes label key); got ${JSON.stringify(key)}`,
    });
  }
});

export const KubernetesQuantity = (message: string) =>
  z
    .string()
    .regex(
      QUANTITY,
      `${message}: a number and an optional suffix (m, k, M, G, Ki, Mi, Gi, ...; a Kubernetes resource.Quantity)`,
    );

/** The node label trainkit's GPU pools carry to say how their nodes are bought. */
export const KUBERNETES_CAPACITY_LABEL = "trainkit.dev/capacity";

export const KubernetesJobConfig = z
  .object({
    image: ImageRef,
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: EnvMap.optional(),
    namespace: z
      .string()
      .max(63, tooLong(63, "a Kubernetes namespace name"))
      .regex(
        DNS1123_LABEL,
        "must be a Kubernetes namespace name: lowercase letters, digits and '-', starting and ending with a letter or digit",
      )
      .optional(),
    resources: z
      .object({
        gpu: intBetween(0, INT32_MAX, "a Kubernetes extended resource count").optional(),
        cpu: KubernetesQuantity('must be a CPU quantity such as "4" or "500m"').optional(),
        memory: KubernetesQuantity('must be a memory quantity such as "16Gi"').optional(),
      })
      .strict()
      .optional(),
    node_selector: z.record(KubernetesLabelKey, KubernetesLabelValue).optional(),
    // The Kueue queue goes into the `kueue.x-k8s.io/queue-name` label, so it is a label value.
    queue: KubernetesLabelValue.min(1, "must name a Kueue LocalQueue").optional(),
    capacity: capacityField(["on-demand", "spot"], "kubernetes").optional(),
    // batch/v1 JobSpec: completions, parallelism, backoffLimit and ttlSecondsAfterFinished are
    // int32; activeDeadlineSeconds is an int64 that must be positive.
    completions: intBetween(1, INT32_MAX, "Kubernetes JobSpec.completions, an int32").optional(),
    parallelism: intBetween(1, INT32_MAX, "Kubernetes JobSpec.parallelism, an int32").optional(),
    backoff_limit: intBetween(0, INT32_MAX, "Kubernetes JobSpec.backoffLimit, an int32").optional(),
    active_deadline_seconds: PositiveInt.max(Number.MAX_SAFE_INTEGER).optional(),
    /** How long a finished Job and its pods (and their logs) are kept. Defaults to a day. */
    ttl_seconds_after_finished: intBetween(
      0,
      INT32_MAX,
      "Kubernetes JobSpec.ttlSecondsAfterFinished, an int32",
    ).optional(),
    /**
     * The user id the container runs as, for images that do not set a non-root USER (stock CUDA and
     * PyTorch images run as root, 0). 0 needs a jobs namespace whose Pod Security level allows root
     * (`baseline`). Defaults to the image's user, which must then be non-root.
     */
    run_as_user: NonNegativeInt.optional(),
    /** The primary group id of the container's processes. Defaults to the image's group. */
    run_as_group: NonNegativeInt.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const selected = config.node_selector?.[KUBERNETES_CAPACITY_LABEL];
    if (config.capacity !== undefined && selected !== undefined && selected !== config.capacity) {
      ctx.addIssue({
        code: "custom",
        path: ["node_selector", KUBERNETES_CAPACITY_LABEL],
        message: `must not differ from capacity (${config.capacity}), which selects the same node label; remove one of them`,
      });
    }
  });

export const LocalJobConfig = z
  .object({
    command: z.array(z.string().min(1, "must not be empty")).min(1, "must hold at least the program to run"),
    args: z.array(z.string()).optional(),
    env: EnvMap.optional(),
    timeout_seconds: z.number().positive("must be greater than 0").optional(),
    working_dir: AbsolutePath.optional(),
  })
  .strict();

export const JOB_CONFIG_SCHEMAS = {
  "vertex-ai": VertexAiJobConfig,
  sagemaker: SageMakerJobConfig,
  "azure-ml": AzureMlJobConfig,
  kubernetes: KubernetesJobConfig,
  local: LocalJobConfig,
} as const satisfies Record<Backend, z.ZodType>;

/** The most environment variables a container gets on Vertex AI and SageMaker, the Train API's included. */
export const MAX_ENV_VARS: Partial<Record<Backend, { max: number; owner: string }>> = {
  "vertex-ai": { max: 100, owner: "Vertex AI ContainerSpec.env" },
  sagemaker: { max: 100, owner: "SageMaker Environment" },
};

/**
 * The checks of a job_config that depend on its storage mounts: no variable of the job may take a name
 * the Train API sets for a mount, and where the cloud caps the number of variables, the mounts' count.
 */
export function checkJobConfigWithMounts(
  backend: Backend,
  config: Record<string, unknown>,
  mountCount: number,
  ctx: z.RefinementCtx,
): void {
  const limit = MAX_ENV_VARS[backend];
  const check = (names: string[], path: PropertyKey[]) => {
    rejectReservedNames(names, ctx, (i) => [
      ...path,
      ...(backend === "vertex-ai" ? [i, "name"] : [names[i]!]),
    ]);
    if (limit && names.length + mountCount > limit.max) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `must hold at most ${limit.max - mountCount} variables with ${mountCount} storage mount${mountCount === 1 ? "" : "s"}: ${limit.owner} allows ${limit.max} and the Train API adds STORAGE_MOUNT_<i>_PATH for each mount; got ${names.length}`,
      });
    }
  };
  switch (backend) {
    case "vertex-ai": {
      const pools = (config as VertexAiJobConfig).worker_pool_specs ?? [];
      pools.forEach((pool, i) => {
        check(
          (pool.container_spec?.env ?? []).map((e) => e.name),
          ["job_config", "worker_pool_specs", i, "container_spec", "env"],
        );
      });
      return;
    }
    case "sagemaker":
      check(Object.keys((config as SageMakerJobConfig).environment ?? {}), ["job_config", "environment"]);
      return;
    case "azure-ml":
      check(Object.keys((config as AzureMlJobConfig).environment_variables ?? {}), [
        "job_config",
        "environment_variables",
      ]);
      return;
    case "kubernetes":
    case "local":
      check(Object.keys((config as KubernetesJobConfig | LocalJobConfig).env ?? {}), ["job_config", "env"]);
      return;
  }
}

export type VertexAiJobConfig = z.input<typeof VertexAiJobConfig>;
export type SageMakerJobConfig = z.input<typeof SageMakerJobConfig>;
export type AzureMlJobConfig = z.input<typeof AzureMlJobConfig>;
export type KubernetesJobConfig = z.input<typeof KubernetesJobConfig>;
export type LocalJobConfig = z.input<typeof LocalJobConfig>;

/** The job_config a backend takes, as a caller writes it. */
export type JobConfigFor<B extends Backend> = z.input<(typeof JOB_CONFIG_SCHEMAS)[B]>;
/** The job_config a backend takes, after validation filled in defaults. */
export type ParsedJobConfigFor<B extends Backend> = z.output<(typeof JOB_CONFIG_SCHEMAS)[B]>;
