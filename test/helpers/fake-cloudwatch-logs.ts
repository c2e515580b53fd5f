import { FakeCloud, type FakeResponse, type RecordedRequest } from "./fake-cloud";
import { awsError, unsignedRefusal } from "./fake-sagemaker";

const TARGET_PREFIX = "Logs_20140328.";

interface FakeEvent {
  timestamp: number;
  message: string;
  /** Order of arrival, which breaks ties between events of the same millisecond. */
  seq: number;
}

/**
 * A loopback stand-in for CloudWatch Logs (AWS JSON 1.1 over `POST /` with `X-Amz-Target`), answering
 * DescribeLogStreams, GetLogEvents and FilterLogEvents in the shapes and limits of the published
 * service model (test/fixtures/published/aws-botocore/cloudwatch-logs-read-events.json): a prefix
 * filter, `limit` checked against `DescribeLimit`/`EventsLimit`, tokens that come back unchanged at a
 * stream's end. Pages hold at most `pageSize` events, standing in for the service's 1 MB pages.
 * Requests must carry a SigV4 `Authorization` header for the fake's access key. It proves how the
 * backend reads a training job's log, not how CloudWatch Logs behaves.
 */
export class FakeCloudWatchLogs {
  /** Streams of the log group, by name; events oldest first. */
  readonly streams = new Map<string, FakeEvent[]>();
  /** Log groups that exist; `/aws/sagemaker/TrainingJobs` once a stream was written to it. */
  readonly groups = new Set<string>();
  /** The most events one page holds, whatever `limit` asks. */
  pageSize = 10_000;
  private seq = 0;

  private constructor(readonly cloud: FakeCloud) {}

  static async start(): Promise<FakeCloudWatchLogs> {
    let fake: FakeCloudWatchLogs | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeCloudWatchLogs(cloud);
    return fake;
  }

  get url(): string {
    return this.cloud.url;
  }

  /** Requests for one CloudWatch Logs operation. */
  calls(operation: string): RecordedRequest[] {
    return this.cloud.requests.filter((r) => r.headers["x-amz-target"] === `${TARGET_PREFIX}${operation}`);
  }

  /** Writes one event to a stream of the group, as the instance's log agent would. */
  log(group: string, stream: string, message: string, timestamp: number): void {
    this.groups.add(group);
    const key = `${group}\u0000${stream}`;
    const events = this.streams.get(key) ?? [];
    events.push({ timestamp, message, seq: this.seq++ });
    events.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
    this.streams.set(key, events);
  }

  close(): Promise<void> {
    return this.cloud.close();
  }

  private handle(req: RecordedRequest): FakeResponse {
    const refused = unsignedRefusal(req, "logs");
    if (refused) return refused;
    const body = (req.json ?? {}) as Record<string, unknown>;
    const group = String(body.logGroupName ?? "");
    if (!this.groups.has(group)) {
      return awsError(400, "ResourceNotFoundException", "The specified log group does not exist.");
    }
    switch (req.headers["x-amz-target"]) {
      case `${TARGET_PREFIX}DescribeLogStreams`:
        return this.describeStreams(group, body);
      case `${TARGET_PREFIX}GetLogEvents`:
        return this.getEvents(group, body);
      case `${TARGET_PREFIX}FilterLogEvents`:
        return this.filterEvents(group, body);
      default:
        return awsError(400, "UnknownOperationException", `unknown operation ${req.headers["x-amz-target"]}`);
    }
  }

  private streamNames(group: string, prefix: string): string[] {
    return [...this.streams.keys()]
      .filter((k) => k.startsWith(`${group}\u0000${prefix}`))
      .map((k) => k.slice(group.length + 1))
      .sort();
  }

  private describeStreams(group: string, body: Record<string, unknown>): FakeResponse {
    const limit = (body.limit as number | undefined) ?? 50;
    if (limit < 1 || limit > 50) return invalid("limit", "DescribeLimit is 1 to 50");
    const names = this.streamNames(group, String(body.logStreamNamePrefix ?? ""));
    const from = Number(body.nextToken ?? 0);
    const page = names.slice(from, from + limit);
    return {
      status: 200,
      body: {
        logStreams: page.map((logStreamName) => ({ logStreamName, creationTime: 0 })),
        ...(from + limit < names.length ? { nextToken: String(from + limit) } : {}),
      },
    };
  }

  private getEvents(group: string, body: Record<string, unknown>): FakeResponse {
    const limit = (body.limit as number | undefined) ?? 10_000;
    if (limit < 1 || limit > 10_000) return invalid("limit", "EventsLimit is 1 to 10000");
    const events = this.streams.get(`${group}\u0000${String(body.logStreamName)}`);
    if (!events)
      return awsError(400, "ResourceNotFoundException", "The specified log stream does not exist.");
    const size = Math.min(limit, this.pageSize);
    const token = body.nextToken as string | undefined;
    if (body.startFromHead === true) {
      const from = token ? Number(token.slice(2)) : 0;
      const to = Math.min(events.length, from + size);
      return page(events.slice(from, to), `f/${to}`, `b/${from}`);
    }
    // Latest first: the page is the `size` events before the token's place, oldest first within it.
    const to = token ? Number(token.slice(2)) : events.length;
    const from = Math.max(0, to - size);
    return page(events.slice(from, to), `f/${to}`, `b/${from}`);
  }

  private filterEvents(group: string, body: Record<string, unknown>): FakeResponse {
    if (body.logStreamNames !== undefined && body.logStreamNamePrefix !== undefined) {
      return invalid("logStreamNames", "logStreamNames and logStreamNamePrefix cannot both be given");
    }
    const limit = (body.limit as number | undefined) ?? 10_000;
    if (limit < 1 || limit > 10_000) return invalid("limit", "EventsLimit is 1 to 10000");
    const start = (body.startTime as number | undefined) ?? 0;
    const all = this.streamNames(group, String(body.logStreamNamePrefix ?? ""))
      .flatMap((logStreamName) =>
        this.streams.get(`${group}\u0000${logStreamName}`)!.map((e) => ({ ...e, logStreamName })),
      )
      .filter((e) => e.timestamp >= start)
      .sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
    const from = Number(body.nextToken ?? 0);
    const to = Math.min(all.length, from + Math.min(limit, this.pageSize));
    return {
      status: 200,
      body: {
        events: all.slice(from, to).map((e) => ({
          logStreamName: e.logStreamName,
          timestamp: e.timestamp,
          message: e.message,
          ingestionTime: e.timestamp,
          eventId: String(e.seq).padStart(56, "0"),
        })),
        ...(to < all.length ? { nextToken: String(to) } : {}),
      },
    };
  }
}

function page(events: FakeEvent[], nextForwardToken: string, nextBackwardToken: string): FakeResponse {
  return {
    status: 200,
    body: {
      events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.timestamp })),
      nextForwardToken,
      nextBackwardToken,
    },
  };
}

function invalid(field: string, why: string): FakeResponse {
  return awsError(400, "InvalidParameterException", `1 validation error detected: ${field}: ${why}`);
}
