/**
 * The experience report: what the bank's outreach did to its customers in a window, for a team or
 * all. Computed by `figures.ts` (pure functions over rows) from what `queries.ts` reads; served by
 * `GET /v1/experience` and drawn by `/desk/experience`. Durations are seconds.
 */

/** A duration's distribution: null percentiles when nothing was measured (`count` 0). */
export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** A share: `count` of `of`, and their ratio (null when `of` is 0). */
export interface Share {
  count: number;
  of: number;
  share: number | null;
}

export interface RuleCost {
  rule: string;
  /** Customers contacted (any outbound message or call) in a case this rule fired in that ended a false alarm. */
  customersContactedForNothing: number;
  /** The same per 1,000 customers with any event in the window (null when none had one). */
  per1000Customers: number | null;
  /** Of the rule's cases resolved in the window: confirmed fraud / (confirmed fraud + false alarm). */
  precision: number | null;
  confirmed: number;
  falseAlarms: number;
}

export interface FeedbackGroup {
  /** A team, an advocate's id or a rule's name. */
  key: string;
  /** An advocate's name, where the key is an advocate. */
  name?: string;
  answered: number;
  /** Mean score, 1 (poor) to 5 (great). */
  mean: number | null;
}

export interface ExperienceDay {
  /** YYYY-MM-DD (UTC). */
  day: string;
  casesOpened: number;
  casesResolved: number;
  resolvedByCustomer: number;
  firstContactP50: number | null;
}

export interface ExperienceReport {
  window: { since: string; until: string; team: string | null };
  /** Cases opened in the window. */
  cases: number;
  /** From the suspicious event's arrival (its `received_at`) to the case's first outbound contact attempt. */
  timeToFirstContact: Percentiles & { deferredByQuietHours: number };
  /** From the suspicious event's arrival to the customer's first answer (any inbound message on the case). */
  timeToFirstAnswer: Percentiles;
  /** Resolved cases the customer settled alone: resolved by their answer, with no advocate action. */
  resolvedByCustomer: Share;
  /** Every outbound message and call of the window's cases. */
  contactsPerCase: { mean: number | null; max: number; casesAtCap: number };
  /** Customers with any event in the window: the denominator of `perRule[].per1000Customers`. */
  customersWithEvents: number;
  perRule: RuleCost[];
  /** Cases of customers who had a case before: routed to the advocate of their previous case. */
  sameAdvocate: Share;
  /** From opening to resolution, of the cases resolved in the window. */
  timeToResolution: Percentiles;
  /** Open cases waiting on the bank (the customer answered last, or nothing was sent), longest first (at most 10). */
  waitingOnBank: Array<{
    caseId: string;
    customerId: string;
    advocateId: string | null;
    since: string;
    seconds: number;
  }>;
  /** Customers who opted out (STOP) after a fraud contact in the window. */
  optOutsAfterContact: number;
  feedback: {
    asked: number;
    answered: number;
    mean: number | null;
    byTeam: FeedbackGroup[];
    byAdvocate: FeedbackGroup[];
    byRule: FeedbackGroup[];
  };
  /** Per UTC day of the window, for plots. */
  days: ExperienceDay[];
}
