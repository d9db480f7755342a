/** Advocate routing: the customer's last advocate when they can take it, else the least-loaded one. Pure. */
import type { Severity } from "../rules/schema.ts";

export type AdvocateStatus = "online" | "away" | "offline";

export interface AdvocateLoad {
  id: string;
  name: string;
  team: string;
  status: AdvocateStatus;
  /** Most open cases this advocate takes at once. */
  capacity: number;
  /** Open cases assigned now. */
  open: number;
}

export type FallbackReason =
  | "no previous advocate"
  | "offline"
  | "away"
  | "at capacity"
  | "previous advocate unknown"
  | "in another team";

export interface RoutingChoice {
  advocateId: string | null;
  /** Why this advocate (or nobody): goes on the case timeline as written. */
  reason: string;
  /** Why the previous advocate was not chosen, when there was one to consider. */
  fallback?: FallbackReason;
  /** Keep the case for the previous advocate this long (minutes) before falling back. */
  waitMinutes?: number;
}

/**
 * How long a case waits for the customer's previous advocate when they are away or at capacity,
 * by severity, minutes. High severity never waits: the customer may be being robbed right now.
 * An offline advocate is off shift: nobody waits for them.
 */
export const WAIT_FOR_PREVIOUS: Record<Severity, number> = { high: 0, medium: 30, low: 240 };

/** Whether an advocate can take one more case now: online and under capacity. */
export const canTake = (a: AdvocateLoad) => a.status === "online" && a.open < a.capacity;

/**
 * Chooses who takes a case. `previousId` is the advocate who last helped the customer; `team` is
 * every advocate of the case's team with their load. `waitExpired` says the case has already
 * waited its time for the previous advocate.
 */
export function chooseAdvocate(input: {
  previousId: string | null;
  previous?: AdvocateLoad;
  team: readonly AdvocateLoad[];
  teamName: string;
  severity?: Severity;
  waitExpired?: boolean;
  wait?: Record<Severity, number>;
}): RoutingChoice {
  const { previousId, previous, team, teamName } = input;
  let fallback: FallbackReason;
  if (!previousId) fallback = "no previous advocate";
  else if (!previous) fallback = "previous advocate unknown";
  // Someone now in another team could not see the case: the customer's history stays on it.
  else if (previous.team !== teamName) fallback = "in another team";
  else if (canTake(previous)) {
    return { advocateId: previous.id, reason: `previous advocate ${previous.name} is online with capacity` };
  } else fallback = previous.status !== "online" ? previous.status : "at capacity";

  const waitMinutes = (input.wait ?? WAIT_FOR_PREVIOUS)[input.severity ?? "high"];
  if (
    previous &&
    (fallback === "away" || fallback === "at capacity") &&
    !input.waitExpired &&
    waitMinutes > 0
  ) {
    return {
      advocateId: null,
      fallback,
      waitMinutes,
      reason: `waiting up to ${waitMinutes} min for ${previous.name} (${fallback}), who helped this customer before; ${input.severity} severity`,
    };
  }

  const who = previous
    ? `${previous.name} is ${fallback}${input.waitExpired ? " after the wait" : ""}`
    : fallback;
  const candidates = team
    .filter(canTake)
    .sort((a, b) => a.open - b.open || a.open / a.capacity - b.open / b.capacity || a.id.localeCompare(b.id));
  const pick = candidates[0];
  if (!pick) {
    return {
      advocateId: null,
      fallback,
      reason: `${who}; no advocate of team ${teamName} is online with capacity: waiting`,
    };
  }
  return {
    advocateId: pick.id,
    fallback,
    reason: `${who}; least-loaded online advocate of team ${teamName} (${pick.open} open of ${pick.capacity})`,
  };
}

/** How a case changes hands by a person: taken by an advocate, handed to a colleague, or moved by a supervisor. */
export type TransferKind = "claim" | "handoff" | "reassign";

/**
 * Why a case may not go to `to` this way, in words for the person who asked; undefined when it
 * may. The same routing rules as automatic assignment: the case's team, online, under capacity.
 * Pure.
 */
export function transferProblem(input: {
  kind: TransferKind;
  case: { status: string; team: string; advocateId: string | null; advocateName?: string | null };
  to: AdvocateLoad | undefined;
  toId: string;
  by: { role: string; advocateId?: string | null };
}): string | undefined {
  const { kind, to, by } = input;
  const c = input.case;
  if (c.status !== "open") return "the case is resolved";
  if (kind === "claim") {
    if (!by.advocateId || by.advocateId !== input.toId)
      return "an advocate claims a case for themselves only";
    if (c.advocateId === by.advocateId) return "the case is already yours";
    if (c.advocateId) return `the case is with ${c.advocateName ?? c.advocateId}; ask them or a supervisor`;
  }
  if (kind === "handoff" && by.role === "advocate" && c.advocateId !== by.advocateId)
    return "only the advocate holding the case, or a supervisor, hands it over";
  if (kind === "reassign" && by.role !== "supervisor" && by.role !== "admin")
    return "only a supervisor reassigns a case";
  if (!to) return `no advocate ${input.toId}`;
  if (kind !== "claim" && c.advocateId === to.id) return `the case is already with ${to.name}`;
  // Another team's advocate is named by nothing here: their existence is not the caller's to learn.
  if (to.team !== c.team) return `no advocate ${input.toId} in team ${c.team}`;
  if (to.status !== "online") return `${to.name} is ${to.status}`;
  if (to.open >= to.capacity) return `${to.name} has ${to.open} open cases, their capacity`;
  return undefined;
}
