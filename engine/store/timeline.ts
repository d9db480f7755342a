/** A case's timeline: every step, each written once under its idempotency key. */
import type postgres from "postgres";
import type { TimelineKind } from "../cases/cases.ts";
import type { Q } from "./database.ts";

/** One step of a case's timeline, as written. */
export interface TimelineEntry {
  caseId: string;
  kind: TimelineKind;
  idemKey: string;
  detail: object;
  actor?: string;
  at?: Date;
}

export async function addTimeline(
  sql: Q,
  caseId: string,
  kind: TimelineKind,
  idemKey: string,
  detail: object,
  opts: { actor?: string; at?: Date } = {},
): Promise<boolean> {
  const rows = await sql`
    insert into case_timeline (case_id, kind, actor, detail, idem_key, at)
    values (${caseId}, ${kind}, ${opts.actor ?? "system"}, ${sql.json(detail as postgres.JSONValue)}, ${idemKey}, ${opts.at ?? new Date()})
    on conflict (idem_key) do nothing returning id`;
  return rows.length > 0;
}

/**
 * Writes steps taken together in one statement, in the order given (the timeline reads by id, and
 * ids are drawn in `ord` order); a step whose key is already there is skipped, as addTimeline does.
 * The idempotency keys of the steps written now.
 */
export async function addTimelineEntries(sql: Q, entries: readonly TimelineEntry[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const rows = await timelineInsert(sql, entries);
  return new Set(rows.map((r) => r.idem_key as string));
}

/**
 * The insert of addTimelineEntries as a fragment, to end a statement that writes something else
 * first in a CTE (a message's status and the step that records it, together). At least one entry.
 */
export function timelineInsert(sql: Q, entries: readonly TimelineEntry[]) {
  const now = new Date().toISOString();
  // One text whatever the number of steps (arrays, not a VALUES list per size): one prepared
  // statement. Details go as JSON text (as a jsonb[] parameter the client would encode each string
  // as a JSON string) and are parsed here.
  return sql`
    insert into case_timeline (case_id, kind, actor, detail, idem_key, at)
    select case_id, kind, actor, detail::jsonb, idem_key, at
    from unnest(${entries.map((e) => e.caseId)}::text[], ${entries.map((e) => e.kind)}::text[],
      ${entries.map((e) => e.actor ?? "system")}::text[], ${entries.map((e) => JSON.stringify(e.detail))}::text[],
      ${entries.map((e) => e.idemKey)}::text[], ${entries.map((e) => e.at?.toISOString() ?? now)}::timestamptz[])
      with ordinality as u(case_id, kind, actor, detail, idem_key, at, ord)
    order by ord
    on conflict (idem_key) do nothing returning idem_key`;
}

/** The detail of the timeline entry recorded under `idemKey`, if any. */
export async function timelineDetailByKey(
  sql: Q,
  idemKey: string,
): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql`select detail from case_timeline where idem_key = ${idemKey}`;
  return row?.detail as Record<string, unknown> | undefined;
}
