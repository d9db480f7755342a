/** The error types touchpoint branches on: mapped once to HTTP statuses (api/app.ts) and once to BullMQ behaviour (workers/). */

export interface FieldIssue {
  /** JSON path of the offending field, e.g. `events[3].amount.value` or `conditions.all[0].operator`. */
  path: string;
  message: string;
}

/**
 * A zod error's issues as field paths (`events[3].amount.value`), the one way every layer names a
 * field. `prefix` starts the path; `whole` names the input itself when an issue has no path.
 */
export function fieldIssues(
  error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> },
  opts: { prefix?: string; whole: string },
): FieldIssue[] {
  return error.issues.map((i) => {
    let path = opts.prefix ?? "";
    for (const p of i.path) path += typeof p === "number" ? `[${p}]` : path ? `.${String(p)}` : String(p);
    return { path: path || opts.whole, message: i.message };
  });
}

/** Input that does not satisfy a schema: 400/422, never retried. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
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

export class ConflictError extends Error {
  override readonly name = "ConflictError";
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
