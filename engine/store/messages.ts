/**
 * The message log in Postgres: one row per send decision (its idempotency key is also Vonage's
 * client_ref) and one per inbound text (keyed by Vonage's message_uuid).
 *
 * An outbound row moves pending → sending → submitted → delivered | rejected | undeliverable, or
 * → failed (Vonage refused it) / not_sent (outbox) / unknown (a crash hid the outcome). `sending`
 * is written before the HTTP call, so a retry that finds it knows a text may already be out.
 */
import type postgres from "postgres";
import type { Channel } from "../outreach/strategy.ts";
import type { Q } from "./database.ts";
import { type TimelineEntry, timelineInsert } from "./timeline.ts";

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
  transport: "vonage" | "outbox" | "app";
  /** sms, whatsapp, voice (a call: its states are the status) or app. */
  channel: Channel;
  status: string;
  idemKey: string;
  providerId: string | null;
  attempts: number;
  createdAt: Date;
  /** A call's duration and keypad, a keypad answer's digits; null for texts. */
  details: Record<string, unknown> | null;
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
  channel: r.channel,
  status: r.status,
  idemKey: r.idem_key,
  providerId: r.provider_id,
  attempts: r.attempts,
  createdAt: r.created_at,
  details: r.details ?? null,
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
    transport: "vonage" | "outbox" | "app";
    idemKey: string;
    /** The advocate who wrote it; touchpoint's own texts have none. */
    author?: string;
    /** Default sms. */
    channel?: Channel;
  },
): Promise<{ message: MessageRow; created: boolean }> {
  const inserted = await sql`
    insert into messages (case_id, customer_id, direction, kind, body, to_number, from_number, transport, status, idem_key, author, channel)
    values (${m.caseId}, ${m.customerId}, 'outbound', ${m.kind}, ${m.body}, ${m.to}, ${m.from}, ${m.transport}, 'pending', ${m.idemKey}, ${m.author ?? null}, ${m.channel ?? "sms"})
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

/**
 * Moves an outbound row on from pending, sending or retrying. `timeline`: the case's steps that
 * record it, written in the same statement (both or neither: a crash between them would leave
 * a text sent that the timeline never shows, as a retry finds the row settled).
 */
export async function setOutboundStatus(
  sql: Q,
  id: string,
  status: OutboundStatus,
  extra: { providerId?: string; error?: object } = {},
  timeline: readonly TimelineEntry[] = [],
): Promise<void> {
  // Only forward: a receipt may already have moved the row past `sending` (see applyReceipt).
  const update = sql`
    update messages set status = ${status}, updated_at = now(),
      provider_id = coalesce(${extra.providerId ?? null}, provider_id),
      error = coalesce(${extra.error ? sql.json(extra.error as postgres.JSONValue) : null}, error)
    where id = ${id} and status in ('pending', 'sending', 'retrying')`;
  // The steps are written whether or not the row moved, as when they were written apart.
  if (timeline.length === 0) await update;
  else await sql`with moved as (${update}) ${timelineInsert(sql, timeline)}`;
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
    /** Default sms. */
    channel?: Channel;
    /** Default vonage; `app` for an answer through the bank's app. */
    transport?: "vonage" | "app";
    /** A keypad answer's digits, an app answer's source: what the desk shows beside the words. */
    details?: object;
  },
): Promise<{ message: MessageRow; created: boolean }> {
  const inserted = await sql`
    insert into messages (case_id, customer_id, direction, kind, body, to_number, from_number, transport, status, idem_key, provider_id, channel, details)
    values (${m.caseId}, ${m.customerId}, 'inbound', ${m.kind}, ${m.body}, ${m.to}, ${m.from}, ${m.transport ?? "vonage"}, 'received',
      ${`in:${m.providerId}`}, ${m.providerId}, ${m.channel ?? "sms"}, ${m.details ? sql.json(m.details as postgres.JSONValue) : null})
    on conflict (idem_key) do nothing returning *`;
  if (inserted[0]) return { message: row(inserted[0]), created: true };
  const [existing] = await sql`select * from messages where idem_key = ${`in:${m.providerId}`}`;
  return { message: row(existing!), created: false };
}

/** Proactive contacts (checks, reminders and automated calls, on any channel) that count against the caps. */
const PROACTIVE = ["fraud_check", "behaviour_check", "reminder", "behaviour_reminder", "check_call"];
const COUNTED = ["sending", "retrying", "submitted", "delivered", "read", "not_sent", "unknown", "pending"]
  // A call counts once placed, whatever became of it.
  .concat([
    "started",
    "ringing",
    "answered",
    "completed",
    "busy",
    "cancelled",
    "unanswered",
    "rejected",
    "timeout",
    "machine",
    "human",
    "disconnected",
  ]);

/** Proactive texts so far; `excludeKey` leaves out the send decision being (re)considered itself. */
export async function contactCounts(
  sql: Q,
  customerId: string,
  caseId: string,
  now: Date,
  excludeKey?: string,
): Promise<ContactCounts> {
  const [r] = await sql`select ${countsColumns(sql, { customerId, caseId, now, excludeKey })}`;
  return { forIncident: r?.for_incident ?? 0, last3Days: r?.last_3_days ?? 0 };
}

export interface ContactCounts {
  forIncident: number;
  last3Days: number;
}

/** contactCounts' two figures as columns of a select. */
const countsColumns = (
  sql: Q,
  c: { customerId: string; caseId: string; now: Date; excludeKey?: string | undefined },
) => sql`
  r.for_incident, r.last_3_days from (
    select
      count(*) filter (where case_id = ${c.caseId})::int as for_incident,
      count(*) filter (where created_at > ${new Date(c.now.getTime() - 3 * 24 * 3600_000)})::int as last_3_days
    from messages
    where customer_id = ${c.customerId} and direction = 'outbound' and kind = any(${PROACTIVE}) and status = any(${COUNTED})
      and idem_key <> ${c.excludeKey ?? ""}) as r`;

/**
 * Has the customer answered since we asked? Any message from them counts but STOP and HELP: an
 * opt-out stops one channel, not the case's other contacts (nor the advocate's call task), and
 * HELP asks who we are.
 */
export async function repliedSince(sql: Q, caseId: string, since: Date): Promise<boolean> {
  const [r] = await sql`
    select 1 from messages where case_id = ${caseId} and direction = 'inbound' and created_at >= ${since}
      and kind not in ('reply.stop', 'reply.help') limit 1`;
  return Boolean(r);
}

export async function getMessageByKey(sql: Q, idemKey: string): Promise<MessageRow | undefined> {
  const [r] = await sql`select * from messages where idem_key = ${idemKey}`;
  return r ? row(r) : undefined;
}

/**
 * What a case has done to reach its customer: where it last asked in writing, and whether it
 * called. With `counts`, also the contact counts of the send decision the step will consider
 * (see contactCounts), in the same statement.
 */
export async function contactHistory(
  sql: Q,
  caseId: string,
  counts?: { customerId: string; now: Date; excludeKey: string },
): Promise<{ askedOn: Exclude<Channel, "voice"> | null; called: boolean; counts?: ContactCounts }> {
  const [r] = await sql`
    select
      (select channel from messages where case_id = ${caseId} and direction = 'outbound' and channel <> 'voice'
         and kind = any(${PROACTIVE}) and status = any(${COUNTED}) order by created_at desc, id desc limit 1) as asked_on,
      -- Placed, or possibly placed (sending): a call Vonage refused for a passing reason (retrying)
      -- is still to be placed, by the job's retry.
      exists (select 1 from messages where case_id = ${caseId} and direction = 'outbound' and channel = 'voice'
         and kind = 'check_call' and status not in ('pending', 'retrying')) as called
      ${counts ? sql`, ${countsColumns(sql, { ...counts, caseId })}` : sql``}`;
  return {
    askedOn: r?.asked_on ?? null,
    called: Boolean(r?.called),
    ...(counts ? { counts: { forIncident: r?.for_incident ?? 0, last3Days: r?.last_3_days ?? 0 } } : {}),
  };
}

/** The customer's latest message to us on any channel: where to answer, and whether WhatsApp's 24-hour window is open. */
export async function lastInbound(
  sql: Q,
  customerId: string,
): Promise<{ channel: Channel; at: Date; whatsappAt: Date | null } | undefined> {
  const [r] = await sql`
    select channel, created_at,
      -- From when the customer sent it (a webhook delayed by an outage must not hold the window open).
      (select max(least(created_at, coalesce((details->>'sentAt')::timestamptz, created_at))) from messages
        where customer_id = ${customerId} and direction = 'inbound' and channel = 'whatsapp') as whatsapp_at
    from messages where customer_id = ${customerId} and direction = 'inbound' and channel <> 'voice'
    order by created_at desc, id desc limit 1`;
  return r ? { channel: r.channel, at: r.created_at, whatsappAt: r.whatsapp_at } : undefined;
}

/**
 * The automated call `messageId` takes Vonage's `uuid` when it has none yet (its keypad answer came
 * before the worker that placed it recorded the uuid); the row, or undefined when it is not such a
 * call or already has another uuid.
 */
export async function bindCallUuid(sql: Q, messageId: string, uuid: string): Promise<MessageRow | undefined> {
  if (!/^\d{1,18}$/.test(messageId)) return undefined;
  const [m] = await sql`
    update messages set provider_id = ${uuid}, updated_at = now()
    where id = ${messageId}::bigint and channel = 'voice' and kind = 'check_call' and provider_id is null
    returning *`;
  return m ? row(m) : undefined;
}

/** A call's row by Vonage's call uuid. */
export async function getMessageByProviderId(sql: Q, providerId: string): Promise<MessageRow | undefined> {
  const [r] = await sql`select * from messages where provider_id = ${providerId}`;
  return r ? row(r) : undefined;
}

/**
 * A call's state from Vonage's event webhook. Call events can arrive out of order (completed
 * before answered when the webhooks race): a final state is never replaced by an earlier one.
 */
export async function applyCallStatus(
  sql: Q,
  providerId: string,
  status: string,
  details: object,
  /**
   * The call's row id from its event URL: an event can arrive before the worker that placed
   * the call has recorded Vonage's uuid on it (the row is then found by id, and takes the uuid).
   */
  messageId?: string,
): Promise<MessageRow | undefined> {
  const byId = messageId && /^\d{1,18}$/.test(messageId) ? messageId : null;
  const [m] = await sql`
    update messages set
      status = case when status in ('completed', 'busy', 'cancelled', 'unanswered', 'rejected', 'failed', 'timeout')
        then status else ${status} end,
      provider_id = coalesce(provider_id, ${providerId}),
      details = coalesce(details, '{}'::jsonb) || ${sql.json(details as postgres.JSONValue)},
      updated_at = now()
    where channel = 'voice' and (provider_id = ${providerId}
      or (${byId}::bigint is not null and id = ${byId}::bigint and kind = 'check_call' and provider_id is null))
    returning *`;
  return m ? row(m) : undefined;
}
