import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import { gcpSetting } from "./settings";

/**
 * The Google APIs trainkit's GCP components call, by the short name used in `apis` lists. A fresh project
 * has none of them on, so a first `pulumi up` would fail on the first resource of each.
 */
export const GOOGLE_APIS = {
  /** Cloud Run, which serves the Train API. */
  run: "run.googleapis.com",
  /** Secret Manager, which holds the Train API's keys and database URL. */
  secretmanager: "secretmanager.googleapis.com",
  /** IAM, for the service accounts of the Train API and the jobs. */
  iam: "iam.googleapis.com",
  /** Resource Manager, through which project-level IAM bindings are read and written. */
  cloudresourcemanager: "cloudresourcemanager.googleapis.com",
  /** Artifact Registry, which holds the training images. */
  artifactregistry: "artifactregistry.googleapis.com",
  /** Vertex AI, which runs `vertex-ai` jobs. */
  aiplatform: "aiplatform.googleapis.com",
  /** Google Kubernetes Engine, for the GPU cluster. */
  container: "container.googleapis.com",
  /** Compute Engine, for the cluster's network, NAT and machine types. */
  compute: "compute.googleapis.com",
  /** Container Scanning, which scans pushed images for vulnerabilities. */
  containerscanning: "containerscanning.googleapis.com",
} as const;
/** The short name of a Google API in `GOOGLE_APIS`, as `apis` lists take it (`run`, `container`). */
export type GoogleApi = keyof typeof GOOGLE_APIS;

/** Arguments of a `ProjectApis`. */
export interface ProjectApisArgs {
  /** The project to enable the APIs in. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /**
   * The APIs to enable, by short name (`run`, `container`, ...; see `GOOGLE_APIS`). Required; at least one.
   */
  apis: string[];
}

/**
 * Google APIs enabled in a project as resources the stack owns. Each stays on when the stack is destroyed
 * (`disableOnDestroy: false`): another stack or team in the project may use it, and turning an API off
 * deletes what that API holds.
 */
export class ProjectApis extends pulumi.ComponentResource {
  /** One `gcp.projects.Service` per API, by short name. */
  public readonly services: Record<string, gcp.projects.Service>;

  constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:ProjectApis", name, {}, opts);
    const owner = ownerOf(this, "ProjectApis", name);
    const project = gcpSetting(args?.project, "project", "project", owner);
    const known = Object.keys(GOOGLE_APIS);
    if (!Array.isArray(args?.apis) || args.apis.length === 0) {
      throw new ArgumentError(
        `${owner}: apis must name at least one of ${known.join(", ")}; got ${shown(args?.apis)}`,
      );
    }
    this.services = {};
    for (const api of new Set(args.apis)) {
      if (!(api in GOOGLE_APIS)) {
        throw new ArgumentError(`${owner}: apis must hold only ${known.join(", ")}; got ${shown(api)}`);
      }
      this.services[api] = new gcp.projects.Service(
        `${name}-${api}`,
        {
          project,
          service: GOOGLE_APIS[api as GoogleApi],
          disableOnDestroy: false,
          // Turning an API off would also turn off the APIs that need it, in use by others or not.
          disableDependentServices: false,
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}

/** What a component's cloud resources wait for: the APIs it enabled, then whatever it was told to depend on. */
export type ApiDependencies = pulumi.Input<pulumi.Resource>[];

/**
 * Enables `apis` for a component (unless `enable` is false) and returns what its resources must wait for:
 * those APIs, plus the component's own `dependsOn`, which Pulumi does not pass on to a component's children.
 * `TrainingPlatform` enables every API once and hands its `ProjectApis` to its parts that way.
 */
export function apiDependencies(
  component: pulumi.ComponentResource,
  name: string,
  project: pulumi.Input<string>,
  apis: readonly GoogleApi[],
  enable: boolean | undefined,
  opts: pulumi.ComponentResourceOptions | undefined,
): {
  /** The `ProjectApis` created for the component; undefined when `enable` is false or `apis` is empty. */
  apis?: ProjectApis;
  /** The resources the component's cloud resources must list in their `dependsOn`. */
  dependsOn: ApiDependencies;
} {
  const own =
    (enable ?? true) && apis.length > 0
      ? new ProjectApis(`${name}-apis`, { project, apis: [...apis] }, { parent: component })
      : undefined;
  const mine: pulumi.Resource[] = own ? Object.values(own.services) : [];
  const given = opts?.dependsOn;
  if (given === undefined) return { apis: own, dependsOn: mine };
  // The engine flattens nested lists, outputs and promises of resources in `dependsOn` itself.
  return { apis: own, dependsOn: [...mine, given as pulumi.Input<pulumi.Resource>] };
}
