/**
 * The message log in Postgres: one row per send decision (its idempotency key is also Vonage's
 * client_ref) and one per inbound text (keyed by Vonage's message_uuid).
 *
 * An outbound row moves pending → sending → submitted → delivered | rejected | undeliverable, or
 * → failed (Vonage refused it) / not_sent (outbox) / unknown (a crash hid the outcome). `sending`
 * is written before the HTTP call, so a retry that finds it knows a text may already be out.
 */
import type postgres from "postgres";
import type { Q } from "./database.ts";

export type OutboundStatus =
  | "pending"
  | "sending"
  | "retrying"
  | "submitted"
  | "delivered"
  | "rejected"
  | "undeliverable"
  | "failed"
  | "not_sent"
  | "unknown";

export interface MessageRow {
  id: string;
  caseId: string | null;
  customerId: string | null;
  direction: "outbound" | "inbound";
  kind: string;
  body: string;
  to: string;
  from: string;
  transport: "vonage" | "outbox";
  status: string;
  idemKey: string;
  providerId: string | null;
  attempts: number;
  createdAt: Date;
}

const row = (r: postgres.Row): MessageRow => ({
  id: String(r.id),
  caseId: r.case_id,
  customerId: r.customer_id,
  direction: r.direction,
  kind: r.kind,
  body: r.body,
  to: r.to_number,
  from: r.from_number,
  transport: r.transport,
  status: r.status,
  idemKey: r.idem_key,
  providerId: r.provider_id,
  attempts: r.attempts,
  createdAt: r.created_at,
});

/** Creates the row of a send decision, or returns the existing one: the key makes it once-only. */
export async function claimOutbound(
  sql: Q,
  m: {
    caseId: string | null;
    customerId: string;
    kind: string;
    body: string;
    to: string;
    from: string;
    transport: "vonage" | "outbox";
    idemKey: string;
    /** The advocate who wrote it; touchpoint's own texts have none. */
    author?: string;
  },
): Promise<{ message: MessageRow; created: boolean }> {
  const inserted = await sql`
    insert into messages (case_id, customer_id, direction, kind, body, to_number, from_number, transport, status, idem_key, author)
    values (${m.caseId}, ${m.customerId}, 'outbound', ${m.kind}, ${m.body}, ${m.to}, ${m.from}, ${m.transport}, 'pending', ${m.idemKey}, ${m.author ?? null})
    on conflict (idem_key) do nothing returning *`;
  if (inserted[0]) return { message: row(inserted[0]), created: true };
  const [existing] = await sql`select * from messages where idem_key = ${m.idemKey}`;
  return { message: row(existing!), created: false };
}

/** Marks an attempt as under way, durably, before the HTTP call. */
/**
 * Claims the send, durably, before the HTTP call: only one worker can move a row from pending or
 * retrying to sending, so two jobs racing on one send decision cannot both call Vonage.
 */
export async function claimSending(sql: Q, id: string): Promise<boolean> {
  const rows = await sql`
    update messages set status = 'sending', attempts = attempts + 1, updated_at = now()
    where id = ${id} and status in ('pending', 'retrying') returning id`;
  return rows.length > 0;
}

export async function setOutboundStatus(
  sql: Q,
  id: string,
  status: OutboundStatus,
  extra: { providerId?: string; error?: object } = {},
): Promise<void> {
  // Only forward: a receipt may already have moved the row past `sending` (see applyReceipt).
  await sql`
    update messages set status = ${status}, updated_at = now(),
      provider_id = coalesce(${extra.providerId ?? null}, provider_id),
      error = coalesce(${extra.error ? sql.json(extra.error as postgres.JSONValue) : null}, error)
    where id = ${id} and status in ('pending', 'sending', 'retrying')`;
}

/** Receipts may arrive out of order: a later stage never goes back to an earlier one. */
const RANK: Record<string, number> = {
  pending: 0,
  sending: 1,
  retrying: 1,
  unknown: 2,
  submitted: 3,
  delivered: 4,
  rejected: 4,
  undeliverable: 4,
};

/** Applies a delivery receipt, found by Vonage's message_uuid or our client_ref; returns the message. */
export async function applyReceipt(
  sql: Q,
  r: { providerId: string; clientRef?: string; status: OutboundStatus; error?: object },
): Promise<MessageRow | undefined> {
  const next = RANK[r.status] ?? 0;
  // One statement, so two receipts racing cannot interleave between the read and the write.
  const [m] = await sql`
    update messages set
      status = case when ${next} >= (case status when 'pending' then 0 when 'sending' then 1 when 'retrying' then 1
        when 'unknown' then 2 when 'submitted' then 3 else 4 end) then ${r.status} else status end,
      updated_at = now(), provider_id = coalesce(provider_id, ${r.providerId}),
      error = coalesce(${r.error ? sql.json(r.error as postgres.JSONValue) : null}, error)
    where direction = 'outbound' and (provider_id = ${r.providerId} or (${r.clientRef ?? null}::text is not null and idem_key = ${r.clientRef ?? null}))
    returning *`;
  return m ? row(m) : undefined;
}

/** Records an inbound text once per Vonage message_uuid; `created` is false for a resent webhook. */
export async function recordInbound(
  sql: Q,
  m: {
    providerId: string;
    caseId: string | null;
    customerId: string | null;
    body: string;
    from: string;
    to: string;
    kind: string;
  },
): Promise<{ message: MessageRow; created: boolean }> {
  const inserted = await sql`
    insert into messages (case_id, customer_id, direction, kind, body, to_number, from_number, transport, status, idem_key, provider_id)
    values (${m.caseId}, ${m.customerId}, 'inbound', ${m.kind}, ${m.body}, ${m.to}, ${m.from}, 'vonage', 'received', ${`in:${m.providerId}`}, ${m.providerId})
    on conflict (idem_key) do nothing returning *`;
  if (inserted[0]) return { message: row(inserted[0]), created: true };
  const [existing] = await sql`select * from messages where idem_key = ${`in:${m.providerId}`}`;
  return { message: row(existing!), created: false };
}

/** Proactive texts (checks and reminders) that count against the contact caps. */
const PROACTIVE = ["fraud_check", "behaviour_check", "reminder"];
const COUNTED = ["sending", "retrying", "submitted", "delivered", "not_sent", "unknown", "pending"];

/** Proactive texts so far; `excludeKey` leaves out the send decision being (re)considered itself. */
export async function contactCounts(
  sql: Q,
  customerId: string,
  caseId: string,
  now: Date,
  excludeKey?: string,
): Promise<{ forIncident: number; last3Days: number }> {
  const [r] = await sql`
    select
      count(*) filter (where case_id = ${caseId})::int as for_incident,
      count(*) filter (where created_at > ${new Date(now.getTime() - 3 * 24 * 3600_000)})::int as last_3_days
    from messages
    where customer_id = ${customerId} and direction = 'outbound' and kind = any(${PROACTIVE}) and status = any(${COUNTED})
      and idem_key <> ${excludeKey ?? ""}`;
  return { forIncident: r?.for_incident ?? 0, last3Days: r?.last_3_days ?? 0 };
}

/** Inbound texts on a case after a moment: has the customer answered since we asked? */
export async function repliedSince(sql: Q, caseId: string, since: Date): Promise<boolean> {
  const [r] =
    await sql`select 1 from messages where case_id = ${caseId} and direction = 'inbound' and created_at >= ${since} limit 1`;
  return Boolean(r);
}

export async function getMessageByKey(sql: Q, idemKey: string): Promise<MessageRow | undefined> {
  const [r] = await sql`select * from messages where idem_key = ${idemKey}`;
  return r ? row(r) : undefined;
}
