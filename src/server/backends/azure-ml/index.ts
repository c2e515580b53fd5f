import { AzureMachineLearningWorkspaces, type JobBase } from "@azure/arm-machinelearning";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { isTerminal } from "../../../spec";
import {
  type CloudRetryOptions,
  checkEndpoint,
  classifyCloudFailure,
  cloudError,
  DEFAULT_CLOUD_RETRY,
  DEFAULT_MIN_POLL_INTERVAL_SECONDS,
  lastKnownStatus,
  MIN_POLL_INTERVAL_SETTING,
  messageOf,
  minPollIntervalMs,
  PollGate,
  readCloudSettings,
} from "../cloud-common";
import {
  type Backend,
  type BackendContext,
  BackendError,
  type BackendFactory,
  type BackendJob,
  type PollResult,
  type SubmitResult,
} from "../types";
import {
  type AzureMlSettings,
  azureJobName,
  ENVIRONMENT_VERSION,
  environmentId,
  environmentName,
  statusOfAzureJob,
  toCommandJob,
  toEnvironmentVersion,
  workspaceId,
} from "./translate";

export {
  AZURE_STATUS_TO_STATUS,
  type AzureMlSettings,
  azureJobName,
  environmentName,
  JOB_ID_TAG,
  mountBindingName,
  statusOfAzureJob,
  toCommandJob,
  toEnvironmentVersion,
} from "./translate";

const CLOUD = "Azure ML";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARM_SCOPE = "https://management.azure.com/.default";
/**
 * The SDK's default API version (2022-10-01) predates serverless compute; the command-job body this
 * backend sends is the same in this later GA version, which also accepts jobs without a computeId.
 */
export const AZURE_ML_API_VERSION = "2024-04-01";

export interface AzureMlBackendOptions {
  retry?: CloudRetryOptions;
  /** The credential; defaults to `DefaultAzureCredential`. */
  credential?: TokenCredential;
  /** Extra CA certificates the ARM client trusts (a TLS-inspecting proxy, a test endpoint). */
  tlsCa?: string;
  /**
   * Least time between two reads of one job's native state; polls in between report the stored
   * status. Defaults to `DEFAULT_MIN_POLL_INTERVAL_SECONDS` (30 s); the factory reads
   * `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS`.
   */
  minPollIntervalMs?: number;
}

/**
 * Runs jobs as Azure ML command jobs through `@azure/arm-machinelearning`, authenticated by
 * `@azure/identity` (`DefaultAzureCredential`: environment, workload identity, managed identity,
 * Azure CLI). Throttling (429 with Retry-After), 5xx answers and dropped connections are retried by
 * the Azure core pipeline's retry policy, configured here.
 */
export class AzureMlBackend implements Backend<"azure-ml"> {
  readonly name = "azure-ml" as const;
  private readonly client: AzureMachineLearningWorkspaces;
  private readonly host: string;
  private readonly gate: PollGate;

  constructor(
    readonly settings: AzureMlSettings,
    private readonly ctx: BackendContext,
    options: AzureMlBackendOptions = {},
  ) {
    const retry = { ...DEFAULT_CLOUD_RETRY, ...options.retry };
    this.gate = new PollGate(options.minPollIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000);
    const endpoint = settings.endpoint?.replace(/\/+$/, "");
    this.host = endpoint ?? "https://management.azure.com";
    this.client = new AzureMachineLearningWorkspaces(
      options.credential ?? new DefaultAzureCredential(),
      settings.subscriptionId,
      {
        apiVersion: AZURE_ML_API_VERSION,
        ...(endpoint ? { endpoint, $host: endpoint } : {}),
        // Tokens are for Azure Resource Manager whatever host serves it, not for the endpoint's URL.
        credentialScopes: [ARM_SCOPE],
        retryOptions: {
          maxRetries: retry.maxAttempts - 1,
          retryDelayInMs: retry.initialDelayMs,
          maxRetryDelayInMs: retry.maxDelayMs,
        },
        ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
      },
    );
  }

  async submit(job: BackendJob<"azure-ml">): Promise<SubmitResult> {
    const { resourceGroup, workspace } = this.settings;
    const image = job.request.job_config.environment.image;
    const env = await this.arm("environmentVersions.createOrUpdate", () =>
      this.client.environmentVersions.createOrUpdate(
        resourceGroup,
        workspace,
        environmentName(image),
        ENVIRONMENT_VERSION,
        toEnvironmentVersion(image),
      ),
    );
    const name = azureJobName(job.id, job.request.name);
    const body = toCommandJob(
      job.id,
      job.request,
      this.settings,
      env.id ?? environmentId(this.settings, image),
    );
    let created: JobBase;
    try {
      created = await this.putJob(name, body);
    } catch (err) {
      // The PUT is idempotent for identical bodies; a conflict means the job exists and has moved
      // on, which only an earlier submit of this same job (same derived name) can have caused.
      if (!(err instanceof BackendError && err.status === 409)) throw err;
      created = await this.getJob(name);
      this.ctx.log.info({ jobId: job.id, azureJob: name }, "adopted existing Azure ML job");
    }
    const { status } = statusOfAzureJob(created, null);
    return {
      cloudJobIdentifier: { job_name: name },
      backendState: { jobName: name, lastStatus: status },
      status,
    };
  }

  async poll(job: BackendJob<"azure-ml">): Promise<PollResult> {
    if (!this.gate.shouldRead(job.id)) return { status: lastKnownStatus(job.backendState) };
    const name = this.jobNameOf(job);
    const { status, result } = statusOfAzureJob(await this.getJob(name), job.backendState);
    if (isTerminal(status)) this.gate.forget(job.id);
    return { status, ...(result ? { result } : {}), backendState: { jobName: name, lastStatus: status } };
  }

  async cancel(job: BackendJob<"azure-ml">): Promise<void> {
    const name = this.jobNameOf(job);
    this.gate.forget(job.id);
    try {
      // Only the cancel request is sent; poll follows the job to Canceled.
      await this.arm("jobs.beginCancel", () =>
        this.client.jobs.beginCancel(this.settings.resourceGroup, this.settings.workspace, name),
      );
    } catch (err) {
      // A job that already ended cannot be canceled: there is nothing left to stop.
      if (err instanceof BackendError && (err.status === 400 || err.status === 409)) {
        const { status } = statusOfAzureJob(await this.getJob(name), null);
        if (["COMPLETED", "FAILED", "CANCELED", "EXPIRED"].includes(status)) return;
      }
      throw err;
    }
  }

  private jobNameOf(job: BackendJob<"azure-ml">): string {
    const name = job.backendState?.jobName ?? job.cloudJobIdentifier?.job_name;
    return typeof name === "string" ? name : azureJobName(job.id, job.request.name);
  }

  /**
   * The job PUT (jobs.createOrUpdate) sent through the client's own pipeline (credential, retry
   * policy, TLS settings) with the body exactly as the REST API defines it. The SDK's operation
   * cannot be used for it: version 2.1.1 serializes `inputs`/`outputs` through the JobInput base
   * mapper (its discriminator table files `uri_folder` under AssetJobInput only), which drops each
   * mount's `uri` and `mode`.
   */
  private async putJob(name: string, body: JobBase): Promise<JobBase> {
    const url = `${this.host}${workspaceId(this.settings)}/jobs/${encodeURIComponent(name)}?api-version=${AZURE_ML_API_VERSION}`;
    const response = await this.arm("jobs.createOrUpdate", () =>
      this.client.sendRequest(
        createPipelineRequest({
          url,
          method: "PUT",
          body: JSON.stringify(body),
          headers: createHttpHeaders({ "content-type": "application/json", accept: "application/json" }),
        }),
      ),
    );
    let parsed: unknown;
    try {
      parsed = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status === 200 || response.status === 201) return parsed as JobBase;
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw toBackendError("jobs.createOrUpdate", {
      statusCode: response.status,
      ...(error?.code ? { code: error.code } : {}),
      message: error?.message ?? (response.bodyAsText || `HTTP ${response.status}`),
    });
  }

  private getJob(name: string): Promise<JobBase> {
    return this.arm("jobs.get", () =>
      this.client.jobs.get(this.settings.resourceGroup, this.settings.workspace, name),
    );
  }

  private async arm<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toBackendError(action, err);
    }
  }
}

const CREDENTIAL_ERRORS = new Set([
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
  "AuthenticationError",
]);

/** A `RestError` (ARM's `{error: {code, message}}`) or an identity failure as a `BackendError`. */
function toBackendError(action: string, err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  const e = err as { name?: string; statusCode?: number; code?: string; message?: string };
  if (e.name && CREDENTIAL_ERRORS.has(e.name)) {
    return new BackendError(
      503,
      "cloud_credentials_unavailable",
      `${CLOUD} credentials could not be obtained: ${messageOf(err)}; provide them to DefaultAzureCredential (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload or managed identity, or az login)`,
    );
  }
  const failure = {
    ...(e.statusCode !== undefined ? { status: e.statusCode } : {}),
    ...(e.code && e.statusCode !== undefined ? { code: e.code } : {}),
    message: e.message ?? messageOf(err),
  };
  // ARM answers some quota refusals with a generic code and the word in the message only.
  if (classifyCloudFailure(failure.status, failure.code) === "invalid" && /quota/i.test(failure.message)) {
    return cloudError(CLOUD, action, { ...failure, code: "QuotaExceeded" });
  }
  return cloudError(CLOUD, action, failure);
}

/**
 * The `azure-ml` backend. Needs `TRAINKIT_AZUREML_SUBSCRIPTION_ID`, `TRAINKIT_AZUREML_RESOURCE_GROUP`
 * and `TRAINKIT_AZUREML_WORKSPACE`; reads `TRAINKIT_AZUREML_ENDPOINT` and
 * `TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID` (the identity jobs run as).
 */
export const azureMlBackend: BackendFactory<"azure-ml"> = (env, ctx) => {
  const read = readCloudSettings(env, [
    {
      name: "TRAINKIT_AZUREML_SUBSCRIPTION_ID",
      required: true,
      check: (v) =>
        GUID.test(v)
          ? undefined
          : "must be a subscription id (a GUID such as 00000000-1111-2222-3333-444444444444)",
    },
    { name: "TRAINKIT_AZUREML_RESOURCE_GROUP", required: true },
    { name: "TRAINKIT_AZUREML_WORKSPACE", required: true },
    { name: "TRAINKIT_AZUREML_ENDPOINT", required: false, check: checkEndpoint },
    {
      name: "TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID",
      required: false,
      check: (v) =>
        GUID.test(v)
          ? undefined
          : "must be the client id (a GUID) of the user-assigned managed identity jobs run as, attached to the workspace and its compute clusters",
    },
    MIN_POLL_INTERVAL_SETTING,
  ]);
  if ("missing" in read) return read;
  const v = read.values;
  return {
    backend: new AzureMlBackend(
      {
        subscriptionId: v.TRAINKIT_AZUREML_SUBSCRIPTION_ID!,
        resourceGroup: v.TRAINKIT_AZUREML_RESOURCE_GROUP!,
        workspace: v.TRAINKIT_AZUREML_WORKSPACE!,
        ...(v.TRAINKIT_AZUREML_ENDPOINT ? { endpoint: v.TRAINKIT_AZUREML_ENDPOINT } : {}),
        ...(v.TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID
          ? { jobIdentityClientId: v.TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID }
          : {}),
      },
      ctx,
      { minPollIntervalMs: minPollIntervalMs(v.TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS) },
    ),
  };
};
