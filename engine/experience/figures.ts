/**
 * The experience figures, defined once: pure functions from the rows `queries.ts` reads to the
 * `ExperienceReport` (see report.ts for what each figure counts). Time is passed in, never read.
 */
import type {
  ExperienceDay,
  ExperienceReport,
  FeedbackGroup,
  Percentiles,
  RuleCost,
  Share,
} from "./report.ts";

/** One case, as the figures need it: opened or resolved in the window, or open now. */
export interface CaseRow {
  id: string;
  customerId: string;
  team: string;
  status: "open" | "resolved";
  outcome: "confirmed_fraud" | "false_alarm" | null;
  openedAt: Date;
  resolvedAt: Date | null;
  /** The advocate who has the case now. */
  advocateId: string | null;
  /** When the earliest event that fired a rule of the case reached touchpoint. */
  firstEventAt: Date | null;
  /** The rules that fired in the case. */
  rules: string[];
  /** Outbound messages (texts and calls) of the case: how many, the first and the last. */
  outbound: number;
  firstOutboundAt: Date | null;
  lastOutboundAt: Date | null;
  /** Inbound messages of the case: the first and the last. */
  firstInboundAt: Date | null;
  lastInboundAt: Date | null;
  /** The contact policy deferred a text of the case to the morning. */
  deferredByQuietHours: boolean;
  /** The contact policy held a text of the case back at a cap (the incident's, or the customer's 3 days). */
  atCap: boolean;
  /** Who resolved it (`customer:<id>` when their answer did), null while open. */
  resolvedBy: string | null;
  /** A person of the bank acted on the case (claimed, wrote, noted, handed over, acted, resolved). */
  bankActed: boolean;
  /** The advocate it was first assigned to. */
  firstAdvocateId: string | null;
  /** The customer had a case opened before this one; and that case's advocate. */
  returning: boolean;
  previousAdvocateId: string | null;
}

export interface FeedbackRow {
  caseId: string;
  team: string;
  advocateId: string | null;
  advocateName: string | null;
  rules: string[];
  askedAt: Date;
  score: number | null;
}

export interface ExperienceRows {
  cases: CaseRow[];
  /** Distinct customers with any event received in the window. */
  customersWithEvents: number;
  /** Customers who opted out (STOP) in the window after a fraud text of the bank's. */
  optOutsAfterContact: number;
  feedback: FeedbackRow[];
}

export interface ExperienceWindow {
  since: Date;
  until: Date;
  team?: string;
}

const DAY_MS = 86_400_000;
/** The longest wait-on-the-bank list a report carries. */
const WAITING_SHOWN = 10;

/** Nearest-rank percentiles (p50, p90, p99) of durations in seconds; null where there are none. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

function share(count: number, of: number): Share {
  return { count, of, share: of === 0 ? null : count / of };
}

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);
const within = (at: Date | null, w: ExperienceWindow): at is Date =>
  at !== null && at >= w.since && at < w.until;
const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** The customer settled the case alone: their answer resolved it and no one at the bank had to act. */
export function resolvedByCustomer(c: CaseRow): boolean {
  return c.status === "resolved" && (c.resolvedBy?.startsWith("customer:") ?? false) && !c.bankActed;
}

/** From the suspicious event's arrival to the case's first outbound contact, seconds; undefined when none. */
function firstContactSeconds(c: CaseRow): number | undefined {
  return c.firstEventAt && c.firstOutboundAt ? seconds(c.firstEventAt, c.firstOutboundAt) : undefined;
}

/** The case waits on the bank: the customer spoke last, or nothing was sent yet. Since when, or undefined. */
export function waitingOnBankSince(c: CaseRow): Date | undefined {
  if (c.status !== "open") return undefined;
  if (c.lastInboundAt && (!c.lastOutboundAt || c.lastInboundAt > c.lastOutboundAt)) return c.lastInboundAt;
  if (c.outbound === 0) return c.openedAt;
  return undefined;
}

function perRule(resolved: readonly CaseRow[], customersWithEvents: number): RuleCost[] {
  const by = new Map<string, { confirmed: number; falseAlarms: number; bothered: Set<string> }>();
  for (const c of resolved) {
    for (const rule of new Set(c.rules)) {
      const r = by.get(rule) ?? { confirmed: 0, falseAlarms: 0, bothered: new Set<string>() };
      by.set(rule, r);
      if (c.outcome === "confirmed_fraud") r.confirmed++;
      if (c.outcome === "false_alarm") {
        r.falseAlarms++;
        if (c.outbound > 0) r.bothered.add(c.customerId);
      }
    }
  }
  return [...by]
    .map(([rule, r]) => ({
      rule,
      customersContactedForNothing: r.bothered.size,
      per1000Customers: customersWithEvents === 0 ? null : (r.bothered.size / customersWithEvents) * 1000,
      precision: r.confirmed + r.falseAlarms === 0 ? null : r.confirmed / (r.confirmed + r.falseAlarms),
      confirmed: r.confirmed,
      falseAlarms: r.falseAlarms,
    }))
    .sort(
      (a, b) =>
        b.customersContactedForNothing - a.customersContactedForNothing || a.rule.localeCompare(b.rule),
    );
}

function groups(
  rows: readonly FeedbackRow[],
  keys: (f: FeedbackRow) => Array<{ key: string; name?: string }>,
) {
  const by = new Map<string, { name?: string; scores: number[] }>();
  for (const f of rows) {
    if (f.score === null) continue;
    for (const { key, name } of keys(f)) {
      const g = by.get(key) ?? { ...(name ? { name } : {}), scores: [] };
      by.set(key, g);
      g.scores.push(f.score);
    }
  }
  return [...by]
    .map(
      ([key, g]): FeedbackGroup => ({
        key,
        ...(g.name ? { name: g.name } : {}),
        answered: g.scores.length,
        mean: mean(g.scores),
      }),
    )
    .sort((a, b) => a.key.localeCompare(b.key));
}

function days(
  w: ExperienceWindow,
  opened: readonly CaseRow[],
  resolved: readonly CaseRow[],
): ExperienceDay[] {
  const out: ExperienceDay[] = [];
  const first = Math.floor(w.since.getTime() / DAY_MS) * DAY_MS;
  // A window is at most a year (the API refuses longer), so at most 367 days.
  for (let d = first; d < w.until.getTime() && out.length < 367; d += DAY_MS) {
    const on = (at: Date | null) => at !== null && at.getTime() >= d && at.getTime() < d + DAY_MS;
    const openedThen = opened.filter((c) => on(c.openedAt));
    const resolvedThen = resolved.filter((c) => on(c.resolvedAt));
    out.push({
      day: new Date(d).toISOString().slice(0, 10),
      casesOpened: openedThen.length,
      casesResolved: resolvedThen.length,
      resolvedByCustomer: resolvedThen.filter(resolvedByCustomer).length,
      firstContactP50: percentiles(openedThen.flatMap((c) => firstContactSeconds(c) ?? [])).p50,
    });
  }
  return out;
}

/** The report of a window from its rows, as of `now` (for what waits on the bank). */
export function experienceFigures(rows: ExperienceRows, w: ExperienceWindow, now: Date): ExperienceReport {
  const mine = rows.cases.filter((c) => w.team === undefined || c.team === w.team);
  const opened = mine.filter((c) => within(c.openedAt, w));
  const resolved = mine.filter((c) => within(c.resolvedAt, w));
  const returning = opened.filter((c) => c.returning && c.previousAdvocateId !== null);
  const waiting = mine
    .flatMap((c) => {
      const since = waitingOnBankSince(c);
      return since
        ? [
            {
              caseId: c.id,
              customerId: c.customerId,
              advocateId: c.advocateId,
              since: since.toISOString(),
              seconds: seconds(since, now),
            },
          ]
        : [];
    })
    .sort((a, b) => b.seconds - a.seconds || a.caseId.localeCompare(b.caseId))
    .slice(0, WAITING_SHOWN);
  const feedback = rows.feedback.filter((f) => w.team === undefined || f.team === w.team);
  const scores = feedback.flatMap((f) => (f.score === null ? [] : [f.score]));
  return {
    window: { since: w.since.toISOString(), until: w.until.toISOString(), team: w.team ?? null },
    cases: opened.length,
    timeToFirstContact: {
      ...percentiles(opened.flatMap((c) => firstContactSeconds(c) ?? [])),
      deferredByQuietHours: opened.filter((c) => c.deferredByQuietHours).length,
    },
    timeToFirstAnswer: percentiles(
      opened.flatMap((c) =>
        c.firstEventAt && c.firstInboundAt ? [seconds(c.firstEventAt, c.firstInboundAt)] : [],
      ),
    ),
    resolvedByCustomer: share(resolved.filter(resolvedByCustomer).length, resolved.length),
    contactsPerCase: {
      mean: mean(opened.map((c) => c.outbound)),
      max: Math.max(0, ...opened.map((c) => c.outbound)),
      casesAtCap: opened.filter((c) => c.atCap).length,
    },
    customersWithEvents: rows.customersWithEvents,
    perRule: perRule(resolved, rows.customersWithEvents),
    sameAdvocate: share(
      returning.filter((c) => c.firstAdvocateId === c.previousAdvocateId).length,
      returning.length,
    ),
    timeToResolution: percentiles(resolved.map((c) => seconds(c.openedAt, c.resolvedAt!))),
    waitingOnBank: waiting,
    optOutsAfterContact: rows.optOutsAfterContact,
    feedback: {
      asked: feedback.length,
      answered: scores.length,
      mean: mean(scores),
      byTeam: groups(feedback, (f) => [{ key: f.team }]),
      byAdvocate: groups(feedback, (f) =>
        f.advocateId ? [{ key: f.advocateId, ...(f.advocateName ? { name: f.advocateName } : {}) }] : [],
      ),
      byRule: groups(feedback, (f) => [...new Set(f.rules)].map((key) => ({ key }))),
    },
    days: days(w, opened, resolved),
  };
}
