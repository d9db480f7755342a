/**
 * The desk's queue, ordered and filtered in Postgres over every case, not over the newest few in
 * memory: what needs someone first (`attention`), then severity, high first, then age, oldest first.
 */
import { attentionSql } from "./case-views.ts";
import type { Q } from "./database.ts";

/** Which part of the queue: each section and filter of the queue page is one. */
export type QueuePart =
  /** Every open case. */
  | "open"
  /** Open cases that need their advocate (or, with no advocate given, anyone), and closed ones the customer wrote to since. */
  | "needs-me"
  /** Open cases written to, with no reply since and nothing needing the advocate. */
  | "waiting"
  /** Open cases of the advocate. */
  | "mine"
  /** Open cases not the advocate's. */
  | "others"
  /** Open cases whose customer is calling and was not put through to their advocate. */
  | "calling"
  /** Closed cases that need someone again (the customer wrote after). */
  | "reopened"
  /** Closed cases, the latest resolved first. */
  | "resolved";

export interface QueueQuery {
  part: QueuePart;
  team?: string | undefined;
  /** The viewer, when an advocate: "mine", "others" and "needs-me" are about them. */
  advocateId: string | null;
  limit: number;
}

const SEVERITY_RANK = (q: Q) => q`case q.severity when 'high' then 0 when 'medium' then 1 else 2 end`;

export async function queueCases(sql: Q, f: QueueQuery) {
  const me = f.advocateId;
  const closedNeeding = sql`c.status = 'resolved' and c.id in (select n.case_id from case_timeline n
    where n.kind in ('task.call_customer', 'advocate.alerted', 'call.received'))`;
  // Which cases to compute `attention` for: open ones, and closed ones only where it can be set
  // (an entry the partial index case_timeline_needs holds), never every closed case's timeline.
  const inner =
    f.part === "resolved"
      ? sql`c.status = 'resolved'`
      : f.part === "reopened"
        ? closedNeeding
        : f.part === "needs-me"
          ? sql`(c.status = 'open' or (${closedNeeding}))`
          : sql`c.status = 'open'`;
  const outer =
    f.part === "needs-me"
      ? me
        ? sql`q.attention is not null and q.advocate_id = ${me}`
        : sql`q.attention is not null`
      : f.part === "reopened"
        ? sql`q.attention is not null`
        : f.part === "mine"
          ? sql`q.advocate_id = ${me ?? ""}`
          : f.part === "others"
            ? me
              ? sql`q.advocate_id is distinct from ${me}`
              : sql`true`
            : f.part === "calling"
              ? sql`q.attention like 'the customer is calling%' and q.attention not like '%; put through to %'`
              : f.part === "waiting"
                ? sql`q.attention is null and exists (select 1 from case_timeline m where m.case_id = q.id
                    and m.kind in ('message.sent', 'message.written')
                    and not exists (select 1 from case_timeline r where r.case_id = m.case_id
                      and r.kind = 'reply.received' and r.id > m.id))`
                : sql`true`;
  const order =
    f.part === "resolved"
      ? sql`q.resolved_at desc nulls last, q.id`
      : sql`(q.attention is not null) desc, ${SEVERITY_RANK(sql)}, q.opened_at, q.id`;
  const rows = await sql`
    select * from (
      select c.id, c.customer_id, cu.name as customer_name, c.status, c.outcome, c.severity, c.team, c.title,
        c.advocate_id, a.name as advocate_name, c.opened_at, c.resolved_at, ${attentionSql(sql)} as attention
      from cases c left join advocates a on a.id = c.advocate_id left join customers cu on cu.id = c.customer_id
      where ${inner} ${f.team ? sql`and c.team = ${f.team}` : sql``}
    ) q
    where ${outer}
    order by ${order} limit ${f.limit}`;
  return rows.map((r) => ({
    id: r.id as string,
    customerId: r.customer_id as string,
    customerName: (r.customer_name as string | null) ?? null,
    status: r.status as string,
    outcome: (r.outcome as string | null) ?? null,
    severity: r.severity as "low" | "medium" | "high",
    team: r.team as string,
    title: r.title as string,
    advocateId: (r.advocate_id as string | null) ?? null,
    advocate: r.advocate_id ? { id: r.advocate_id as string, name: r.advocate_name as string } : null,
    openedAt: (r.opened_at as Date).toISOString(),
    resolvedAt: r.resolved_at ? (r.resolved_at as Date).toISOString() : null,
    attention: (r.attention as string | null) ?? null,
  }));
}
