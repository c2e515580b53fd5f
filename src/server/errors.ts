import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import type { ErrorBody, ErrorDetail } from "../spec";
import { BackendError } from "./backends/types";
import { StoreUnavailableError } from "./store/types";

/** An error the API answers with: HTTP status, stable code, a sentence, and field details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorBody(code: string, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: details ? { code, message, details } : { code, message } };
}

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/**
 * Every failure becomes an `ErrorBody`. Fastify's own client errors (body parsing, size, media
 * type) get codes and sentences of ours; anything unexpected is a 500 whose detail stays in the log.
 */
export function installErrorHandlers(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      404,
      errorBody(
        "not_found",
        `no route for ${request.method} ${request.url.split("?")[0]}; see GET /openapi.json`,
      ),
    ),
  );

  app.setErrorHandler((err: FastifyError | ApiError | BackendError | Error, request, reply) => {
    if (err instanceof StoreUnavailableError) {
      request.log.error({ reason: err.reason }, "job store unavailable");
      return send(
        reply.header("retry-after", "5"),
        503,
        errorBody(
          "store_unavailable",
          `the server cannot reach its job store (${err.reason}); retry shortly, with the same Idempotency-Key for a submission`,
        ),
      );
    }
    if (err instanceof ApiError)
      return send(reply, err.status, errorBody(err.code, err.message, err.details));
    if (err instanceof BackendError) return send(reply, err.status, errorBody(err.code, err.message));
    const fe = err as FastifyError;
    switch (fe.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return send(
          reply,
          413,
          errorBody(
            "body_too_large",
            `request body is larger than the limit of ${bodyLimitBytes} bytes; send a smaller body (mount large inputs instead of inlining them) or raise TRAINKIT_BODY_LIMIT_BYTES`,
          ),
        );
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return send(
          reply,
          415,
          errorBody(
            "unsupported_media_type",
            `content-type ${JSON.stringify(request.headers["content-type"] ?? "")} is not supported; send the body as application/json`,
          ),
        );
      case "FST_ERR_CTP_INVALID_JSON_BODY":
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return send(reply, 400, errorBody("invalid_json", `request body is not valid JSON: ${fe.message}`));
    }
    if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
      return send(reply, 400, errorBody("invalid_json", `request body is not valid JSON: ${err.message}`));
    }
    if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
      return send(reply, fe.statusCode, errorBody("bad_request", fe.message));
    }
    request.log.error({ err }, "request failed");
    return send(
      reply,
      500,
      errorBody("internal_error", "the server failed to handle the request; see its log"),
    );
  });
}
