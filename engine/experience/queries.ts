/**
 * What the experience figures are computed from, read from Postgres: the cases opened or resolved
 * in a window (and those open now), with their contacts, answers, rules and routing; the customers
 * with events; opt-outs after a fraud text; the feedback asked. See figures.ts for the figures.
 */
import { FEEDBACK_KIND } from "../outreach/feedback.ts";
import type { Sql } from "../store/database.ts";
import {
  type CaseRow,
  type ExperienceRows,
  type ExperienceWindow,
  experienceFigures,
  type FeedbackRow,
} from "./figures.ts";
import type { ExperienceReport } from "./report.ts";

/** Outbound kinds that ask the customer about a payment: an opt-out after one counts against the contact. */
const FRAUD_CONTACTS = ["fraud_check", "reminder"];
/**
 * The question asked after resolution and its score are the experience's measure, not its contacts:
 * left out of contacts per case, first contact and first answer (and its policy decisions out of
 * deferrals and caps; their keys are `policy:<case>:feedback:<job>`, engine/outreach/feedback.ts).
 */
const NOT_CONTACTS = [FEEDBACK_KIND, "reply.feedback"];
const FEEDBACK_POLICY = "policy:%:feedback:%";

export async function experienceRows(sql: Sql, w: ExperienceWindow): Promise<ExperienceRows> {
  const team = w.team ?? null;
  const [cases, [customers], [optOuts], feedback] = await Promise.all([
    sql`
      select c.id, c.customer_id, c.team, c.status, c.outcome, c.opened_at, c.resolved_at, c.advocate_id,
        (select min(d.event_received_at) from decisions d where d.case_id = c.id) as first_event_at,
        array(select distinct d.rule from decisions d where d.case_id = c.id order by 1) as rules,
        m.outbound, m.first_out, m.last_out, m.first_in, m.last_in,
        exists (select 1 from case_timeline t where t.case_id = c.id and t.kind = 'contact.decided'
                and t.idem_key not like ${FEEDBACK_POLICY} and t.detail->>'action' = 'defer') as deferred,
        exists (select 1 from case_timeline t where t.case_id = c.id and t.kind = 'contact.decided'
                and t.idem_key not like ${FEEDBACK_POLICY} and t.detail->>'action' = 'suppress'
                and t.detail->>'reason' like '%cap reached%') as at_cap,
        (select t.actor from case_timeline t where t.case_id = c.id and t.kind = 'case.resolved' order by t.id limit 1) as resolved_by,
        exists (select 1 from case_timeline t where t.case_id = c.id
                and t.actor <> 'system' and t.actor not like 'customer:%') as bank_acted,
        (select t.detail->>'advocateId' from case_timeline t where t.case_id = c.id and t.kind = 'case.assigned'
         order by t.id limit 1) as first_advocate,
        p.id as previous_id, p.advocate_id as previous_advocate
      from cases c
      left join lateral (
        select count(*) filter (where direction = 'outbound')::int as outbound,
          min(created_at) filter (where direction = 'outbound') as first_out,
          max(created_at) filter (where direction = 'outbound') as last_out,
          min(created_at) filter (where direction = 'inbound') as first_in,
          max(created_at) filter (where direction = 'inbound') as last_in
        from messages where case_id = c.id and kind <> all(${NOT_CONTACTS})
      ) m on true
      left join lateral (
        select id, advocate_id from cases p where p.customer_id = c.customer_id and p.opened_at < c.opened_at
        order by p.opened_at desc limit 1
      ) p on true
      where (${team}::text is null or c.team = ${team})
        and ((c.opened_at >= ${w.since} and c.opened_at < ${w.until})
          or (c.resolved_at >= ${w.since} and c.resolved_at < ${w.until})
          or c.status = 'open')`,
    sql`select count(distinct customer_id)::int as n from events
        where received_at >= ${w.since} and received_at < ${w.until}`,
    sql`select count(*)::int as n from customers cu
        where cu.opted_out_at >= ${w.since} and cu.opted_out_at < ${w.until}
          and exists (select 1 from messages m where m.customer_id = cu.id and m.direction = 'outbound'
                      and m.kind = any(${FRAUD_CONTACTS}) and m.created_at <= cu.opted_out_at)`,
    sql`
      select f.case_id, f.team, f.advocate_id, a.name as advocate_name, f.asked_at, f.score,
        array(select distinct d.rule from decisions d where d.case_id = f.case_id order by 1) as rules
      from feedback f left join advocates a on a.id = f.advocate_id
      where f.asked_at >= ${w.since} and f.asked_at < ${w.until} and (${team}::text is null or f.team = ${team})`,
  ]);
  return {
    cases: cases.map(
      (r): CaseRow => ({
        id: r.id,
        customerId: r.customer_id,
        team: r.team,
        status: r.status,
        outcome: r.outcome,
        openedAt: r.opened_at,
        resolvedAt: r.resolved_at,
        advocateId: r.advocate_id,
        firstEventAt: r.first_event_at,
        rules: r.rules,
        outbound: r.outbound,
        firstOutboundAt: r.first_out,
        lastOutboundAt: r.last_out,
        firstInboundAt: r.first_in,
        lastInboundAt: r.last_in,
        deferredByQuietHours: r.deferred,
        atCap: r.at_cap,
        resolvedBy: r.resolved_by,
        bankActed: r.bank_acted,
        firstAdvocateId: r.first_advocate,
        returning: r.previous_id !== null,
        previousAdvocateId: r.previous_advocate,
      }),
    ),
    customersWithEvents: customers?.n ?? 0,
    optOutsAfterContact: optOuts?.n ?? 0,
    feedback: feedback.map(
      (r): FeedbackRow => ({
        caseId: r.case_id,
        team: r.team,
        advocateId: r.advocate_id,
        advocateName: r.advocate_name,
        rules: r.rules,
        askedAt: r.asked_at,
        score: r.score,
      }),
    ),
  };
}

/** The experience report of a window, for a team or all, as of `now`. */
export async function experienceReport(sql: Sql, w: ExperienceWindow, now: Date): Promise<ExperienceReport> {
  return experienceFigures(await experienceRows(sql, w), w, now);
}
