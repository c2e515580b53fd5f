import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { KUBERNETES_SETTINGS } from "../components/kubernetes";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import * as trainApi from "../components/train-api";

/** Arguments of the Kubernetes {@link TrainingApi}: the common Train API arguments plus where and how it runs. */
export interface TrainingApiArgs extends trainApi.TrainingApiCommonArgs, TrainingApiSettings {
  /** The namespace the API runs in. Defaults to `trainkit`. */
  namespace?: pulumi.Input<string>;
  /** Make the namespace (with the restricted Pod Security level enforced). Defaults to true; false uses an existing one. */
  createNamespace?: boolean;
  /**
   * The namespace jobs run in; the API may create, read and delete Jobs and read pods there and nowhere
   * else. It must exist. Defaults to the API's own namespace.
   */
  jobsNamespace?: pulumi.Input<string>;
  /** The ServiceAccount (in `jobsNamespace`) the jobs' pods run as. Defaults to that namespace's `default`. */
  jobServiceAccount?: pulumi.Input<string>;
  /**
   * The StorageClass of the embedded database's claim (without `databaseUrl`). A cluster without a default
   * StorageClass leaves the claim, and so the Deployment, pending forever: name the cloud's class, e.g.
   * `standard-rwo` on GKE, `managed-csi` on AKS or `gp3` on EKS (see `CLOUD_STORAGE_CLASSES`). Defaults to the
   * cluster's default class. Overridden by `dataVolume.storageClassName`.
   */
  storageClassName?: pulumi.Input<string>;
}

/**
 * The Kubernetes `TrainingApi`'s settings besides its image, keys, namespaces, job ServiceAccount and
 * StorageClass: what a `TrainingPlatform` passes on as `api`.
 */
export interface TrainingApiSettings extends trainApi.TrainingApiServerArgs {
  /** Replicas. Defaults to 1 without `databaseUrl` (which it must then stay at), 2 with it. */
  replicas?: number;
  /**
   * Where the embedded database lives without `databaseUrl`: a PersistentVolumeClaim of `size` (and
   * `storageClassName`), or, with `emptyDir: true`, an emptyDir volume whose state may be lost with the pod.
   * Defaults to a 10Gi claim of the cluster's default storage class. Unused with `databaseUrl`.
   */
  dataVolume?: DataVolumeArgs;
  /** CPU and memory requested (memory is also the limit). Defaults to `{cpu: "250m", memory: "512Mi"}`. */
  resources?: ApiResourcesArgs;
  /**
   * Namespaces whose pods may reach the API. Defaults to none. With neither this nor `allowFromPods`, the
   * NetworkPolicy admits no one (on clusters that enforce NetworkPolicies).
   */
  allowFromNamespaces?: pulumi.Input<string>[];
  /** Labels of pods in the API's namespace that may reach it. Defaults to none. */
  allowFromPods?: Record<string, pulumi.Input<string>>;
  /** The user and group id the container runs as. Defaults to 1000, the `node` user of the repository's image. */
  runAsUser?: number;
}

/** Where a Kubernetes `TrainingApi` keeps its embedded database (`TrainingApiSettings.dataVolume`). */
export interface DataVolumeArgs {
  /**
   * Keep the database in an emptyDir volume, lost with the pod, instead of a PersistentVolumeClaim. Defaults
   * to false. `size` and `storageClassName` must then be left out.
   */
  emptyDir?: boolean;
  /** The claim's requested size, as a Kubernetes quantity. Defaults to `10Gi`. */
  size?: pulumi.Input<string>;
  /** The claim's StorageClass. Defaults to `storageClassName`, else the cluster's default class. */
  storageClassName?: pulumi.Input<string>;
}

/** CPU and memory of the Train API's container (`TrainingApiSettings.resources`). */
export interface ApiResourcesArgs {
  /** CPU requested, as a Kubernetes quantity. Defaults to `250m`; no CPU limit is set. */
  cpu?: pulumi.Input<string>;
  /** Memory requested and allowed, as a Kubernetes quantity. Defaults to `512Mi`. */
  memory?: pulumi.Input<string>;
}

/**
 * The block-storage StorageClass each managed Kubernetes names for ReadWriteOnce claims: GKE's and AKS's are
 * created with the cluster; EKS's `gp3` is the one trainkit's EKS cluster creates, since EKS makes none that
 * uses its EBS CSI driver.
 */
export const CLOUD_STORAGE_CLASSES = {
  /** GKE's Compute Engine persistent disk class. */
  gke: "standard-rwo",
  /** AKS's Azure managed disk class. */
  aks: "managed-csi",
  /** The EBS gp3 class trainkit's EKS cluster creates. */
  eks: "gp3",
} as const;

/** Exactly what the API's Role allows in the jobs' namespace: run Jobs, and read their pods and logs. */
export const API_ROLE_RULES = [
  {
    /** The `batch` API group. */
    apiGroups: ["batch"],
    /** Jobs, which the API creates for each training job and deletes on cancel. */
    resources: ["jobs"],
    /** Everything but update and patch. */
    verbs: ["create", "get", "list", "watch", "delete"],
  },
  {
    /** The core API group. */
    apiGroups: [""],
    /** The Jobs' pods and their logs, which the API reads for status and `GET /v1/jobs/{id}/logs`. */
    resources: ["pods", "pods/log"],
    /** Reading only. */
    verbs: ["get", "list"],
  },
] as const;

const PORT = trainApi.TRAIN_API_PORT;
const DATA_DIR = "/var/lib/trainkit";
const MANAGED_ENV = [
  ...trainApi.SERVER_MANAGED_ENV,
  KUBERNETES_SETTINGS.namespace,
  KUBERNETES_SETTINGS.serviceAccount,
  KUBERNETES_SETTINGS.endpoint,
];

/**
 * The Train API on Kubernetes: a Deployment running as its own ServiceAccount that may only run Jobs in
 * the jobs' namespace, its keys in a Secret, a ClusterIP Service, and a NetworkPolicy admitting only the
 * namespaces and pods named.
 */
export class TrainingApi extends pulumi.ComponentResource {
  /** The API's namespace, Pod Security `restricted` enforced; undefined when `createNamespace` is false. */
  public readonly namespace?: k8s.core.v1.Namespace;
  /** The ServiceAccount the API's pods run as, bound to `role` in the jobs' namespace. */
  public readonly serviceAccount: k8s.core.v1.ServiceAccount;
  /** The Role in the jobs' namespace granting exactly `API_ROLE_RULES` (run Jobs, read their pods and logs). */
  public readonly role: k8s.rbac.v1.Role;
  /** Binds `role` to the API's ServiceAccount. */
  public readonly roleBinding: k8s.rbac.v1.RoleBinding;
  /** The Secret holding the API keys (and `databaseUrl` when set); its data is secret in the state. */
  public readonly secret: k8s.core.v1.Secret;
  /** The embedded database's PersistentVolumeClaim; undefined with `databaseUrl` or `dataVolume.emptyDir`. */
  public readonly dataClaim?: k8s.core.v1.PersistentVolumeClaim;
  /** The Deployment running the Train API image, non-root with a read-only root filesystem. */
  public readonly deployment: k8s.apps.v1.Deployment;
  /** The ClusterIP Service in front of the Deployment, which `url` points at. */
  public readonly service: k8s.core.v1.Service;
  /** The NetworkPolicy admitting only `allowFromNamespaces` and `allowFromPods` to the API's pods. */
  public readonly networkPolicy: k8s.networking.v1.NetworkPolicy;
  /** The API's URL inside the cluster, the `apiUrl` a `TrainingJob` in the cluster sends jobs to. */
  public readonly url: pulumi.Output<string>;
  /** The namespace the API runs in. */
  public readonly namespaceName: pulumi.Output<string>;

  constructor(name: string, args: TrainingApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:kubernetes:TrainingApi", name, {}, opts);
    const owner = ownerOf(this, "TrainingApi", name);
    if (args?.image === undefined)
      throw new ArgumentError(`${owner}: image must be set to the Train API image; got nothing`);
    const apiKeysJson = trainApi.apiKeysJson(owner, args);
    const durable = args.databaseUrl !== undefined;
    const replicas = wholeNumberArg(owner, "replicas", args.replicas, {
      least: 1,
      fallback: durable ? 2 : 1,
    });
    trainApi.requireSingleWriter(owner, "replicas", replicas, durable);
    trainApi.rejectManagedEnv(owner, args.env, MANAGED_ENV);
    const uid = args.runAsUser ?? 1000;
    if (!Number.isInteger(uid) || uid < 1) {
      throw new ArgumentError(
        `${owner}: runAsUser must be a whole number above 0 (not root); got ${shown(uid)}`,
      );
    }
    const parent = { parent: this };
    const labels = { "app.kubernetes.io/name": "trainkit-api", "app.kubernetes.io/instance": name };

    const namespaceName = args.namespace ?? "trainkit";
    if (args.createNamespace ?? true) {
      this.namespace = new k8s.core.v1.Namespace(
        `${name}-ns`,
        {
          metadata: {
            name: namespaceName,
            labels: {
              "pod-security.kubernetes.io/enforce": "restricted",
              "app.kubernetes.io/managed-by": "trainkit",
            },
          },
        },
        parent,
      );
    }
    const ns: pulumi.Input<string> = this.namespace ? this.namespace.metadata.name : namespaceName;
    const jobsNs = args.jobsNamespace ?? ns;
    this.namespaceName = pulumi.output(ns);

    this.serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { namespace: ns, labels } },
      parent,
    );
    this.role = new k8s.rbac.v1.Role(
      `${name}-jobs`,
      {
        metadata: { namespace: jobsNs, labels },
        rules: API_ROLE_RULES.map((r) => ({
          apiGroups: [...r.apiGroups],
          resources: [...r.resources],
          verbs: [...r.verbs],
        })),
      },
      parent,
    );
    this.roleBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-jobs`,
      {
        metadata: { namespace: jobsNs, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: ns }],
      },
      parent,
    );

    this.secret = new k8s.core.v1.Secret(
      `${name}-secrets`,
      {
        metadata: { namespace: ns, labels },
        type: "Opaque",
        stringData: pulumi.secret({
          TRAINKIT_API_KEYS: apiKeysJson,
          ...(durable ? { DATABASE_URL: args.databaseUrl! } : {}),
        }),
      },
      parent,
    );

    const volume = durable ? { emptyDir: true } : dataVolumeArg(owner, args.dataVolume);
    if (!volume.emptyDir) {
      this.dataClaim = new k8s.core.v1.PersistentVolumeClaim(
        `${name}-data`,
        {
          metadata: { namespace: ns, labels },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: volume.size ?? "10Gi" } },
            ...((volume.storageClassName ?? args.storageClassName)
              ? { storageClassName: volume.storageClassName ?? args.storageClassName }
              : {}),
          },
        },
        parent,
      );
    }

    const fromSecret = (key: string) => ({
      name: key,
      valueFrom: { secretKeyRef: { name: this.secret.metadata.name, key } },
    });
    const env = [
      ...trainApi.serverEnv("kubernetes", DATA_DIR),
      { name: KUBERNETES_SETTINGS.namespace, value: jobsNs },
      ...(args.jobServiceAccount
        ? [{ name: KUBERNETES_SETTINGS.serviceAccount, value: args.jobServiceAccount }]
        : []),
      fromSecret("TRAINKIT_API_KEYS"),
      ...(durable ? [fromSecret("DATABASE_URL")] : []),
      ...trainApi.extraEnv(args.env),
    ];
    const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path, port: "http" },
      periodSeconds,
      failureThreshold,
    });
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-api`,
      {
        metadata: { namespace: ns, labels },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          // One embedded database on a ReadWriteOnce claim: the old pod must let go before the new one opens it.
          strategy: durable ? { type: "RollingUpdate" } : { type: "Recreate" },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: this.serviceAccount.metadata.name,
              // The in-cluster kubeconfig of the kubernetes backend is this token.
              automountServiceAccountToken: true,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: uid,
                runAsGroup: uid,
                fsGroup: uid,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "api",
                  image: args.image,
                  ports: [{ name: "http", containerPort: PORT }],
                  env,
                  resources: {
                    requests: {
                      cpu: args.resources?.cpu ?? "250m",
                      memory: args.resources?.memory ?? "512Mi",
                    },
                    limits: { memory: args.resources?.memory ?? "512Mi" },
                  },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  readinessProbe: probe(trainApi.TRAIN_API_READY_PATH, 5, 3),
                  livenessProbe: probe(trainApi.TRAIN_API_LIVE_PATH, 10, 6),
                  volumeMounts: [
                    { name: "data", mountPath: DATA_DIR },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                this.dataClaim
                  ? { name: "data", persistentVolumeClaim: { claimName: this.dataClaim.metadata.name } }
                  : { name: "data", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
      { ...parent, dependsOn: [this.roleBinding] },
    );

    this.service = new k8s.core.v1.Service(
      `${name}-api`,
      {
        metadata: { namespace: ns, labels },
        spec: {
          type: "ClusterIP",
          selector: labels,
          ports: [{ name: "http", port: 80, targetPort: "http" }],
        },
      },
      parent,
    );

    const peers = [
      ...(args.allowFromNamespaces ?? []).map((n) => ({
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": n } },
      })),
      ...(args.allowFromPods ? [{ podSelector: { matchLabels: args.allowFromPods } }] : []),
    ];
    this.networkPolicy = new k8s.networking.v1.NetworkPolicy(
      `${name}-ingress`,
      {
        metadata: { namespace: ns, labels },
        spec: {
          podSelector: { matchLabels: labels },
          policyTypes: ["Ingress"],
          // No peers is no ingress rule at all, which admits no one.
          ingress: peers.length > 0 ? [{ from: peers, ports: [{ protocol: "TCP", port: PORT }] }] : [],
        },
      },
      parent,
    );

    this.url = pulumi.interpolate`http://${this.service.metadata.name}.${ns}.svc.cluster.local`;
    this.registerOutputs({ url: this.url, namespace: this.namespaceName });
  }
}

/**
 * `dataVolume` as given, or `{}` when left out. The string `"emptyDir"`, which the argument's type took
 * before it became an object, is still accepted from JavaScript as `{ emptyDir: true }`.
 */
function dataVolumeArg(owner: string, given: DataVolumeArgs | undefined): DataVolumeArgs {
  if (given === undefined) return {};
  if ((given as unknown) === "emptyDir") return { emptyDir: true };
  if (typeof given !== "object" || given === null) {
    throw new ArgumentError(
      `${owner}: dataVolume must be an object such as { size: "20Gi" } or { emptyDir: true }; got ${shown(given)}`,
    );
  }
  if (given.emptyDir && (given.size !== undefined || given.storageClassName !== undefined)) {
    throw new ArgumentError(
      `${owner}: dataVolume.size and dataVolume.storageClassName describe a claim, which emptyDir: true leaves out; drop them or emptyDir`,
    );
  }
  return given;
}
