import { JobApiError } from "./types";

// A Train API on Cloud Run behind IAM accepts only callers that present a Google-signed ID token for the
// service's URL. google-auth-library gets one from the caller's standard credentials (a service-account
// key in GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, the metadata server of a
// VM, Cloud Build or a CI runner on Google Cloud) and renews it before it expires. It is loaded only here,
// on first use, so callers that never use Google auth never load it.

/** Produces the `Authorization` header for each request. */
export type AuthorizationHeaders = () => Promise<Record<string, string>>;

interface IdTokenClientLike {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
}

/** Whether a URL is a Cloud Run service's own address, where Google ID tokens are what IAM checks. */
export function isCloudRunUrl(url: string): boolean {
  try {
    return new URL(url).hostname.endsWith(".run.app");
  } catch {
    return false;
  }
}

/** The audience Cloud Run checks: the service's URL without a path. */
export function idTokenAudience(url: string): string {
  return new URL(url).origin;
}

/** Headers carrying a Google ID token for `url`'s service, fetched (and renewed) through google-auth-library. */
export function googleIdTokenHeaders(url: string): AuthorizationHeaders {
  const audience = idTokenAudience(url);
  let client: Promise<IdTokenClientLike> | undefined;
  return async () => {
    try {
      client ??= (async () => {
        const { GoogleAuth } = require("google-auth-library") as typeof import("google-auth-library");
        return new GoogleAuth().getIdTokenClient(audience);
      })();
      const headers = await (await client).getRequestHeaders(audience);
      const authorization =
        headers instanceof Headers
          ? headers.get("authorization")
          : (headers.authorization ?? headers.Authorization);
      if (!authorization) throw new Error("the credentials gave no ID token");
      return { authorization };
    } catch (err) {
      client = undefined;
      const reason = err instanceof Error ? err.message : String(err);
      throw new JobApiError(
        `could not get a Google ID token for ${audience}: ${reason}; give the caller Google credentials ` +
          "(GOOGLE_APPLICATION_CREDENTIALS with a service-account key, `gcloud auth application-default login`, " +
          "or a metadata server) whose identity holds roles/run.invoker on the service, or set googleIdToken to false",
        undefined,
        "google_credentials_unavailable",
      );
    }
  };
}
