/**
 * Routing applied: who takes an open, unassigned case, chosen by `chooseAdvocate` (pure) from
 * what the store reads under the case's and the candidates' row locks, then written back with
 * its reason on the timeline.
 */
import {
  assignCaseTo,
  assignmentSteps,
  casesFallenBack,
  lockCaseForRouting,
  type RoutingCase,
  returnCaseTo,
  setCaseWait,
  waitingCaseIds,
} from "../store/cases.ts";
import type { Q, Sql } from "../store/database.ts";
import { advocateName, lockAdvocateLoad, routingCandidates } from "../store/people.ts";
import { addTimeline, addTimelineEntries, type TimelineEntry } from "../store/timeline.ts";
import { canTake, chooseAdvocate } from "./routing.ts";

/**
 * Assigns an open, unassigned case: to the customer's previous advocate if they can take it; else,
 * by severity, waits a while for them (setting `wait_until`); else to the least-loaded advocate of
 * the team. Every change goes on the timeline with its reason. Call inside a transaction.
 *
 * `opened`: the case as this transaction inserted it (so locked, and with no assignment step
 * yet), which spares reading it again. `timeline`: where the step goes for the caller to write
 * with its other steps (in one statement); written here when absent.
 */
export async function assignCase(
  tx: Q,
  caseId: string,
  now: Date,
  trigger: string,
  opts: { waitOver?: boolean; opened?: RoutingCase; timeline?: TimelineEntry[] } = {},
): Promise<{ advocateId: string | null; waitUntil: Date | null } | undefined> {
  const c = opts.opened ?? (await lockCaseForRouting(tx, caseId));
  if (!c || c.status !== "open" || c.advocateId) return undefined;
  const previousId = c.preferredAdvocateId;
  // Counted after the case's lock (a count read before it could be stale): side by side with the candidates.
  const [loads, n] = await Promise.all([
    routingCandidates(tx, c.team, previousId),
    opts.opened ? 0 : assignmentSteps(tx, caseId),
  ]);
  const previous = loads.find((a) => a.id === previousId);
  const waitUntil = c.waitUntil;
  const choice = chooseAdvocate({
    previousId,
    ...(previous ? { previous } : {}),
    team: loads.filter((a) => a.team === c.team),
    teamName: c.team,
    severity: c.severity,
    waitExpired: waitUntil !== null && (opts.waitOver === true || waitUntil <= now),
  });
  const steps: TimelineEntry[] = [];
  const step = (kind: "case.assigned" | "case.unassigned", detail: object) =>
    steps.push({
      caseId,
      kind,
      idemKey: `assigned:${caseId}:${n}`,
      detail: { ...detail, trigger, previousAdvocateId: previousId },
      at: now,
    });
  const done = async <T>(result: T): Promise<T> => {
    if (opts.timeline) opts.timeline.push(...steps);
    else await addTimelineEntries(tx, steps);
    return result;
  };

  if (choice.waitMinutes) {
    if (waitUntil) {
      // Still waiting; new evidence may have made the case more urgent, so the wait can only shorten.
      const capped = new Date(Math.min(waitUntil.getTime(), now.getTime() + choice.waitMinutes * 60_000));
      if (capped < waitUntil) await setCaseWait(tx, caseId, capped);
      return done({ advocateId: null, waitUntil: capped });
    }
    const until = new Date(now.getTime() + choice.waitMinutes * 60_000);
    await setCaseWait(tx, caseId, until);
    step("case.unassigned", {
      advocateId: null,
      advocateName: null,
      reason: choice.reason,
      fallback: choice.fallback ?? null,
      waitUntil: until.toISOString(),
    });
    return done({ advocateId: null, waitUntil: until });
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
      steps.push({
        caseId,
        kind: "case.unassigned",
        idemKey: `waitover:${caseId}:${waitUntil.getTime()}`,
        detail: { ...detail, trigger, previousAdvocateId: previousId },
        at: now,
      });
    } else if (n === 0) {
      step("case.unassigned", detail);
    }
    return done({ advocateId: null, waitUntil: null });
  }
  const adv = loads.find((a) => a.id === choice.advocateId)!;
  await assignCaseTo(tx, caseId, c.customerId, adv.id);
  step("case.assigned", {
    advocateId: adv.id,
    advocateName: adv.name,
    reason: choice.reason,
    fallback: choice.fallback ?? null,
  });
  return done({ advocateId: adv.id, waitUntil: null });
}

/** A case that waited for its customer's previous advocate: assign it now, one way or the other. */
export async function rerouteCase(sql: Sql, caseId: string, now: Date) {
  // The delayed job fires when the wait ends: it is the authority on "over", whatever the clocks say.
  return sql.begin((tx) => assignCase(tx, caseId, now, "wait over", { waitOver: true }));
}

/** Gives waiting (unassigned) open cases of a team to whoever can take them now. */
export async function assignWaitingCases(sql: Sql, team: string, now: Date): Promise<number> {
  const waiting = await waitingCaseIds(sql, team);
  let assigned = 0;
  for (const id of waiting) {
    const r = await sql.begin((tx) => assignCase(tx, id, now, "an advocate came online"));
    if (r?.advocateId) assigned++;
  }
  return assigned;
}

/**
 * The customer's previous advocate is back: open cases that fell back to someone else, who has
 * not yet acted on them (no note, no call), go back to the advocate the customer knows.
 */
export async function returnCasesToPreferred(sql: Sql, advocateId: string, now: Date): Promise<number> {
  const candidates = await casesFallenBack(sql, advocateId);
  let moved = 0;
  for (const id of candidates) {
    const ok = await sql.begin(async (tx) => {
      const c = await lockCaseForRouting(tx, id);
      if (!c || c.status !== "open" || !c.advocateId || c.advocateId === advocateId) return false;
      const me = await lockAdvocateLoad(tx, advocateId);
      if (!me || !canTake(me)) return false;
      const n = await assignmentSteps(tx, c.id);
      const from = await advocateName(tx, c.advocateId);
      await returnCaseTo(tx, c.id, c.customerId, advocateId);
      await addTimeline(
        tx,
        c.id,
        "case.assigned",
        `assigned:${c.id}:${n}`,
        {
          advocateId,
          advocateName: me.name,
          reason: `${me.name}, who helped this customer before, is back; ${from ?? c.advocateId} had not started on it`,
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
