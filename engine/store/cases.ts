/**
 * Cases: opening or joining a customer's one open case, routing it, confirming and resolving it.
 * Every step a retry could repeat is keyed on the timeline; row locks order concurrent workers.
 */
import { assertResolvable, type CaseOutcome, maxSeverity, newCaseId } from "../cases/cases.ts";
import { chooseAdvocate } from "../cases/routing.ts";
import { NotFoundError } from "../errors.ts";
import type { Severity } from "../rules/schema.ts";
import type { Q, Sql } from "./database.ts";
import { advocateLoads } from "./people.ts";
import { addTimeline } from "./timeline.ts";
import { type OwedJob, recordOwed } from "./work.ts";

export interface CaseUpdate {
  caseId: string;
  created: boolean;
  linked: number;
  advocateId: string | null;
  severity: Severity;
  /** The case became more severe with this update (a reason to contact the customer sooner). */
  escalated: boolean;
  /** The case waits for the customer's previous advocate until then; reroute it at that time. */
  waitUntil: Date | null;
}

/**
 * Puts a customer's unlinked decisions on their open case, opening (and routing) one if there is
 * none. Safe to run twice and concurrently: the partial unique index allows one open case per
 * customer, and every timeline step has its idempotency key.
 *
 * `owing` names the work the update makes owed (the check text, the end of a wait); it is
 * recorded in the same transaction, so a case is never committed without it: should the job
 * that opened it then be lost with Redis, the reconciler still finds its text owed.
 */
export async function openOrJoinCase(
  sql: Sql,
  customerId: string,
  now: Date,
  owing: (update: CaseUpdate) => readonly OwedJob[] = () => [],
): Promise<CaseUpdate | undefined> {
  return sql.begin(async (tx) => {
    const decisions = await tx`
      select d.id, d.event_id, d.rule, d.severity, d.title, d.team, d.decided_at, e.occurred_at
      from decisions d join events e on e.id = d.event_id
      where d.customer_id = ${customerId} and d.case_id is null and d.mode = 'live' order by e.occurred_at, d.id for update of d`;
    if (decisions.length === 0) return undefined;
    const first = decisions[0]!;
    const severity = decisions.reduce<Severity>((s, d) => maxSeverity(s, d.severity), "low");
    const top = decisions.find((d) => d.severity === severity) ?? first;

    const inserted = await tx`
      insert into cases (id, customer_id, severity, team, title, opened_at, first_decision_at)
      values (${newCaseId(now)}, ${customerId}, ${severity}, ${top.team}, ${top.title}, ${now}, ${first.decided_at})
      on conflict (customer_id) where status = 'open' do nothing returning id`;
    const created = inserted.length > 0;
    const [kase] =
      await tx`select id, severity, advocate_id from cases where customer_id = ${customerId} and status = 'open' for update`;
    const caseId = kase!.id as string;

    if (created) {
      await addTimeline(
        tx,
        caseId,
        "case.opened",
        `opened:${caseId}`,
        { severity, title: top.title, team: top.team },
        { at: now },
      );
    }
    const escalated = !created && maxSeverity(kase!.severity, severity) !== kase!.severity;
    if (escalated) {
      await tx`update cases set severity = ${severity}, updated_at = now() where id = ${caseId}`;
      await addTimeline(
        tx,
        caseId,
        "case.escalated",
        `escalated:${caseId}:${severity}`,
        { from: kase!.severity, to: severity },
        { at: now },
      );
    }
    await tx`update decisions set case_id = ${caseId} where id = any(${decisions.map((d) => d.id)})`;
    for (const d of decisions) {
      await addTimeline(
        tx,
        caseId,
        "evidence.added",
        `decision:${d.id}`,
        { decisionId: String(d.id), eventId: d.event_id, rule: d.rule, severity: d.severity, title: d.title },
        { at: now },
      );
    }

    let advocateId = kase!.advocate_id as string | null;
    let waitUntil: Date | null = null;
    if (escalated && !advocateId) {
      // More urgent now: a high case stops waiting for the customer's advocate; others wait less.
      const assigned = await assignCase(tx, caseId, now, "case escalated");
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    if (created) {
      await tx`
        update cases set preferred_advocate_id = (select last_advocate_id from customers where id = ${customerId})
        where id = ${caseId}`;
      const assigned = await assignCase(tx, caseId, now, "case opened");
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    const update: CaseUpdate = {
      caseId,
      created,
      escalated,
      waitUntil,
      linked: decisions.length,
      advocateId,
      severity: maxSeverity(kase!.severity, severity),
    };
    for (const job of owing(update)) await recordOwed(tx, job);
    return update;
  });
}

/**
 * Assigns an open, unassigned case: to the customer's previous advocate if they can take it; else,
 * by severity, waits a while for them (setting `wait_until`); else to the least-loaded advocate of
 * the team. Every change goes on the timeline with its reason. Call inside a transaction.
 */
async function assignCase(
  tx: Q,
  caseId: string,
  now: Date,
  trigger: string,
  opts: { waitOver?: boolean } = {},
): Promise<{ advocateId: string | null; waitUntil: Date | null } | undefined> {
  const [c] = await tx`
    select id, customer_id, team, severity, status, advocate_id, preferred_advocate_id, wait_until
    from cases where id = ${caseId} for update`;
  if (!c || c.status !== "open" || c.advocate_id) return undefined;
  const previousId = (c.preferred_advocate_id as string | null) ?? null;
  const loads = await advocateLoads(tx, tx`a.team = ${c.team} or a.id = ${previousId}`);
  const previous = loads.find((a) => a.id === previousId);
  const waitUntil = (c.wait_until as Date | null) ?? null;
  const choice = chooseAdvocate({
    previousId,
    ...(previous ? { previous } : {}),
    team: loads.filter((a) => a.team === c.team),
    teamName: c.team,
    severity: c.severity,
    waitExpired: waitUntil !== null && (opts.waitOver === true || waitUntil <= now),
  });
  const [{ n }] = (await tx`
    select count(*)::int as n from case_timeline where case_id = ${caseId} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
    { n: number },
  ];
  const step = (kind: "case.assigned" | "case.unassigned", detail: object) =>
    addTimeline(
      tx,
      caseId,
      kind,
      `assigned:${caseId}:${n}`,
      { ...detail, trigger, previousAdvocateId: previousId },
      { at: now },
    );

  if (choice.waitMinutes) {
    if (waitUntil) {
      // Still waiting; new evidence may have made the case more urgent, so the wait can only shorten.
      const capped = new Date(Math.min(waitUntil.getTime(), now.getTime() + choice.waitMinutes * 60_000));
      if (capped < waitUntil)
        await tx`update cases set wait_until = ${capped}, updated_at = now() where id = ${caseId}`;
      return { advocateId: null, waitUntil: capped };
    }
    const until = new Date(now.getTime() + choice.waitMinutes * 60_000);
    await tx`update cases set wait_until = ${until}, updated_at = now() where id = ${caseId}`;
    await step("case.unassigned", {
      advocateId: null,
      advocateName: null,
      reason: choice.reason,
      fallback: choice.fallback ?? null,
      waitUntil: until.toISOString(),
    });
    return { advocateId: null, waitUntil: until };
  }
  if (!choice.advocateId) {
    const detail = {
      advocateId: null,
      advocateName: null,
      reason: choice.reason,
      fallback: choice.fallback ?? null,
    };
    if (waitUntil && (opts.waitOver || waitUntil <= now)) {
      // Said once per wait, however often the reroute runs again.
      await addTimeline(
        tx,
        caseId,
        "case.unassigned",
        `waitover:${caseId}:${waitUntil.getTime()}`,
        {
          ...detail,
          trigger,
          previousAdvocateId: previousId,
        },
        { at: now },
      );
    } else if (n === 0) {
      await step("case.unassigned", detail);
    }
    return { advocateId: null, waitUntil: null };
  }
  const adv = loads.find((a) => a.id === choice.advocateId)!;
  await tx`update cases set advocate_id = ${adv.id}, wait_until = null, updated_at = now() where id = ${caseId}`;
  await tx`update customers set last_advocate_id = ${adv.id} where id = ${c.customer_id}`;
  await step("case.assigned", {
    advocateId: adv.id,
    advocateName: adv.name,
    reason: choice.reason,
    fallback: choice.fallback ?? null,
  });
  return { advocateId: adv.id, waitUntil: null };
}

/** A case that waited for its customer's previous advocate: assign it now, one way or the other. */
export async function rerouteCase(sql: Sql, caseId: string, now: Date) {
  // The delayed job fires when the wait ends: it is the authority on "over", whatever the clocks say.
  return sql.begin((tx) => assignCase(tx, caseId, now, "wait over", { waitOver: true }));
}

/** Gives waiting (unassigned) open cases of a team to whoever can take them now. */
export async function assignWaitingCases(sql: Sql, team: string, now: Date): Promise<number> {
  const waiting = await sql`
    select c.id from cases c left join advocates p on p.id = c.preferred_advocate_id
    where c.status = 'open' and c.advocate_id is null and (c.team = ${team} or p.team = ${team}) order by c.opened_at`;
  let assigned = 0;
  for (const w of waiting) {
    const r = await sql.begin((tx) => assignCase(tx, w.id, now, "an advocate came online"));
    if (r?.advocateId) assigned++;
  }
  return assigned;
}

/**
 * The customer's previous advocate is back: open cases that fell back to someone else, who has
 * not yet acted on them (no note, no call), go back to the advocate the customer knows.
 */
export async function returnCasesToPreferred(sql: Sql, advocateId: string, now: Date): Promise<number> {
  const candidates = await sql`
    select c.id from cases c
    where c.status = 'open' and c.preferred_advocate_id = ${advocateId} and c.advocate_id is not null and c.advocate_id <> ${advocateId}
      and not exists (select 1 from case_timeline t where t.case_id = c.id and t.actor = c.advocate_id)
    order by c.opened_at`;
  let moved = 0;
  for (const cand of candidates) {
    const ok = await sql.begin(async (tx) => {
      const [c] =
        await tx`select id, customer_id, advocate_id, status from cases where id = ${cand.id} for update`;
      if (!c || c.status !== "open" || !c.advocate_id || c.advocate_id === advocateId) return false;
      const [me] = await advocateLoads(tx, tx`a.id = ${advocateId}`);
      if (!me || me.status !== "online" || me.open >= me.capacity) return false;
      const [{ n }] = (await tx`
        select count(*)::int as n from case_timeline where case_id = ${c.id} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
        { n: number },
      ];
      const [from] = await tx`select name from advocates where id = ${c.advocate_id}`;
      await tx`update cases set advocate_id = ${advocateId}, updated_at = now() where id = ${c.id}`;
      await tx`update customers set last_advocate_id = ${advocateId} where id = ${c.customer_id}`;
      await addTimeline(
        tx,
        c.id,
        "case.assigned",
        `assigned:${c.id}:${n}`,
        {
          advocateId,
          advocateName: me.name,
          reason: `${me.name}, who helped this customer before, is back; ${from?.name ?? c.advocate_id} had not started on it`,
          trigger: "previous advocate back",
          previousAdvocateId: advocateId,
        },
        { at: now },
      );
      return true;
    });
    if (ok) moved++;
  }
  return moved;
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
    assertResolvable(c as { id: string; status: "open" });
    await tx`update cases set status = 'resolved', outcome = ${outcome}, resolved_at = ${now}, updated_at = now() where id = ${caseId}`;
    await addTimeline(tx, caseId, "case.resolved", idemKey, { outcome, ...detail }, { actor, at: now });
    return { ...as, status: "resolved" as const, resolvedAt: now, resolved: true, secondsOpen, outcome };
  });
}

/**
 * What a customer's open case still needs queued, read from the database rather than remembered:
 * a cases job that dies after its transaction committed is retried with nothing left to link,
 * and must still queue the check and the reroute the first attempt never got to.
 */
export async function caseFollowUps(sql: Q, customerId: string) {
  const [c] = await sql`
    select c.id, c.severity, c.advocate_id, c.wait_until, (c.advocate_id is null and c.wait_until > now()) as waiting,
      not exists (select 1 from messages m where m.case_id = c.id and m.idem_key = c.id || ':check')
        and not exists (select 1 from case_timeline t where t.case_id = c.id and t.kind = 'contact.decided') as needs_check
    from cases c where c.customer_id = ${customerId} and c.status = 'open'`;
  if (!c) return undefined;
  return {
    caseId: c.id as string,
    severity: c.severity as Severity,
    needsCheck: c.needs_check as boolean,
    waitUntil: c.waiting ? (c.wait_until as Date) : null,
  };
}
