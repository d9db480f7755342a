/** Maps touchpoint's error types to HTTP answers, once: `{ error: { code, message, issues? } }`. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import {
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  fieldIssues,
  isServiceUnavailable,
  NotFoundError,
  RetryableError,
  TooLargeError,
  UnauthorizedError,
  UnprocessableError,
  ValidationError,
} from "../engine/errors.ts";
import { badText, inputIssues } from "../engine/input.ts";
import type { Logger } from "../engine/log.ts";

export function errorBody(code: string, message: string, issues?: FieldIssue[]) {
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

export function toIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return fieldIssues(error, { prefix, whole: "(body)" });
}

export function handleError(err: Error, c: Context, log: Logger): Response {
  const answer = (status: ContentfulStatusCode, code: string, issues?: FieldIssue[]) =>
    c.json(errorBody(code, err.message, issues), status);
  if (err instanceof UnprocessableError) return answer(422, "unprocessable", err.issues);
  if (err instanceof ValidationError) return answer(400, "invalid", err.issues);
  if (err instanceof NotFoundError) return answer(404, "not_found");
  if (err instanceof TooLargeError) return answer(413, "too_large");
  if (err instanceof UnauthorizedError) {
    c.header("WWW-Authenticate", 'Bearer realm="touchpoint"');
    return answer(401, "unauthorized");
  }
  if (err instanceof ForbiddenError) return answer(403, "forbidden");
  if (err instanceof ConflictError)
    return c.json({ error: { code: "conflict", message: err.message, ...err.details } }, 409);
  if (err instanceof RetryableError || isServiceUnavailable(err)) {
    c.header("Retry-After", "5");
    log.warn({ err: err.message, cause: String(err.cause), path: c.req.path }, "temporarily unavailable");
    return answer(503, "unavailable");
  }
  if (err instanceof HTTPException) {
    if (err.res) return err.res;
    return answer(err.status as ContentfulStatusCode, err.status === 413 ? "too_large" : "http_error");
  }
  log.error({ err: err.message, stack: err.stack, path: c.req.path }, "unhandled error");
  return c.json(errorBody("internal", "internal error"), 500);
}

/** Parses a JSON body against a schema: malformed JSON and schema failures are 400s with field paths. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch (e) {
    throw new ValidationError(`malformed JSON: ${e instanceof Error ? e.message : String(e)}`, [
      { path: "(body)", message: "not valid JSON" },
    ]);
  }
  const bad = inputIssues(raw);
  if (bad.length > 0) throw new ValidationError("invalid text in the request body", bad);
  const result = schema.safeParse(raw);
  if (!result.success) throw new ValidationError("invalid request body", toIssues(result.error));
  return result.data;
}

/** Parses query parameters against a schema. */
export function queryOf<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw new ValidationError("invalid query", toIssues(result.error, "query"));
  return result.data;
}

/**
 * Refuses a request whose path or query holds text no handler should see (a NUL, an unpaired
 * surrogate, malformed percent-encoding): a 400 naming the parameter, before any route runs.
 */
export async function refuseBadParams(c: Context, next: () => Promise<void>): Promise<void> {
  let path: string;
  try {
    path = decodeURIComponent(c.req.path);
  } catch {
    throw new ValidationError("malformed percent-encoding in the path", [
      { path: "(path)", message: "not valid percent-encoded UTF-8" },
    ]);
  }
  const issues: FieldIssue[] = [];
  const inPath = badText(path);
  if (inPath) issues.push({ path: "(path)", message: inPath });
  for (const [k, values] of Object.entries(c.req.queries())) {
    for (const v of [k, ...values]) {
      const why = badText(v);
      if (why) issues.push({ path: `query.${k}`, message: why });
    }
  }
  if (issues.length > 0) throw new ValidationError("invalid text in the request address", issues);
  await next();
}
