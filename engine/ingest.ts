/** Parsing an ingest body (JSON array, one JSON object, or NDJSON) into valid events and per-event errors. Pure. */
import { type FieldIssue, fieldIssues, TooLargeError, ValidationError } from "./errors.ts";
import { eventSchema, type TouchpointEvent } from "./events.ts";
import { badText, inputIssues } from "./input.ts";

/** Issues listed per rejected event: enough to fix it, never a reply many times its request. */
const MAX_ISSUES_PER_EVENT = 10;

export interface RejectedEvent {
  index: number;
  id?: string;
  errors: FieldIssue[];
}

export interface ParsedBatch {
  valid: Array<{ index: number; event: TouchpointEvent }>;
  rejected: RejectedEvent[];
  /** Indexes of events whose id repeats an earlier one in the same body. */
  repeated: number[];
}

/**
 * Splits a body into events. A JSON body that does not parse is a ValidationError (the whole
 * request is refused); in NDJSON each line stands alone, so a bad line rejects only that event.
 */
/**
 * Events may arrive late, but one dated far ahead comes from a broken clock: refused beyond a
 * week (generous for skew; the state script's trimming no longer trusts event dates anyway).
 */
const MAX_AHEAD_MS = 7 * 24 * 3600_000;

export function parseIngestBody(
  body: string,
  contentType: string | undefined,
  now: Date,
  maxEvents = Number.POSITIVE_INFINITY,
  /** EVENT_RETENTION_DAYS: an event dated before it would have nowhere to be stored. */
  retentionDays = Number.POSITIVE_INFINITY,
): ParsedBatch {
  const keptFrom = now.getTime() - retentionDays * 86_400_000;
  const ndjson = /ndjson|jsonlines|x-jsonl/i.test(contentType ?? "");
  let items: Array<{ index: number; value?: unknown; error?: string }>;
  if (ndjson) {
    items = body
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0)
      .map((line, index) => {
        try {
          return { index, value: JSON.parse(line) as unknown };
        } catch {
          return { index, error: "line is not valid JSON" };
        }
      });
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new ValidationError(`malformed JSON: ${e instanceof Error ? e.message : String(e)}`, [
        {
          path: "(body)",
          message:
            "not valid JSON; send a JSON array of events or NDJSON with Content-Type: application/x-ndjson",
        },
      ]);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    items = list.map((value, index) => ({ index, value }));
  }
  if (items.length === 0)
    throw new ValidationError("no events in the body", [{ path: "(body)", message: "empty" }]);
  if (items.length > maxEvents)
    throw new TooLargeError(
      `${items.length} events in one request; at most ${maxEvents}: send smaller batches`,
    );

  const out: ParsedBatch = { valid: [], rejected: [], repeated: [] };
  const seen = new Set<string>();
  for (const item of items) {
    if (item.error) {
      out.rejected.push({ index: item.index, errors: [{ path: "(event)", message: item.error }] });
      continue;
    }
    const bad = inputIssues(item.value, { limit: MAX_ISSUES_PER_EVENT });
    if (bad.length > 0) {
      const id = (item.value as { id?: unknown } | null)?.id;
      out.rejected.push({
        index: item.index,
        ...(typeof id === "string" && !badText(id) ? { id } : {}),
        errors: bad.map((i) => ({ ...i, path: i.path === "(body)" ? "(event)" : i.path })),
      });
      continue;
    }
    const result = eventSchema.safeParse(item.value);
    if (!result.success) {
      const id = (item.value as { id?: unknown } | null)?.id;
      out.rejected.push({
        index: item.index,
        ...(typeof id === "string" && id.length <= 200 ? { id } : {}),
        errors: fieldIssues(result.error, { whole: "(event)" }).slice(0, MAX_ISSUES_PER_EVENT),
      });
      continue;
    }
    if (Date.parse(result.data.occurredAt) > now.getTime() + MAX_AHEAD_MS) {
      out.rejected.push({
        index: item.index,
        id: result.data.id,
        errors: [{ path: "occurredAt", message: "more than a week in the future; check the sender's clock" }],
      });
      continue;
    }
    if (Date.parse(result.data.occurredAt) < keptFrom) {
      out.rejected.push({
        index: item.index,
        id: result.data.id,
        errors: [
          {
            path: "occurredAt",
            message: `older than the retention of ${retentionDays} days (EVENT_RETENTION_DAYS): events before ${new Date(keptFrom).toISOString()} are not kept`,
          },
        ],
      });
      continue;
    }
    if (seen.has(result.data.id)) {
      out.repeated.push(item.index);
      continue;
    }
    seen.add(result.data.id);
    out.valid.push({ index: item.index, event: result.data });
  }
  return out;
}

/** Events per customer in a list. */
export function countByCustomer(events: readonly TouchpointEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.customerId, (counts.get(e.customerId) ?? 0) + 1);
  return counts;
}

/**
 * Splits accepted events into everyone's and those of customers over `perMinute` events this
 * minute: the latter are queued behind the former, so one customer's flood cannot delay the rest.
 */
export function splitHeavy(
  events: readonly TouchpointEvent[],
  thisMinute: ReadonlyMap<string, number>,
  perMinute: number,
): { normal: TouchpointEvent[]; heavy: TouchpointEvent[] } {
  const normal: TouchpointEvent[] = [];
  const heavy: TouchpointEvent[] = [];
  for (const e of events) ((thisMinute.get(e.customerId) ?? 0) > perMinute ? heavy : normal).push(e);
  return { normal, heavy };
}
