/** The error types touchpoint branches on: mapped once to HTTP statuses (api/app.ts) and once to BullMQ behaviour (workers/). */

export interface FieldIssue {
  /** JSON path of the offending field, e.g. `events[3].amount.value` or `conditions.all[0].operator`. */
  path: string;
  message: string;
}

/**
 * A JSON path as every layer names a field (`events[3].amount.value`): indexes in brackets, and
 * a key that is not a plain name (a fact such as `travel.speedKmh`) quoted, so the path stays one.
 */
export function jsonPath(parts: ReadonlyArray<PropertyKey>, prefix = ""): string {
  let path = prefix;
  for (const p of parts) {
    const key = String(p);
    if (typeof p === "number") path += `[${p}]`;
    else if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) path += `[${JSON.stringify(key)}]`;
    else path += path ? `.${key}` : key;
  }
  return path;
}

/**
 * A zod error's issues as field paths. `prefix` starts the path; `whole` names the input itself
 * when an issue has no path.
 */
export function fieldIssues(
  error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> },
  opts: { prefix?: string; whole: string },
): FieldIssue[] {
  return error.issues.map((i) => ({ path: jsonPath(i.path, opts.prefix) || opts.whole, message: i.message }));
}

/** Input that does not satisfy a schema: 400, never retried. */
export class ValidationError extends Error {
  override readonly name: string = "ValidationError";
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

/**
 * Input that satisfies its schema but that touchpoint will not act on as asked (a text that may
 * not go to a customer, an idempotency key reused for another request, a rule file whose own tests
 * fail): 422, never retried. A ValidationError, so every layer that handles one handles this.
 */
export class UnprocessableError extends ValidationError {
  override readonly name: string = "UnprocessableError";
}

/** A request bigger than the service takes (bytes, or items in it): 413, never retried as is. */
export class TooLargeError extends Error {
  override readonly name = "TooLargeError";
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

export class UnauthorizedError extends Error {
  override readonly name = "UnauthorizedError";
}

export class ForbiddenError extends Error {
  override readonly name = "ForbiddenError";
}

/** The request clashes with the current state (a case already resolved, a publish that drops rules): 409. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    message: string,
    /** What the caller needs to act on it, e.g. `{ rules: [...] }`: merged into the error body. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A passing failure (network, throttling, 5xx): retry with backoff. */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
  constructor(
    message: string,
    /** Suggested wait before the next attempt, ms, when the remote said so. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A failure no retry can fix (bad number, rejected by the carrier, bad data): record it and stop. */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
  constructor(
    message: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND", // a database host whose name does not resolve yet (a stack starting at once)
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED", // our own sql.end() during shutdown: the work is not wrong, it is interrupted
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
  "57P01", // admin_shutdown: the server is stopping
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "53300", // too_many_connections
]);

/**
 * True when an error says Postgres or Redis is out of reach (refused, reset, closed, starting
 * up, shutting down) rather than that the work itself is wrong: the work should wait and be
 * tried again, without counting against its attempts. Decided by error code and class, never
 * by message text. Only the error itself counts, not its cause: a RetryableError from Vonage
 * wraps an HTTP client's ECONNRESET, and that must spend attempts (so a text can fail for good
 * and become a call task). 08P01 (protocol violation) is a bad query, not an outage.
 */
export function isServiceUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof RetryableError || err.name === "FetchError") return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  return err.name === "MaxRetriesPerRequestError";
}
