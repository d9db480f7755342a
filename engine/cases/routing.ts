/** Advocate routing: the customer's last advocate when they can take it, else the least-loaded one. Pure. */

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
  | "previous advocate unknown";

export interface RoutingChoice {
  advocateId: string | null;
  /** Why this advocate (or nobody): goes on the case timeline as written. */
  reason: string;
  /** Why the previous advocate was not chosen, when there was one to consider. */
  fallback?: FallbackReason;
}

const canTake = (a: AdvocateLoad) => a.status === "online" && a.open < a.capacity;

/**
 * Chooses who takes a new case. `previousId` is the advocate who last helped the customer;
 * `team` is every advocate of the case's team with their load.
 */
export function chooseAdvocate(input: {
  previousId: string | null;
  previous?: AdvocateLoad;
  team: readonly AdvocateLoad[];
  teamName: string;
}): RoutingChoice {
  const { previousId, previous, team, teamName } = input;
  let fallback: FallbackReason;
  if (!previousId) fallback = "no previous advocate";
  else if (!previous) fallback = "previous advocate unknown";
  else if (canTake(previous)) {
    return { advocateId: previous.id, reason: `previous advocate ${previous.name} is online with capacity` };
  } else fallback = previous.status !== "online" ? previous.status : "at capacity";

  const who = previous ? `${previous.name} is ${fallback}` : fallback;
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
