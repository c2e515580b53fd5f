import { beforeAll, describe, expect, it } from "vitest";
import { GKE_STORAGE_CLASS } from "../../src/gcp";
import {
  API_ROLE_RULES,
  CLOUD_STORAGE_CLASSES,
  DEFAULT_DEVICE_PLUGIN_IMAGE,
  GpuSupport,
  TrainingApi,
  type TrainingApiArgs,
  TrainingPlatform,
} from "../../src/kubernetes";
import { kubernetesComputed } from "../helpers/fake-kubernetes";
import {
  type Inputs,
  installPulumiMocks,
  isSecret,
  type MockRuntime,
  outputValue,
} from "../helpers/pulumi-mocks";

const DAEMONSET = "kubernetes:apps/v1:DaemonSet";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const FLAVOR = "kubernetes:kueue.x-k8s.io/v1beta1:ResourceFlavor";
const CLUSTER_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta1:ClusterQueue";
const LOCAL_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta1:LocalQueue";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";
const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const SECRET = "kubernetes:core/v1:Secret";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

const API_KEY = "tk_live_0123456789abcdef";
const apiArgs: TrainingApiArgs = {
  image: "registry.example/trainkit:0.1.0",
  apiKeys: { [API_KEY]: ["team-vision"] },
  jobsNamespace: "ml-jobs",
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: kubernetesComputed });
});

async function buildApi(name: string, extra: Partial<TrainingApiArgs> = {}) {
  const api = new TrainingApi(name, { ...apiArgs, ...extra });
  await mocks.settle();
  return api;
}

function container(name: string): Inputs {
  return mocks.one(DEPLOYMENT, `${name}-api`).inputs.spec.template.spec.containers[0];
}

function envOf(name: string): Record<string, Inputs> {
  return Object.fromEntries(container(name).env.map((e: { name: string }) => [e.name, e]));
}

describe("GpuSupport", () => {
  it("runs the NVIDIA device plugin only on GPU nodes, tolerating trainkit's GPU taint", async () => {
    new GpuSupport("plugin");
    await mocks.settle();
    const spec = mocks.one(DAEMONSET, "plugin-device-plugin").inputs.spec.template.spec;
    expect(spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    expect(
      spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
    ).toEqual([
      { matchExpressions: [{ key: "trainkit.dev/gpu", operator: "Exists" }] },
      { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "Exists" }] },
      { matchExpressions: [{ key: "cloud.google.com/gke-accelerator", operator: "Exists" }] },
      { matchExpressions: [{ key: "k8s.amazonaws.com/accelerator", operator: "Exists" }] },
    ]);
    expect(spec.containers[0].image).toBe(DEFAULT_DEVICE_PLUGIN_IMAGE);
    expect(spec.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(spec.volumes).toEqual([
      { name: "device-plugin", hostPath: { path: "/var/lib/kubelet/device-plugins" } },
    ]);
    expect(mocks.one(DAEMONSET, "plugin-device-plugin").inputs.metadata.namespace).toBe("kube-system");
  });

  it("installs NVIDIA's GPU operator chart instead when asked, with the GPU taint tolerated", async () => {
    new GpuSupport("operator", { installer: "gpu-operator" });
    await mocks.settle();
    const release = mocks.one(RELEASE, "operator-gpu-operator").inputs;
    expect(release).toMatchObject({
      chart: "gpu-operator",
      version: "v24.9.0",
      repositoryOpts: { repo: "https://helm.ngc.nvidia.com/nvidia" },
      namespace: "gpu-operator",
    });
    expect(release.values.daemonsets.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
    expect(mocks.resources.filter((r) => r.type === DAEMONSET && r.name.startsWith("operator-"))).toEqual([]);
  });

  it("installs nothing with installer none, for clusters such as GKE that run their own device plugin", async () => {
    new GpuSupport("managed", { installer: "none" });
    await mocks.settle();
    expect(mocks.resources.filter((r) => r.name.startsWith("managed-") && r.custom)).toEqual([]);
  });

  it("gives a Kueue ClusterQueue the GPU quota asked for, fed by a LocalQueue in the jobs' namespace", async () => {
    const gpu = new GpuSupport("quota", { installer: "none", kueue: { namespace: "ml-jobs", gpuQuota: 8 } });
    await mocks.settle();
    const flavor = mocks.one(FLAVOR, "quota-flavor").inputs;
    expect(flavor.spec.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
    ]);
    const queue = mocks.one(CLUSTER_QUEUE, "quota-cluster-queue").inputs.spec;
    expect(queue.namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "ml-jobs" } });
    expect(queue.resourceGroups).toEqual([
      {
        coveredResources: ["cpu", "memory", "nvidia.com/gpu"],
        flavors: [
          {
            name: "quota-flavor-5f8d2c1a",
            resources: [
              { name: "cpu", nominalQuota: "1000" },
              { name: "memory", nominalQuota: "8Ti" },
              { name: "nvidia.com/gpu", nominalQuota: 8 },
            ],
          },
        ],
      },
    ]);
    const local = mocks.one(LOCAL_QUEUE, "quota-local-queue").inputs;
    expect(local.metadata).toEqual({ name: "gpu", namespace: "ml-jobs" });
    expect(local.spec).toEqual({ clusterQueue: "quota-cluster-queue-5f8d2c1a" });
    expect(await outputValue(gpu.queueName!)).toBe("gpu");
    expect(await outputValue(gpu.clusterQueueName!)).toBe("quota-cluster-queue-5f8d2c1a");
    // The custom resources themselves stay reachable from TypeScript.
    expect(await outputValue(gpu.localQueue!.metadata.name)).toBe("gpu");
  });

  it("refuses a GPU quota below one with a sentence naming the field and the value", () => {
    expect(() => new GpuSupport("zero", { kueue: { namespace: "ml-jobs", gpuQuota: 0 } })).toThrow(
      "GpuSupport zero: kueue.gpuQuota must be a whole number of GPUs, at least 1; got 0",
    );
  });

  it("refuses an installer it does not know, listing the ones it does", () => {
    expect(() => new GpuSupport("odd", { installer: "amd" as never })).toThrow(
      "GpuSupport odd: installer must be one of nvidia-device-plugin, gpu-operator, none; got amd",
    );
  });
});

describe("TrainingApi", () => {
  it("lets its ServiceAccount do exactly what the backend needs, in the jobs' namespace only", async () => {
    await buildApi("rbac");
    const role = mocks.one(ROLE, "rbac-jobs").inputs;
    expect(role.metadata.namespace).toBe("ml-jobs");
    expect(role.rules).toEqual([
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"] },
    ]);
    expect(role.rules).toEqual(API_ROLE_RULES);
    const binding = mocks.one(ROLE_BINDING, "rbac-jobs").inputs;
    expect(binding.metadata.namespace).toBe("ml-jobs");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "rbac-jobs-5f8d2c1a",
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "rbac-sa-5f8d2c1a", namespace: "trainkit" },
    ]);
    expect(mocks.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")).toEqual([]);
    expect(mocks.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")).toEqual([]);
  });

  it("keeps the API keys in a Secret marked secret, and gives them to the container only by reference", async () => {
    await buildApi("keys");
    const secret = mocks.one(SECRET, "keys-secrets");
    expect(secret.secretInputs).toContain("stringData");
    expect(JSON.parse(secret.inputs.stringData.TRAINKIT_API_KEYS)).toEqual({ [API_KEY]: ["team-vision"] });
    expect(envOf("keys").TRAINKIT_API_KEYS).toEqual({
      name: "TRAINKIT_API_KEYS",
      valueFrom: { secretKeyRef: { name: "keys-secrets-5f8d2c1a", key: "TRAINKIT_API_KEYS" } },
    });
    expect(JSON.stringify(mocks.one(DEPLOYMENT, "keys-api").inputs)).not.toContain(API_KEY);
  });

  it("runs the container as non-root with a read-only root filesystem, no privilege escalation and no capabilities", async () => {
    await buildApi("secure");
    const pod = mocks.one(DEPLOYMENT, "secure-api").inputs.spec.template.spec;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.serviceAccountName).toBe("secure-sa-5f8d2c1a");
    expect(container("secure").securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container("secure").resources).toEqual({
      requests: { cpu: "250m", memory: "512Mi" },
      limits: { memory: "512Mi" },
    });
  });

  it("checks readiness on /readyz (store and reconciler) and liveness on /livez (the process)", async () => {
    await buildApi("probes");
    expect(container("probes").readinessProbe).toEqual({
      httpGet: { path: "/readyz", port: "http" },
      periodSeconds: 5,
      failureThreshold: 3,
    });
    expect(container("probes").livenessProbe.httpGet).toEqual({ path: "/livez", port: "http" });
  });

  it("runs only the kubernetes backend and tells it the jobs' namespace and ServiceAccount", async () => {
    await buildApi("settings", { jobServiceAccount: "job-runner" });
    const env = envOf("settings");
    expect(env.TRAINKIT_BACKENDS).toEqual({ name: "TRAINKIT_BACKENDS", value: "kubernetes" });
    expect(env.TRAINKIT_KUBERNETES_NAMESPACE).toEqual({
      name: "TRAINKIT_KUBERNETES_NAMESPACE",
      value: "ml-jobs",
    });
    expect(env.TRAINKIT_KUBERNETES_SERVICE_ACCOUNT).toEqual({
      name: "TRAINKIT_KUBERNETES_SERVICE_ACCOUNT",
      value: "job-runner",
    });
    expect(env.TRAINKIT_DATA_DIR!.value).toBe("/var/lib/trainkit");
  });

  it("keeps the embedded database on a claim with one replica, replaced rather than rolled, without databaseUrl", async () => {
    await buildApi("embedded");
    const deployment = mocks.one(DEPLOYMENT, "embedded-api").inputs.spec;
    expect(deployment.replicas).toBe(1);
    expect(deployment.strategy).toEqual({ type: "Recreate" });
    expect(mocks.one(PVC, "embedded-data").inputs.spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "10Gi" } },
    });
    expect(deployment.template.spec.volumes[0]).toEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "embedded-data-5f8d2c1a" },
    });
  });

  it("keeps the embedded database in an emptyDir and makes no claim with dataVolume.emptyDir", async () => {
    const api = await buildApi("scratch", { dataVolume: { emptyDir: true } });
    expect(mocks.ofType(PVC).filter((r) => r.name === "scratch-data")).toEqual([]);
    expect(api.dataClaim).toBeUndefined();
    expect(mocks.one(DEPLOYMENT, "scratch-api").inputs.spec.template.spec.volumes[0]).toEqual({
      name: "data",
      emptyDir: {},
    });
  });

  it('still takes the former dataVolume: "emptyDir" from JavaScript programs', async () => {
    await buildApi("legacy-scratch", { dataVolume: "emptyDir" as never });
    expect(mocks.ofType(PVC).filter((r) => r.name === "legacy-scratch-data")).toEqual([]);
  });

  it("refuses a claim size together with dataVolume.emptyDir, naming both fields", () => {
    expect(
      () => new TrainingApi("both", { ...apiArgs, dataVolume: { emptyDir: true, size: "20Gi" } }),
    ).toThrow(
      "TrainingApi both: dataVolume.size and dataVolume.storageClassName describe a claim, which emptyDir: true leaves out; drop them or emptyDir",
    );
  });

  it("runs two replicas on Postgres with the URL in the Secret when databaseUrl is set", async () => {
    await buildApi("durable", { databaseUrl: "postgresql://trainkit:pw@db:5432/trainkit" });
    expect(mocks.one(DEPLOYMENT, "durable-api").inputs.spec.replicas).toBe(2);
    expect(mocks.one(SECRET, "durable-secrets").inputs.stringData.DATABASE_URL).toBe(
      "postgresql://trainkit:pw@db:5432/trainkit",
    );
    expect(envOf("durable").DATABASE_URL!.valueFrom.secretKeyRef.key).toBe("DATABASE_URL");
    expect(mocks.resources.filter((r) => r.type === PVC && r.name.startsWith("durable-"))).toEqual([]);
  });

  it("refuses more than one replica without databaseUrl, saying how to get more", () => {
    expect(() => new TrainingApi("many", { ...apiArgs, replicas: 3 })).toThrow(
      "TrainingApi many: replicas must be 1 when databaseUrl is not set, since each instance would keep its own embedded database; got 3. Set databaseUrl to a Postgres URL to run more.",
    );
  });

  it("refuses env that sets a variable the component manages", () => {
    expect(
      () => new TrainingApi("clash", { ...apiArgs, env: { TRAINKIT_KUBERNETES_NAMESPACE: "kube-system" } }),
    ).toThrow(
      "TrainingApi clash: env must not set TRAINKIT_KUBERNETES_NAMESPACE, which this component sets; use the matching argument instead",
    );
  });

  it("admits no ingress by default", async () => {
    await buildApi("closed");
    expect(mocks.one(NETWORK_POLICY, "closed-ingress").inputs.spec).toEqual({
      podSelector: {
        matchLabels: { "app.kubernetes.io/name": "trainkit-api", "app.kubernetes.io/instance": "closed" },
      },
      policyTypes: ["Ingress"],
      ingress: [],
    });
  });

  it("admits ingress on the API port from exactly the namespaces and pods named", async () => {
    await buildApi("open", {
      allowFromNamespaces: ["ci", "notebooks"],
      allowFromPods: { role: "scheduler" },
    });
    expect(mocks.one(NETWORK_POLICY, "open-ingress").inputs.spec.ingress).toEqual([
      {
        from: [
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ci" } } },
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "notebooks" } } },
          { podSelector: { matchLabels: { role: "scheduler" } } },
        ],
        ports: [{ protocol: "TCP", port: 8080 }],
      },
    ]);
  });

  it("serves on a ClusterIP Service and reports its in-cluster URL and namespace", async () => {
    const api = await buildApi("svc", { namespace: "platform" });
    expect(mocks.one(SERVICE, "svc-api").inputs.spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ name: "http", port: 80, targetPort: "http" }],
    });
    expect(mocks.one(NAMESPACE, "svc-ns").inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe(
      "restricted",
    );
    expect(await outputValue(api.url)).toBe("http://svc-api-5f8d2c1a.platform.svc.cluster.local");
    expect(await outputValue(api.namespaceName)).toBe("platform");
  });
});

describe("TrainingPlatform", () => {
  it("makes a jobs namespace with a powerless ServiceAccount, a GPU quota on it, and the API allowed to run jobs there", async () => {
    const platform = new TrainingPlatform("plat", {
      image: "registry.example/trainkit:0.1.0",
      apiKeys: { [API_KEY]: ["team-vision"] },
      kueue: { gpuQuota: 16 },
    });
    await mocks.settle();
    expect(mocks.one(NAMESPACE, "plat-jobs").inputs.metadata).toEqual({
      name: "trainkit-jobs",
      labels: {
        "pod-security.kubernetes.io/enforce": "restricted",
        "app.kubernetes.io/managed-by": "trainkit",
      },
    });
    expect(mocks.one(SERVICE_ACCOUNT, "plat-job-runner").inputs).toMatchObject({
      metadata: { namespace: "trainkit-jobs" },
      automountServiceAccountToken: false,
    });
    expect(mocks.one(ROLE, "plat-api-jobs").inputs.metadata.namespace).toBe("trainkit-jobs");
    expect(mocks.one(LOCAL_QUEUE, "plat-gpu-local-queue").inputs.metadata.namespace).toBe("trainkit-jobs");
    expect(mocks.one(DAEMONSET, "plat-gpu-device-plugin").parentType).toBe("trainkit:kubernetes:GpuSupport");
    const env = envOf("plat-api");
    expect(env.TRAINKIT_KUBERNETES_SERVICE_ACCOUNT!.value).toBe("plat-job-runner-5f8d2c1a");
    expect(await outputValue(platform.apiUrl)).toBe(
      "http://plat-api-api-5f8d2c1a.trainkit.svc.cluster.local",
    );
    expect(await outputValue(platform.jobsNamespaceName)).toBe("trainkit-jobs");
    expect(await outputValue(platform.queueName!)).toBe("gpu");
    expect(await isSecret(platform.apiUrl)).toBe(false);
  });

  it("refuses one namespace for both the API and the jobs", () => {
    expect(
      () =>
        new TrainingPlatform("same", { image: "i", apiKeysJson: "{}", namespace: "ml", jobsNamespace: "ml" }),
    ).toThrow(
      "TrainingPlatform same: jobsNamespace must differ from namespace so that jobs cannot read the API's Secret; got ml for both",
    );
  });

  it("makes no GpuSupport with gpu.enabled false, and still takes the former gpu: false from JavaScript", async () => {
    const off = new TrainingPlatform("gpuoff", {
      image: "i",
      apiKeysJson: "{}",
      jobsNamespace: "off-jobs",
      gpu: { enabled: false },
    });
    const legacy = new TrainingPlatform("gpufalse", {
      image: "i",
      apiKeysJson: "{}",
      jobsNamespace: "false-jobs",
      gpu: false as never,
    });
    await mocks.settle();
    expect(off.gpuSupport).toBeUndefined();
    expect(legacy.gpuSupport).toBeUndefined();
    expect(
      mocks.ofType(DAEMONSET).filter((r) => r.name.startsWith("gpuoff") || r.name.startsWith("gpufalse")),
    ).toEqual([]);
    expect(off.api).toBeInstanceOf(TrainingApi);
  });

  it("passes the installer arguments of gpu on to its GpuSupport", async () => {
    const platform = new TrainingPlatform("gpuop", {
      image: "i",
      apiKeysJson: "{}",
      jobsNamespace: "op-jobs",
      gpu: { installer: "gpu-operator", gpuOperatorVersion: "v24.6.0" },
    });
    await mocks.settle();
    expect(platform.gpuSupport).toBeInstanceOf(GpuSupport);
    expect(mocks.one(RELEASE, "gpuop-gpu-gpu-operator").inputs.version).toBe("v24.6.0");
  });

  it("refuses a Kueue quota without GPU support", () => {
    expect(
      () =>
        new TrainingPlatform("nogpu", {
          image: "i",
          apiKeysJson: "{}",
          gpu: { enabled: false },
          kueue: { gpuQuota: 4 },
        }),
    ).toThrow(/kueue needs GPU support, but gpu.enabled is false/);
  });
});

describe("Kubernetes storage and Pod Security", () => {
  it("puts the embedded database on the StorageClass named, so the claim binds on a cluster without a default", async () => {
    new TrainingApi("gkeapi", {
      ...apiArgs,
      namespace: "gke-api",
      storageClassName: CLOUD_STORAGE_CLASSES.gke,
    });
    await mocks.settle();
    const claim = mocks.resources.find((r) => r.type === PVC && r.name === "gkeapi-data")!;
    expect(claim.inputs.spec.storageClassName).toBe("standard-rwo");
    expect(GKE_STORAGE_CLASS).toBe(CLOUD_STORAGE_CLASSES.gke);
  });

  it("passes the platform's StorageClass to the API's claim", async () => {
    new TrainingPlatform("aks", {
      image: apiArgs.image,
      apiKeys: apiArgs.apiKeys,
      namespace: "aks-api",
      jobsNamespace: "aks-jobs",
      storageClassName: CLOUD_STORAGE_CLASSES.aks,
    });
    await mocks.settle();
    const claim = mocks.resources.find((r) => r.type === PVC && r.name === "aks-api-data")!;
    expect(claim.inputs.spec.storageClassName).toBe("managed-csi");
  });

  it("leaves the claim to the cluster's default StorageClass when none is named", async () => {
    new TrainingApi("defaultsc", { ...apiArgs, namespace: "default-sc" });
    await mocks.settle();
    const claim = mocks.resources.find((r) => r.type === PVC && r.name === "defaultsc-data")!;
    expect(claim.inputs.spec.storageClassName).toBeUndefined();
  });

  it("enforces the restricted Pod Security level on the jobs' namespace by default and baseline when asked", async () => {
    new TrainingPlatform("strict", {
      image: apiArgs.image,
      apiKeys: apiArgs.apiKeys,
      namespace: "s-api",
      jobsNamespace: "s-jobs",
    });
    new TrainingPlatform("stock", {
      image: apiArgs.image,
      apiKeys: apiArgs.apiKeys,
      namespace: "r-api",
      jobsNamespace: "r-jobs",
      jobsPodSecurity: "baseline",
    });
    await mocks.settle();
    const level = (name: string) =>
      mocks.resources.find((r) => r.type === NAMESPACE && r.name === name)!.inputs.metadata.labels[
        "pod-security.kubernetes.io/enforce"
      ];
    expect(level("strict-jobs")).toBe("restricted");
    expect(level("stock-jobs")).toBe("baseline");
  });

  it("refuses a Pod Security level other than restricted or baseline", () => {
    expect(
      () =>
        new TrainingPlatform("priv", {
          image: apiArgs.image,
          apiKeys: apiArgs.apiKeys,
          jobsPodSecurity: "privileged",
        }),
    ).toThrow(
      "TrainingPlatform priv: jobsPodSecurity must be restricted or baseline (baseline admits images that run as root); got privileged",
    );
  });
});
