/**
 * What people read about cases: the lists, what needs an advocate now, and one case with its
 * whole context (customer, advocate, decisions, events, texts, timeline, earlier cases).
 */
import type { TimelineKind } from "../cases/cases.ts";
import { NotFoundError } from "../errors.ts";
import type { TouchpointEvent } from "../events.ts";
import type { Severity } from "../rules/schema.ts";
import type { Q, Sql } from "./database.ts";
import { getAdvocate, getCustomer } from "./people.ts";

export interface CaseFilter {
  customerId?: string;
  /** Only these cases (a lookup's answer). */
  ids?: readonly string[];
  status?: "open" | "resolved";
  advocateId?: string;
  team?: string;
  limit: number;
}

export async function listCases(sql: Q, f: CaseFilter) {
  const conds = [
    f.customerId ? sql`c.customer_id = ${f.customerId}` : null,
    f.ids ? sql`c.id = any(${f.ids as string[]})` : null,
    f.status ? sql`c.status = ${f.status}` : null,
    f.advocateId ? sql`c.advocate_id = ${f.advocateId}` : null,
    f.team ? sql`c.team = ${f.team}` : null,
  ].filter((x) => x !== null);
  const where = conds.reduce((acc, c, i) => (i === 0 ? sql`where ${c}` : sql`${acc} and ${c}`), sql``);
  const rows = await sql`
    select c.id, c.customer_id, cu.name as customer_name, c.status, c.outcome, c.severity, c.team, c.title,
      c.advocate_id, a.name as advocate_name, c.opened_at, c.resolved_at, c.updated_at, ${attentionSql(sql)} as attention
    from cases c left join advocates a on a.id = c.advocate_id left join customers cu on cu.id = c.customer_id
    ${where} order by c.opened_at desc limit ${f.limit}`;
  return rows.map((r) => ({
    id: r.id as string,
    customerId: r.customer_id as string,
    /** The customer's name, for lists people read (null if the customer is not on file). */
    customerName: (r.customer_name as string | null) ?? null,
    status: r.status as string,
    outcome: (r.outcome as string | null) ?? null,
    severity: r.severity as Severity,
    team: r.team as string,
    title: r.title as string,
    advocateId: (r.advocate_id as string | null) ?? null,
    advocate: r.advocate_id ? { id: r.advocate_id as string, name: r.advocate_name as string } : null,
    openedAt: (r.opened_at as Date).toISOString(),
    resolvedAt: r.resolved_at ? (r.resolved_at as Date).toISOString() : null,
    attention: (r.attention as string | null) ?? null,
  }));
}

/**
 * What the advocate must do now, if anything: the latest call task or alert that no note has
 * answered since, on an open case or one the customer confirmed as fraud (they need a call).
 */
export function attentionSql(sql: Q) {
  return sql`(
    select t.detail->>'reason' from case_timeline t
    where t.case_id = c.id and (c.status = 'open' or c.outcome = 'confirmed_fraud' or t.at > c.resolved_at)
      and (t.kind in ('task.call_customer', 'advocate.alerted')
        -- A call is answered or not within minutes: it needs someone only while it may still be ringing.
        or (t.kind = 'call.received' and t.at > now() - interval '15 minutes'))
      -- Answered by what an advocate did after it: a note, a text, a call that reached the customer or
      -- left them a message, a new card on its way (after a NO: the customer was dealt with), or
      -- resolving the case. A call nobody answered leaves the task open.
      and not exists (select 1 from case_timeline n where n.case_id = c.id and n.id > t.id
        and (n.kind in ('note.added', 'message.written', 'action.card_replace', 'case.resolved')
          or (n.kind = 'call.logged' and n.detail->>'outcome' <> 'no_answer')))
    order by t.id desc limit 1)`;
}

/** Of these cases, those where touchpoint or an advocate wrote to the customer and no reply came since. */
export async function casesAwaitingReply(sql: Q, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql`
    select distinct m.case_id from case_timeline m
    where m.case_id = any(${ids as string[]}) and m.kind in ('message.sent', 'message.written')
      and not exists (select 1 from case_timeline r where r.case_id = m.case_id and r.kind = 'reply.received' and r.id > m.id)`;
  return new Set(rows.map((r) => r.case_id as string));
}

/** How many of an advocate's cases need them now (a task or an alert nobody has answered). */
export async function casesNeedingAdvocate(sql: Q, advocateId: string): Promise<number> {
  const [r] = await sql`
    select count(*)::int as n from cases c where c.advocate_id = ${advocateId} and ${attentionSql(sql)} is not null`;
  return (r?.n as number) ?? 0;
}

/** Events of the customer's recent activity shown with a case. */
const ACTIVITY_SHOWN = 25;

/**
 * A case with everything an advocate needs: customer, advocate, decisions, events, messages,
 * timeline. Read in one snapshot: its parts are separate queries, and a call task written between
 * two of them would otherwise show on the timeline while `attention` says nothing is needed.
 */
export async function caseDetail(sql: Sql, id: string) {
  return sql.begin("isolation level repeatable read read only", (tx) => caseDetailIn(tx, id));
}

async function caseDetailIn(sql: Q, id: string) {
  const [c] = await sql`select c.*, ${attentionSql(sql)} as attention from cases c where c.id = ${id}`;
  if (!c) throw new NotFoundError(`case ${id} not found`);
  const [customer, advocate, decisions, timeline, history, messages, activity, handOff] = await Promise.all([
    getCustomer(sql, c.customer_id),
    c.advocate_id ? getAdvocate(sql, c.advocate_id) : Promise.resolve(undefined),
    sql`
      select d.id, d.rule, d.ruleset_version, d.severity, d.title, d.explanation, d.decided_at, d.event_id,
        d.event_payload as payload
      from decisions d where d.case_id = ${id} order by d.event_occurred_at, d.id`,
    sql`select id, at, kind, actor, detail from case_timeline where case_id = ${id} order by id`,
    sql`
      select c.id, c.status, c.outcome, c.title, c.opened_at, c.resolved_at, a.name as advocate_name,
        (select coalesce(t.detail->>'text', t.detail->>'note') from case_timeline t
          where t.case_id = c.id and (t.kind = 'note.added' or (t.kind = 'case.resolved' and t.detail->>'note' is not null))
          order by t.id desc limit 1) as last_note
      from cases c left join advocates a on a.id = c.advocate_id
      where c.customer_id = ${c.customer_id} and c.id <> ${id} order by c.opened_at desc limit 20`,
    messagesOf(sql, id),
    // The customer's latest events, those this case is about marked: the story around the hits.
    sql`
      select e.payload, exists (select 1 from decisions d where d.event_id = e.id and d.case_id = ${id}) as flagged
      from events e where e.customer_id = ${c.customer_id} order by e.occurred_at desc limit ${ACTIVITY_SHOWN}`,
    // The note the case's advocate reads first: the latest hand-over (or reassignment) to them.
    sql`
      select t.detail, t.at, coalesce(a.name, t.actor) as by from case_timeline t left join advocates a on a.id = t.actor
      where t.case_id = ${id} and t.kind = 'case.assigned' and t.detail->>'trigger' in ('handoff', 'reassign')
        and t.detail->>'note' is not null and t.detail->>'advocateId' = ${c.advocate_id ?? ""}
      order by t.id desc limit 1`,
  ]);
  return {
    id: c.id as string,
    customerId: c.customer_id as string,
    status: c.status as string,
    outcome: (c.outcome as string | null) ?? null,
    severity: c.severity as Severity,
    team: c.team as string,
    title: c.title as string,
    advocateId: (c.advocate_id as string | null) ?? null,
    advocate: advocate
      ? { id: advocate.id, name: advocate.name, team: advocate.team, status: advocate.status }
      : null,
    openedAt: (c.opened_at as Date).toISOString(),
    resolvedAt: c.resolved_at ? (c.resolved_at as Date).toISOString() : null,
    /** What the advocate must do now (a call task or alert no note has answered), if anything. */
    attention: (c.attention as string | null) ?? null,
    customer: customer
      ? {
          id: customer.id,
          name: customer.name,
          phone: customer.phone,
          homeCountry: customer.homeCountry,
          timezone: customer.timezone,
          language: customer.language,
          optedOut: customer.optedOutAt !== null,
          /** Opted out per channel: `sms` (STOP by text), `whatsapp` (STOP on WhatsApp). */
          optedOutOf: [
            ...(customer.optedOutAt ? ["sms"] : []),
            ...(customer.whatsappOptedOutAt ? ["whatsapp"] : []),
          ],
          /** Their ordered channel preference. */
          channels: customer.channels,
        }
      : null,
    decisions: decisions.map((d) => ({
      id: String(d.id),
      rule: d.rule as string,
      rulesetVersion: d.ruleset_version as number,
      severity: d.severity as Severity,
      title: d.title as string,
      explanation: d.explanation,
      decidedAt: (d.decided_at as Date).toISOString(),
      event: d.payload as TouchpointEvent,
    })),
    messages,
    /** The hand-over note for the case's advocate, if the case came to them with one. */
    handOff: handOff[0]
      ? {
          by: handOff[0].by as string,
          from: (handOff[0].detail.fromAdvocateName as string | null) ?? null,
          note: handOff[0].detail.note as string,
          at: (handOff[0].at as Date).toISOString(),
        }
      : null,
    /** The customer's latest events (newest first), `flagged` when a decision of this case is about it. */
    activity: activity.map((a) => ({ event: a.payload as TouchpointEvent, flagged: a.flagged as boolean })),
    timeline: timeline.map((t) => ({
      id: String(t.id),
      at: (t.at as Date).toISOString(),
      kind: t.kind as TimelineKind,
      actor: t.actor as string,
      detail: t.detail,
    })),
    previousCases: history.map((h) => ({
      id: h.id as string,
      status: h.status as string,
      outcome: (h.outcome as string | null) ?? null,
      title: h.title as string,
      advocateName: (h.advocate_name as string | null) ?? null,
      openedAt: (h.opened_at as Date).toISOString(),
      resolvedAt: h.resolved_at ? (h.resolved_at as Date).toISOString() : null,
      /** What the advocate wrote last, so the customer is not asked again. */
      lastNote: (h.last_note as string | null) ?? null,
    })),
  };
}

/** The texts of a case, oldest first. */
export async function messagesOf(sql: Q, caseId: string) {
  const rows = await sql`
    select m.id, m.direction, m.kind, m.body, m.status, m.transport, m.channel, m.details, m.author, a.name as author_name, m.created_at, m.updated_at
    from messages m left join advocates a on a.id = m.author
    where m.case_id = ${caseId} order by m.created_at, m.id`;
  return rows.map((m) => ({
    id: String(m.id),
    direction: m.direction as "outbound" | "inbound",
    kind: m.kind as string,
    body: m.body as string,
    status: m.status as string,
    transport: m.transport as "vonage" | "outbox" | "app",
    /** sms, whatsapp, voice (a call, its state the status) or app. */
    channel: m.channel as "sms" | "whatsapp" | "voice" | "app",
    /** A call's duration, a keypad answer's digits; absent for texts. */
    ...(m.details ? { details: m.details as Record<string, unknown> } : {}),
    /** Who wrote it: an advocate (id and name), or null for touchpoint's own texts. */
    author: m.author
      ? { id: m.author as string, name: (m.author_name as string | null) ?? (m.author as string) }
      : null,
    createdAt: (m.created_at as Date).toISOString(),
  }));
}
