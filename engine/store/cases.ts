/**
 * Cases: the reads and writes that open or join a customer's one open case, route it (the engine
 * chooses: engine/cases/intake.ts and assign.ts), confirm and resolve it. Every step a retry
 * could repeat is keyed on the timeline; row locks order concurrent workers.
 */
import type postgres from "postgres";
import type { CaseOutcome } from "../cases/cases.ts";
import { NotFoundError } from "../errors.ts";
import type { Severity } from "../rules/schema.ts";
import type { Q, Sql } from "./database.ts";
import { linkDecisions } from "./decisions.ts";
import { addTimeline, type TimelineEntry, timelineInsert } from "./timeline.ts";
import { type OwedJob, owedInsert } from "./work.ts";

/**
 * Inserts the customer's open case unless they have one (the partial unique index on open cases
 * decides, so concurrent workers open one), kept for the advocate who last helped its customer
 * (routing reads it). The new case as routing reads it (inserted, so locked by this transaction),
 * or undefined when the customer had an open case.
 */
export async function insertOpenCase(
  tx: Q,
  c: {
    id: string;
    customerId: string;
    severity: Severity;
    team: string;
    title: string;
    openedAt: Date;
    firstDecisionAt: Date;
  },
): Promise<RoutingCase | undefined> {
  const [inserted] = await tx`
      insert into cases (id, customer_id, severity, team, title, opened_at, first_decision_at, preferred_advocate_id)
      values (${c.id}, ${c.customerId}, ${c.severity}, ${c.team}, ${c.title}, ${c.openedAt}, ${c.firstDecisionAt},
        (select last_advocate_id from customers where id = ${c.customerId}))
      on conflict (customer_id) where status = 'open' do nothing
      returning id, customer_id, team, severity, status, advocate_id, preferred_advocate_id, wait_until`;
  return inserted ? routingCase(inserted) : undefined;
}

/**
 * What an update of a case writes once routing is done, in one statement: its decisions linked,
 * its timeline steps (in order), and the work it makes owed. Call in the update's transaction.
 */
export async function recordCaseUpdate(
  tx: Q,
  u: {
    caseId: string;
    decisionIds: readonly string[];
    timeline: readonly TimelineEntry[];
    owed: readonly OwedJob[];
  },
): Promise<void> {
  // The CTEs write different tables and read nothing another writes: one snapshot serves all.
  const owed = u.owed.length > 0 ? tx`, owed as (${owedInsert(tx, u.owed)})` : tx``;
  const steps = u.timeline.length > 0 ? timelineInsert(tx, u.timeline) : tx`select 1`;
  await tx`with linked as (${linkDecisions(tx, u.caseId, u.decisionIds)}) ${owed} ${steps}`;
}

/** The customer's open case, locked for this transaction. */
export async function lockOpenCase(
  tx: Q,
  customerId: string,
): Promise<{ id: string; severity: Severity; advocateId: string | null } | undefined> {
  const [kase] =
    await tx`select id, severity, advocate_id from cases where customer_id = ${customerId} and status = 'open' for update`;
  return kase
    ? {
        id: kase.id as string,
        severity: kase.severity as Severity,
        advocateId: kase.advocate_id as string | null,
      }
    : undefined;
}

export async function setCaseSeverity(tx: Q, caseId: string, severity: Severity): Promise<void> {
  await tx`update cases set severity = ${severity}, updated_at = now() where id = ${caseId}`;
}

/** What routing reads of a case, locked for this transaction. */
export interface RoutingCase {
  id: string;
  customerId: string;
  team: string;
  severity: Severity;
  status: "open" | "resolved";
  advocateId: string | null;
  preferredAdvocateId: string | null;
  waitUntil: Date | null;
}

const routingCase = (c: postgres.Row): RoutingCase => ({
  id: c.id as string,
  customerId: c.customer_id as string,
  team: c.team as string,
  severity: c.severity as Severity,
  status: c.status as "open" | "resolved",
  advocateId: (c.advocate_id as string | null) ?? null,
  preferredAdvocateId: (c.preferred_advocate_id as string | null) ?? null,
  waitUntil: (c.wait_until as Date | null) ?? null,
});

export async function lockCaseForRouting(tx: Q, caseId: string): Promise<RoutingCase | undefined> {
  const [c] = await tx`
    select id, customer_id, team, severity, status, advocate_id, preferred_advocate_id, wait_until
    from cases where id = ${caseId} for update`;
  return c ? routingCase(c) : undefined;
}

/** How many assignment steps the case's timeline holds: the next step's idempotency key counts on it. */
export async function assignmentSteps(tx: Q, caseId: string): Promise<number> {
  const [{ n }] = (await tx`
    select count(*)::int as n from case_timeline where case_id = ${caseId} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
    { n: number },
  ];
  return n;
}

/** The case waits for its customer's previous advocate until `until`. */
export async function setCaseWait(tx: Q, caseId: string, until: Date): Promise<void> {
  await tx`update cases set wait_until = ${until}, updated_at = now() where id = ${caseId}`;
}

/** Gives the case to the advocate, who becomes the one the customer knows next time (one statement, both rows). */
export async function assignCaseTo(
  tx: Q,
  caseId: string,
  customerId: string,
  advocateId: string,
): Promise<void> {
  await tx`
    with assigned as (update cases set advocate_id = ${advocateId}, wait_until = null, updated_at = now() where id = ${caseId})
    update customers set last_advocate_id = ${advocateId} where id = ${customerId}`;
}

/**
 * Gives the case to an advocate a person chose. It stays theirs, even when the customer's earlier
 * advocate comes back online (returnCasesToPreferred moves only what routing chose), and they become the
 * advocate the customer will know next time.
 */
export async function transferCaseTo(
  tx: Q,
  caseId: string,
  customerId: string,
  advocateId: string,
): Promise<void> {
  await tx`
    with moved as (update cases set advocate_id = ${advocateId}, preferred_advocate_id = ${advocateId}, wait_until = null, updated_at = now() where id = ${caseId})
    update customers set last_advocate_id = ${advocateId} where id = ${customerId}`;
}

/** Open cases of a team (or kept for one of its advocates) that nobody has, oldest first. */
export async function waitingCaseIds(sql: Q, team: string): Promise<string[]> {
  const waiting = await sql`
    select c.id from cases c left join advocates p on p.id = c.preferred_advocate_id
    where c.status = 'open' and c.advocate_id is null and (c.team = ${team} or p.team = ${team}) order by c.opened_at`;
  return waiting.map((w) => w.id as string);
}

/**
 * Open cases kept for this advocate (their customer's previous one) that fell back to someone
 * else who has not yet acted on them (no note, no call), oldest first.
 */
export async function casesFallenBack(sql: Q, advocateId: string): Promise<string[]> {
  const candidates = await sql`
    select c.id from cases c
    where c.status = 'open' and c.preferred_advocate_id = ${advocateId} and c.advocate_id is not null and c.advocate_id <> ${advocateId}
      and not exists (select 1 from case_timeline t where t.case_id = c.id and t.actor = c.advocate_id)
    order by c.opened_at`;
  return candidates.map((c) => c.id as string);
}

/** Gives the case back to the advocate its customer knows, who stays the one they know. */
export async function returnCaseTo(
  tx: Q,
  caseId: string,
  customerId: string,
  advocateId: string,
): Promise<void> {
  await tx`
    with returned as (update cases set advocate_id = ${advocateId}, updated_at = now() where id = ${caseId})
    update customers set last_advocate_id = ${advocateId} where id = ${customerId}`;
}

/**
 * The customer said NO: the case's outcome is confirmed fraud, and it stays open — the advocate
 * calls the customer and resolves it (DESIGN: only YES resolves by itself). Returns the outcome
 * the case has, which differs from confirmed fraud when another answer got there first.
 */
export async function confirmFraud(
  sql: Sql,
  caseId: string,
  actor: string,
  detail: object,
  now: Date,
): Promise<{ applied: boolean; outcome: CaseOutcome }> {
  return sql.begin(async (tx) => {
    const [c] = await tx`select id, status, outcome from cases where id = ${caseId} for update`;
    if (!c) throw new NotFoundError(`case ${caseId} not found`);
    if (c.status !== "open" || c.outcome)
      return { applied: false, outcome: (c.outcome as CaseOutcome | null) ?? "false_alarm" };
    await tx`update cases set outcome = 'confirmed_fraud', updated_at = now() where id = ${caseId}`;
    await addTimeline(
      tx,
      caseId,
      "case.confirmed",
      `confirmed:${caseId}`,
      { outcome: "confirmed_fraud", ...detail },
      { actor, at: now },
    );
    return { applied: true, outcome: "confirmed_fraud" };
  });
}

export async function resolveCase(
  sql: Sql,
  caseId: string,
  outcome: CaseOutcome,
  actor: string,
  idemKey: string,
  detail: object = {},
  now = new Date(),
  opts: { keepOutcome?: boolean } = {},
): Promise<{
  resolved: boolean;
  secondsOpen: number;
  outcome: CaseOutcome;
  /** Whether the case is resolved now (by this call or an earlier one), and who had it then. */
  status: "open" | "resolved";
  advocateId: string | null;
  team: string;
  resolvedAt: Date | null;
}> {
  return sql.begin(async (tx) => {
    const [c] =
      await tx`select id, status, outcome, opened_at, resolved_at, advocate_id, team from cases where id = ${caseId} for update`;
    if (!c) throw new NotFoundError(`case ${caseId} not found`);
    const secondsOpen = Math.max(0, (now.getTime() - (c.opened_at as Date).getTime()) / 1000);
    const as = {
      status: c.status as "open" | "resolved",
      advocateId: (c.advocate_id as string | null) ?? null,
      team: c.team as string,
      resolvedAt: (c.resolved_at as Date | null) ?? null,
    };
    // Already resolved: report the outcome it has, which may differ from the one asked for.
    if (c.status === "resolved")
      return { ...as, resolved: false, secondsOpen, outcome: c.outcome as CaseOutcome };
    // A customer's YES must not overturn their own earlier NO: only an advocate may.
    if (opts.keepOutcome && c.outcome && c.outcome !== outcome) {
      return { ...as, resolved: false, secondsOpen, outcome: c.outcome as CaseOutcome };
    }
    await tx`update cases set status = 'resolved', outcome = ${outcome}, resolved_at = ${now}, updated_at = now() where id = ${caseId}`;
    await addTimeline(tx, caseId, "case.resolved", idemKey, { outcome, ...detail }, { actor, at: now });
    return { ...as, status: "resolved" as const, resolvedAt: now, resolved: true, secondsOpen, outcome };
  });
}

/** What a customer's open case still needs queued (see caseFollowUps). */
export interface CaseFollowUps {
  caseId: string;
  severity: Severity;
  needsCheck: boolean;
  waitUntil: Date | null;
}

/** The open case's columns caseFollowUps reads, for `cases c`. */
const followUpColumns = (sql: Q) => sql`
  c.id, c.severity, c.advocate_id, c.wait_until, (c.advocate_id is null and c.wait_until > now()) as waiting,
  not exists (select 1 from messages m where m.case_id = c.id and m.idem_key = c.id || ':check')
    and not exists (select 1 from case_timeline t where t.case_id = c.id and t.kind = 'contact.decided') as needs_check`;

const followUps = (c: postgres.Row | undefined): CaseFollowUps | undefined =>
  c?.id
    ? {
        caseId: c.id as string,
        severity: c.severity as Severity,
        needsCheck: c.needs_check as boolean,
        waitUntil: c.waiting ? (c.wait_until as Date) : null,
      }
    : undefined;

/**
 * What a customer's open case still needs queued, read from the database rather than remembered:
 * a cases job that dies after its transaction committed is retried with nothing left to link,
 * and must still queue the check and the reroute the first attempt never got to.
 */
export async function caseFollowUps(sql: Q, customerId: string): Promise<CaseFollowUps | undefined> {
  const [c] = await sql`
    select ${followUpColumns(sql)} from cases c where c.customer_id = ${customerId} and c.status = 'open'`;
  return followUps(c);
}

/**
 * What a cases job finds, in one statement: whether the customer has live decisions no case has
 * yet (then the job opens or joins their case, in a transaction), and else what their open case
 * still needs queued. Most jobs find nothing to link (an earlier job of the customer took it),
 * and so need no transaction at all.
 */
export async function caseJobState(
  sql: Q,
  customerId: string,
): Promise<{ unlinked: boolean; followUps: CaseFollowUps | undefined }> {
  const [r] = await sql`
    select exists (select 1 from decisions d where d.customer_id = ${customerId} and d.case_id is null and d.mode = 'live') as unlinked,
      o.*
    from (select 1) as one left join lateral (
      select ${followUpColumns(sql)} from cases c where c.customer_id = ${customerId} and c.status = 'open'
    ) as o on true`;
  return { unlinked: r?.unlinked === true, followUps: followUps(r) };
}
