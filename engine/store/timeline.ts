/** A case's timeline: every step, each written once under its idempotency key. */
import type postgres from "postgres";
import type { TimelineKind } from "../cases/cases.ts";
import type { Q } from "./database.ts";

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

/** The detail of the timeline entry recorded under `idemKey`, if any. */
export async function timelineDetailByKey(
  sql: Q,
  idemKey: string,
): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql`select detail from case_timeline where idem_key = ${idemKey}`;
  return row?.detail as Record<string, unknown> | undefined;
}
