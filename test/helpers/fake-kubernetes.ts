import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import type http from "node:http";
import { join } from "node:path";
import { FakeCloud, type FakeResponse, type RecordedRequest, selfSignedCertificate } from "./fake-cloud";
import { published } from "./published";

/** The field selectors Pods support and the operators field selectors take, as documented. */
const POD_FIELD_SELECTORS = published<{ fieldSelectors: { podFields: string[]; operators: string[] } }>(
  "kubernetes/pod-list.json",
).fieldSelectors;

export const FAKE_KUBE_TOKEN = "fake-kube-token-for-loopback-tests";

/** A `Status` failure as the API server answers it. */
export function kubeStatus(code: number, reason: string, message: string): FakeResponse {
  return {
    status: code,
    body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code },
  };
}

type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; namespace: string };
};

/** One change to a Job, as a watch delivers it. */
interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: Obj;
  resourceVersion: number;
}

/** One requirement of a label selector: `key=value` (or `==`), `key!=value`, `key`, `!key`. */
interface LabelTerm {
  key: string;
  op: "=" | "!=" | "exists" | "!exists";
  value?: string;
}

/** An open watch: its namespace, label terms and response stream. */
interface OpenWatch {
  namespace: string;
  terms: LabelTerm[];
  res: http.ServerResponse;
}

/** A time as the kubelet writes it with `timestamps=true`: RFC3339Nano, whose fraction drops trailing zeros. */
export function rfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.?0+Z$/, "Z");
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A loopback stand-in for the few kube-apiserver endpoints the `kubernetes` backend uses: create,
 * read, list (by label selector, paged with `limit`/`continue`), watch and delete batch/v1 Jobs,
 * list pods (by label selector and `status.phase` field selector, paged the same way), read a
 * pod's log. Label selectors take `key=value`, `key!=value`, `key` and `!key` terms joined by
 * commas; a pod field selector takes `=`, `==` and `!=` terms on the fields the documentation
 * lists (test/fixtures/published/kubernetes/pod-list.json), of which it evaluates `status.phase`,
 * `metadata.name` and `metadata.namespace`, and refuses any other field with 400 BadRequest as
 * the API server does. It checks the bearer token, refuses a second Job of one name with 409
 * AlreadyExists, and lets a test set a Job's status and its pods as the Job controller and
 * kubelet would.
 *
 * Watches follow the API concepts (test/fixtures/published/kubernetes/watch.json): every change
 * gets the next `resourceVersion`; a list answers the version it is current at; `?watch=true` from
 * a version streams each later change as one JSON line `{type, object}` and stays open; a version
 * older than the history kept (`compact`) is answered with an ERROR event holding a 410 `Status`,
 * and the stream ends.
 */
export class FakeKubernetes {
  readonly jobs = new Map<string, Obj>();
  readonly pods = new Map<string, Obj>();
  /** Each pod's log lines with the time the kubelet recorded for each (RFC3339Nano, trailing zeros dropped). */
  readonly logs = new Map<string, { time: string; text: string }[]>();
  /** How many Job lists (pages) were answered. */
  jobLists = 0;
  /** How many pod lists (pages) were answered, one job's or a namespace's. */
  podLists = 0;
  private readonly continueTokens = new Set<string>();
  private resourceVersion = 1;
  private readonly history: WatchEvent[] = [];
  /** The oldest resourceVersion a watch may start from; older ones are answered 410. */
  private oldestWatchable = 1;
  private readonly watches = new Set<OpenWatch>();

  private constructor(
    readonly server: FakeCloud,
    /** The PEM certificate the server presents, which the kubeconfig names as its authority. */
    readonly ca: string,
  ) {}

  /** Starts on an ephemeral loopback port, over HTTPS as API servers are, with a certificate made for this run. */
  static async start(): Promise<FakeKubernetes> {
    let fake: FakeKubernetes | undefined;
    const tls = selfSignedCertificate();
    const server = await FakeCloud.start((req) => fake!.handle(req), tls);
    fake = new FakeKubernetes(server, tls.cert);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }

  /** Writes a kubeconfig whose current context reaches this server with the fake's token. */
  writeKubeconfig(dir: string, server = this.url): string {
    const file = join(dir, "kubeconfig.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${server}`,
        `    certificate-authority-data: ${Buffer.from(this.ca).toString("base64")}`,
        "users:",
        "- name: trainkit",
        "  user:",
        `    token: ${FAKE_KUBE_TOKEN}`,
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: trainkit",
        "current-context: fake",
        "",
      ].join("\n"),
    );
    return file;
  }

  job(namespace: string, name: string): Obj | undefined {
    return this.jobs.get(`${namespace}/${name}`);
  }

  /** Sets the Job's `status` (and `spec.suspend` when given) as the Job controller or Kueue would. */
  setJobStatus(namespace: string, name: string, status: Record<string, unknown>, suspend?: boolean): void {
    const job = this.job(namespace, name);
    if (!job) throw new Error(`no Job ${namespace}/${name}`);
    job.status = status;
    if (suspend !== undefined) (job.spec as Record<string, unknown>).suspend = suspend;
    this.changed("MODIFIED", job);
  }

  /** Watches open now. */
  get openWatches(): number {
    return this.watches.size;
  }

  /** Watch requests received (`?watch=true`). */
  watchRequests(): RecordedRequest[] {
    return this.server
      .received("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs$/)
      .filter((r) => r.query.get("watch") === "true");
  }

  /** Forgets the change history, as etcd compaction does: a watch from an older version gets 410. */
  compact(): void {
    this.history.length = 0;
    this.oldestWatchable = this.resourceVersion;
  }

  /** Ends every open watch as the API server does when a watch's timeout runs out. */
  endWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  /**
   * Sends every open watch an ERROR event holding a 410 Expired `Status` and ends it, as the API
   * server does when a watcher falls too far behind.
   */
  expireWatches(): void {
    for (const w of this.watches) {
      w.res.end(`${JSON.stringify({ type: "ERROR", object: expired() })}\n`);
    }
    this.watches.clear();
    this.compact();
  }

  /** Records a change to a Job and sends it to the watches it matches. */
  private changed(type: WatchEvent["type"], job: Obj): void {
    this.resourceVersion += 1;
    job.metadata.resourceVersion = String(this.resourceVersion);
    const event = { type, object: structuredClone(job), resourceVersion: this.resourceVersion };
    this.history.push(event);
    for (const w of this.watches) if (matches(w.namespace, w.terms, job)) write(w.res, event);
  }

  /** A watch of a namespace's Jobs from `resourceVersion` (the query's; now when absent or "0"). */
  private watchJobs(namespace: string, query: URLSearchParams): FakeResponse {
    const terms = selectorTerms(query.get("labelSelector"));
    const from = Number(query.get("resourceVersion") || "0") || this.resourceVersion;
    const headers = { "content-type": "application/json", "transfer-encoding": "chunked" };
    if (from < this.oldestWatchable) {
      return {
        status: 200,
        headers,
        stream: (res) => res.end(`${JSON.stringify({ type: "ERROR", object: expired() })}\n`),
      };
    }
    return {
      status: 200,
      headers,
      stream: (res) => {
        for (const e of this.history)
          if (e.resourceVersion > from && matches(namespace, terms, e.object)) write(res, e);
        const open = { namespace, terms, res };
        this.watches.add(open);
        res.on("close", () => this.watches.delete(open));
      },
    };
  }

  /** Adds a pod carrying the job-id label, with the given status and optional log. */
  addPod(
    namespace: string,
    jobId: string,
    name: string,
    status: Record<string, unknown>,
    log?: string,
  ): void {
    this.pods.set(`${namespace}/${name}`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        labels: { "trainkit.dev/job-id": jobId },
        creationTimestamp: new Date(Date.now() + this.pods.size * 1000).toISOString(),
      },
      status,
    });
    if (log !== undefined) this.appendLog(namespace, name, log);
  }

  /** Adds lines to a pod's log, each recorded at `time` (default: now) as the kubelet would. */
  appendLog(namespace: string, pod: string, text: string, time: string = rfc3339Nano(new Date())): void {
    const lines = this.logs.get(`${namespace}/${pod}`) ?? [];
    for (const line of text.replace(/\n$/, "").split("\n")) lines.push({ time, text: line });
    this.logs.set(`${namespace}/${pod}`, lines);
  }

  /** Removes a Job as someone else (kubectl, the TTL controller) would. */
  removeJob(namespace: string, name: string): void {
    const job = this.jobs.get(`${namespace}/${name}`);
    this.jobs.delete(`${namespace}/${name}`);
    if (job) this.changed("DELETED", job);
  }

  requestsFor(method: string, path: RegExp): RecordedRequest[] {
    return this.server.received(method, path);
  }

  close(): Promise<void> {
    this.endWatches();
    return this.server.close();
  }

  private handle(req: RecordedRequest): FakeResponse {
    if (req.headers.authorization !== `Bearer ${FAKE_KUBE_TOKEN}`) {
      return kubeStatus(401, "Unauthorized", "Unauthorized");
    }
    let m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(req.path);
    if (m) {
      const [, namespace, name] = m as unknown as [string, string, string | undefined];
      if (req.method === "POST" && !name) return this.createJob(namespace, req.json as Obj);
      if (req.method === "GET" && name) return this.readJob(namespace, name);
      if (req.method === "GET" && !name && req.query.get("watch") === "true")
        return this.watchJobs(namespace, req.query);
      if (req.method === "GET" && !name) return this.listJobs(namespace, req.query);
      if (req.method === "DELETE" && name) return this.deleteJob(namespace, name);
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(req.path);
    if (m && req.method === "GET") return this.listPods(m[1]!, req.query);
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(req.path);
    if (m && req.method === "GET") {
      const log = this.logs.get(`${m[1]}/${m[2]}`);
      if (log === undefined) return kubeStatus(404, "NotFound", `pods "${m[2]}" not found`);
      const tail = Number(req.query.get("tailLines") ?? "0");
      const since = Number(req.query.get("sinceSeconds") ?? "0");
      const from = since > 0 ? Date.now() - since * 1000 : -Infinity;
      const recent = log.filter((l) => Date.parse(l.time) >= from);
      const withTimes = req.query.get("timestamps") === "true";
      const kept = (tail > 0 ? recent.slice(-tail) : recent).map((l) =>
        withTimes ? `${l.time} ${l.text}` : l.text,
      );
      if (kept.length === 0) return { status: 200, headers: { "content-type": "text/plain" }, body: "" };
      return { status: 200, headers: { "content-type": "text/plain" }, body: `${kept.join("\n")}\n` };
    }
    return kubeStatus(
      404,
      "NotFound",
      `the server could not find the requested resource (${req.method} ${req.path})`,
    );
  }

  private createJob(namespace: string, body: Obj | undefined): FakeResponse {
    const name = body?.metadata?.name ?? "";
    if (!DNS_LABEL.test(name) || name.length > 63) {
      return kubeStatus(
        422,
        "Invalid",
        `Job.batch "${name}" is invalid: metadata.name: Invalid value: "${name}": must be no more than 63 characters and a lowercase RFC 1123 label`,
      );
    }
    if (body!.metadata.namespace !== undefined && body!.metadata.namespace !== namespace) {
      return kubeStatus(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    const key = `${namespace}/${name}`;
    if (this.jobs.has(key)) return kubeStatus(409, "AlreadyExists", `jobs.batch "${name}" already exists`);
    const stored: Obj = {
      ...structuredClone(body!),
      metadata: {
        ...structuredClone(body!.metadata),
        namespace,
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString(),
      },
      status: {},
    };
    this.jobs.set(key, stored);
    this.changed("ADDED", stored);
    return { status: 201, body: stored };
  }

  /**
   * Lists a namespace's Jobs matching `labelSelector` (`key=value` terms joined by commas), at most
   * `limit` a page, in name order as the API server keeps them; `metadata.continue` names where the
   * next page starts and is empty on the last. An unknown `continue` is refused with 410 Expired.
   */
  private listJobs(namespace: string, query: URLSearchParams): FakeResponse {
    this.jobLists += 1;
    const terms = selectorTerms(query.get("labelSelector"));
    const items = [...this.jobs.values()].filter((j) => matches(namespace, terms, j));
    return this.listPage("JobList", "batch/v1", items, query);
  }

  /**
   * One page of a list, in name order as the API server keeps objects: at most `limit` items;
   * `metadata.continue` names where the next page starts and is empty on the last. An unknown
   * `continue` is refused with 410 Expired.
   */
  private listPage(kind: string, apiVersion: string, all: Obj[], query: URLSearchParams): FakeResponse {
    const items = [...all].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const token = query.get("continue");
    let start = 0;
    if (token) {
      start = items.findIndex((j) => j.metadata.name > Buffer.from(token, "base64url").toString());
      if (!this.continueTokens.has(token))
        return kubeStatus(410, "Expired", "The provided continue parameter is too old");
      if (start < 0) start = items.length;
    }
    const limit = Number(query.get("limit") ?? "0");
    const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
    const more = limit > 0 && start + limit < items.length;
    const next = more ? Buffer.from(page.at(-1)!.metadata.name).toString("base64url") : "";
    if (next) this.continueTokens.add(next);
    return {
      status: 200,
      body: {
        kind,
        apiVersion,
        metadata: { continue: next, resourceVersion: String(this.resourceVersion) },
        items: page,
      },
    };
  }

  private readJob(namespace: string, name: string): FakeResponse {
    const job = this.jobs.get(`${namespace}/${name}`);
    if (!job) return kubeStatus(404, "NotFound", `jobs.batch "${name}" not found`);
    return { status: 200, body: job };
  }

  private deleteJob(namespace: string, name: string): FakeResponse {
    const job = this.jobs.get(`${namespace}/${name}`);
    if (!job) return kubeStatus(404, "NotFound", `jobs.batch "${name}" not found`);
    this.jobs.delete(`${namespace}/${name}`);
    this.changed("DELETED", job);
    return {
      status: 200,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: "batch", kind: "jobs", uid: job.metadata.uid },
      },
    };
  }

  /** Lists a namespace's pods matching `labelSelector` and `fieldSelector`, paged like Jobs. */
  private listPods(namespace: string, query: URLSearchParams): FakeResponse {
    this.podLists += 1;
    const labels = selectorTerms(query.get("labelSelector"));
    const fieldSelector = query.get("fieldSelector") ?? "";
    const fields = fieldTerms(fieldSelector);
    if ("unknown" in fields) {
      return kubeStatus(
        400,
        "BadRequest",
        `Unable to find "pods" that match label selector "${query.get("labelSelector") ?? ""}", field selector "${fieldSelector}": "${fields.unknown}" is not a known field selector: only ${POD_FIELD_SELECTORS.podFields.map((f) => `"${f}"`).join(", ")}`,
      );
    }
    const items = [...this.pods.values()].filter(
      (p) =>
        matches(namespace, labels, p) &&
        fields.terms.every(({ field, op, value }) => (fieldOf(p, field) === value) === (op !== "!=")),
    );
    return this.listPage("PodList", "v1", items, query);
  }
}

function selectorTerms(selector: string | null): LabelTerm[] {
  return (selector ?? "")
    .split(",")
    .filter((t) => t !== "")
    .map((t): LabelTerm => {
      const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(t);
      if (m) return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! };
      return t.startsWith("!") ? { key: t.slice(1), op: "!exists" } : { key: t, op: "exists" };
    });
}

function matches(namespace: string, terms: LabelTerm[], obj: Obj): boolean {
  const labels = (obj.metadata.labels ?? {}) as Record<string, string>;
  return (
    obj.metadata.namespace === namespace &&
    terms.every(({ key, op, value }) => {
      if (op === "exists") return key in labels;
      if (op === "!exists") return !(key in labels);
      return (labels[key] === value) === (op === "=");
    })
  );
}

/**
 * A pod field selector's terms, or the first field it names that Pods do not support. A term with
 * no `=`, `==` or `!=` (a set-based one) is refused the same way, naming the whole term.
 */
function fieldTerms(
  selector: string,
): { terms: { field: string; op: string; value: string }[] } | { unknown: string } {
  const terms: { field: string; op: string; value: string }[] = [];
  for (const term of selector.split(",").filter((t) => t !== "")) {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (!m || !POD_FIELD_SELECTORS.operators.includes(m[2]!)) return { unknown: term };
    if (!POD_FIELD_SELECTORS.podFields.includes(m[1]!)) return { unknown: m[1]! };
    terms.push({ field: m[1]!, op: m[2]!, value: m[3]! });
  }
  return { terms };
}

/** The value of a field a pod field selector names, as far as the stand-in keeps pods' fields. */
function fieldOf(pod: Obj, field: string): string | undefined {
  if (field === "metadata.name") return pod.metadata.name;
  if (field === "metadata.namespace") return pod.metadata.namespace;
  if (field === "status.phase") return (pod.status as { phase?: string } | undefined)?.phase;
  return undefined;
}

function write(res: http.ServerResponse, event: WatchEvent): void {
  res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
}

/** The `Status` a watch from a compacted resourceVersion receives. */
function expired(): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "too old resource version",
    reason: "Expired",
    code: 410,
  };
}

/**
 * What the Pulumi Kubernetes provider computes for the objects trainkit's Kubernetes components read,
 * for the mock runtime: an object given no `metadata.name` gets one, as the provider's autonaming does.
 */
export function kubernetesComputed({
  type,
  name,
  inputs,
}: {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}) {
  if (!type.startsWith("kubernetes:") || type.startsWith("kubernetes:helm.sh/")) return {};
  const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
  return { metadata: { ...metadata, name: metadata.name ?? `${name}-5f8d2c1a` } };
}
