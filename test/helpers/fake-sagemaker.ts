import { FakeCloud, type FakeResponse, type RecordedRequest } from "./fake-cloud";
import { published } from "./published";

export const FAKE_ACCESS_KEY_ID = "AKIAFAKESAGEMAKER001";
export const FAKE_SECRET_ACCESS_KEY = "fake-secret-access-key-for-loopback-tests";

/** An error answer of the AWS JSON 1.1 protocol. */
export function awsError(status: number, type: string, message: string): FakeResponse {
  return {
    status,
    headers: { "x-amzn-errortype": type, "content-type": "application/x-amz-json-1.1" },
    body: JSON.stringify({ __type: type, message }),
  };
}

/**
 * The refusal AWS gives a request not signed with SigV4 by the fake's key for `service` (the
 * credential scope's service name: `sagemaker`, `logs`), or undefined for a well-signed one.
 */
export function unsignedRefusal(req: RecordedRequest, service: string): FakeResponse | undefined {
  const scope = new RegExp(
    `^AWS4-HMAC-SHA256 Credential=${FAKE_ACCESS_KEY_ID}/\\d{8}/[a-z0-9-]+/${service}/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`,
  );
  if (scope.test(req.headers.authorization ?? "")) return undefined;
  return awsError(
    400,
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
  );
}

export interface FakeTrainingJob {
  request: Record<string, unknown>;
  TrainingJobStatus: string;
  SecondaryStatus: string;
  FailureReason?: string;
  CreationTime: number;
  /** Seconds since the epoch, as the SDK's timestamps travel; moved by every change. */
  LastModifiedTime: number;
}

/** The ListTrainingJobs limits of the service model (test/fixtures/published/aws-botocore). */
const LIST_MODEL = published<{ MaxResults: { min: number; max: number } }>(
  "aws-botocore/sagemaker-list-training-jobs.json",
);

const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

/**
 * A loopback stand-in for the SageMaker API (AWS JSON 1.1 over `POST /` with `X-Amz-Target`):
 * CreateTrainingJob (unique names, `ResourceInUse` on a repeat), DescribeTrainingJob,
 * StopTrainingJob, and ListTrainingJobs as the service model describes it (`LastModifiedTimeAfter`,
 * `StatusEquals`, `NameContains`, `MaxResults` of 1 to 100, an opaque `NextToken`, oldest created
 * first). Requests must carry a SigV4 `Authorization` header for the fake's access key.
 */
export class FakeSageMaker {
  readonly jobs = new Map<string, FakeTrainingJob>();

  private constructor(readonly cloud: FakeCloud) {}

  static async start(): Promise<FakeSageMaker> {
    let fake: FakeSageMaker | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeSageMaker(cloud);
    return fake;
  }

  get url(): string {
    return this.cloud.url;
  }

  /** Requests for one SageMaker operation. */
  calls(operation: string): RecordedRequest[] {
    return this.cloud.requests.filter((r) => r.headers["x-amz-target"] === `SageMaker.${operation}`);
  }

  setStatus(name: string, primary: string, secondary: string, failureReason?: string): void {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no training job ${name}`);
    job.TrainingJobStatus = primary;
    job.SecondaryStatus = secondary;
    if (failureReason) job.FailureReason = failureReason;
    job.LastModifiedTime = Date.now() / 1000;
  }

  close(): Promise<void> {
    return this.cloud.close();
  }

  private handle(req: RecordedRequest): FakeResponse {
    const refused = unsignedRefusal(req, "sagemaker");
    if (refused) return refused;
    const body = (req.json ?? {}) as Record<string, unknown>;
    switch (req.headers["x-amz-target"]) {
      case "SageMaker.CreateTrainingJob":
        return this.create(body);
      case "SageMaker.DescribeTrainingJob":
        return this.describe(String(body.TrainingJobName));
      case "SageMaker.StopTrainingJob":
        return this.stop(String(body.TrainingJobName));
      case "SageMaker.ListTrainingJobs":
        return this.list(body);
      default:
        return awsError(400, "UnknownOperationException", `unknown operation ${req.headers["x-amz-target"]}`);
    }
  }

  private create(body: Record<string, unknown>): FakeResponse {
    const name = String(body.TrainingJobName ?? "");
    if (!NAME_PATTERN.test(name)) {
      return awsError(
        400,
        "ValidationException",
        `1 validation error detected: Value '${name}' at 'trainingJobName' failed to satisfy constraint`,
      );
    }
    for (const field of [
      "AlgorithmSpecification",
      "RoleArn",
      "OutputDataConfig",
      "ResourceConfig",
      "StoppingCondition",
    ]) {
      if (body[field] === undefined) return awsError(400, "ValidationException", `${field} is required`);
    }
    if (this.jobs.has(name)) {
      return awsError(
        400,
        "ResourceInUse",
        `Training job names must be unique within an AWS account and region, and a training job with this name already exists (arn:aws:sagemaker:us-east-1:123456789012:training-job/${name})`,
      );
    }
    this.jobs.set(name, {
      request: body,
      TrainingJobStatus: "InProgress",
      SecondaryStatus: "Starting",
      CreationTime: Date.now() / 1000,
      LastModifiedTime: Date.now() / 1000,
    });
    return {
      status: 200,
      body: { TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${name}` },
    };
  }

  private describe(name: string): FakeResponse {
    const job = this.jobs.get(name);
    if (!job) return awsError(400, "ResourceNotFound", "Requested resource not found.");
    return {
      status: 200,
      body: {
        TrainingJobName: name,
        TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${name}`,
        TrainingJobStatus: job.TrainingJobStatus,
        SecondaryStatus: job.SecondaryStatus,
        ...(job.FailureReason ? { FailureReason: job.FailureReason } : {}),
        AlgorithmSpecification: job.request.AlgorithmSpecification,
        ResourceConfig: job.request.ResourceConfig,
        StoppingCondition: job.request.StoppingCondition,
        CreationTime: job.CreationTime,
        ModelArtifacts: { S3ModelArtifacts: "" },
      },
    };
  }

  private stop(name: string): FakeResponse {
    const job = this.jobs.get(name);
    if (!job) return awsError(400, "ResourceNotFound", "Requested resource not found.");
    if (job.TrainingJobStatus !== "InProgress") {
      return awsError(
        400,
        "ValidationException",
        `The request was rejected because the training job is in status ${job.TrainingJobStatus}.`,
      );
    }
    job.TrainingJobStatus = "Stopping";
    job.SecondaryStatus = "Stopping";
    job.LastModifiedTime = Date.now() / 1000;
    return { status: 200, body: {} };
  }

  private list(body: Record<string, unknown>): FakeResponse {
    const max = body.MaxResults === undefined ? LIST_MODEL.MaxResults.max : Number(body.MaxResults);
    if (!Number.isInteger(max) || max < LIST_MODEL.MaxResults.min || max > LIST_MODEL.MaxResults.max) {
      return awsError(
        400,
        "ValidationException",
        `1 validation error detected: Value '${body.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${LIST_MODEL.MaxResults.max}`,
      );
    }
    const after = body.LastModifiedTimeAfter === undefined ? undefined : Number(body.LastModifiedTimeAfter);
    const contains = body.NameContains === undefined ? undefined : String(body.NameContains);
    const all = [...this.jobs.entries()]
      .filter(([, j]) => after === undefined || j.LastModifiedTime > after)
      .filter(([name]) => contains === undefined || name.includes(contains))
      .sort(([, a], [, b]) => a.CreationTime - b.CreationTime);
    const start = body.NextToken ? Number(Buffer.from(String(body.NextToken), "base64").toString()) : 0;
    // As the operation's documentation says: a page of MaxResults is taken first, then StatusEquals filters it.
    const page = all
      .slice(start, start + max)
      .filter(([, j]) => body.StatusEquals === undefined || j.TrainingJobStatus === body.StatusEquals);
    const more = start + max < all.length;
    return {
      status: 200,
      body: {
        TrainingJobSummaries: page.map(([name, j]) => ({
          TrainingJobName: name,
          TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${name}`,
          CreationTime: j.CreationTime,
          LastModifiedTime: j.LastModifiedTime,
          TrainingJobStatus: j.TrainingJobStatus,
          SecondaryStatus: j.SecondaryStatus,
        })),
        ...(more ? { NextToken: Buffer.from(String(start + max)).toString("base64") } : {}),
      },
    };
  }
}
