/**
 * Backtesting a ruleset: events (a stored time window, or a stream the risk team uploads) replayed
 * in event time through a scratch copy of the customer state (its own Redis prefix, deleted
 * afterwards), evaluated by the candidate and by the published ruleset side by side, and scored
 * against known outcomes: the cases those customers had, or the labels that came with the upload.
 * Rules that name lists see the lists as they are when the backtest starts (lists keep no
 * history of items a replay could go back to). It never touches cases, texts or the live state.
 */
import type { Redis } from "ioredis";
import type { TouchpointEvent } from "./events.ts";
import { CustomerState } from "./features/state.ts";
import { CompiledRuleset } from "./rules/compile.ts";
import { diffRuleFiles } from "./rules/diff.ts";
import { computeFacts, homeAmount } from "./rules/facts.ts";
import { type Lists, listItems, listsOf } from "./rules/lists.ts";
import type { RuleFile, RuleMode, Ruleset } from "./rules/schema.ts";
import type { Sql } from "./store/database.ts";
import { fxTable } from "./store/fx.ts";
import { listContents } from "./store/lists.ts";
import { customerProfiles } from "./store/people.ts";

export type Outcome = "confirmed_fraud" | "false_alarm";
/** What became of a matched event: its case's outcome, still open, or no case known. */
export type KnownOutcome = Outcome | "open" | "none";

/** How many matched events a report lists per rule and per change (the first, in event time); totals count them all. */
export const LISTED_EVENTS = 50;

/** One event a rule matched, as the risk team reads it: who, when, how much, where, and what came of it. */
export interface MatchedEvent {
  id: string;
  type: string;
  customerId: string;
  occurredAt: string;
  /** The payment's own amount; null for an event that is not a payment. */
  amount: { value: number; currency: string } | null;
  /** The amount in the customer's home currency, at the rates table's rates; null when unknown. */
  home: { value: number; currency: string } | null;
  merchant: string | null;
  place: { city: string | null; country: string } | null;
  /**
   * The outcome of the event's own case (a decision on it joined one), else none: never its
   * customer's outcome, which precision counts by but which says nothing of this payment.
   */
  outcome: KnownOutcome;
  caseId: string | null;
}

/** Money of matched payments in one home currency (major units): all, and by each payment's own known outcome. */
export interface Money {
  currency: string;
  payments: number;
  total: number;
  confirmedFraud: number;
  falseAlarms: number;
  open: number;
}

/** Events a rule (or a side) matched: how many, the first LISTED_EVENTS, and their money. */
export interface Matches {
  count: number;
  listed: MatchedEvent[];
  /** One entry per home currency (sums across currencies would mean nothing). */
  money: Money[];
  /** Payments whose home amount is unknown (no customer profile, or no rate): in no sum. */
  unconverted: number;
}

/** How a rule of the candidate stands against the published version. */
export type RuleChange = "added" | "changed" | "unchanged" | "removed";

export interface RuleScore {
  rule: string;
  mode: RuleMode;
  /** Candidate side: added, changed or unchanged; published side: unchanged, changed or removed. */
  change: RuleChange;
  hits: number;
  /** hits / events replayed. */
  hitRate: number;
  customers: number;
  /** Customers hit whose case was confirmed fraud / a false alarm. */
  confirmed: number;
  falseAlarms: number;
  /** confirmed / (confirmed + falseAlarms), null with no labelled customer. */
  precision: number | null;
  /** Of its hits, how many were on an event the other side also flagged. */
  overlap: number;
  /**
   * The events it matched. On the published side, listed only for a rule the candidate changes or
   * removes: an unchanged rule matches the same events on both sides (its count and money stay).
   */
  matched: Matches;
}

export interface BacktestReport {
  events: number;
  truncated: boolean;
  /** How many matched events each list holds at most. */
  listedPerRule: number;
  candidate: RuleScore[];
  published: RuleScore[];
  /** Rules of the candidate that hit nothing in the replay. */
  neverHit: string[];
  /** Customers the candidate would flag that the published ruleset does not, and the reverse. */
  newlyFlagged: string[];
  noLongerFlagged: string[];
  /**
   * The real differences, event by event: events the candidate's live rules flag that the
   * published live rules do not (and the reverse), with the rules that flag them. Unchanged rules
   * flag the same events on both sides, so only what the candidate adds, changes or removes shows.
   */
  changes: {
    newlyFlagged: Matches & { rules: Record<string, string[]> };
    noLongerFlagged: Matches & { rules: Record<string, string[]> };
  };
  /** Customers whose outcome was known: the denominator behind every precision. */
  labelledCustomers: number;
}

export type BacktestSource =
  | { kind: "window"; from: Date; to: Date }
  | { kind: "upload"; events: TouchpointEvent[]; labels: Record<string, Outcome> };

export interface BacktestInput {
  candidate: Ruleset;
  published: Ruleset;
  source: BacktestSource;
  maxEvents: number;
  /** Redis prefix of the scratch state: removed before (a retried run's leftovers) and after. */
  scratch: string;
  /** How many matched events each list holds at most (LISTED_EVENTS unless said). */
  listed?: number;
  onProgress?: (done: number, total: number) => Promise<void> | void;
}

/**
 * The ruleset a backtest tries: the published files with `files` added or replacing theirs of the
 * same name, and `remove` left out. A file tried alone is a change to the published set, not the
 * whole set: the rules it does not name are still there, and still flag who they flag.
 */
export function candidateFiles(
  published: readonly RuleFile[],
  files: readonly RuleFile[],
  remove: readonly string[] = [],
): RuleFile[] {
  const named = new Set([...files.map((f) => f.rule.name), ...remove]);
  return [...published.filter((f) => !named.has(f.rule.name)), ...files];
}

const BATCH = 500;
/**
 * A case labels the window when one of its decisions is about an event in it, or when it opened
 * in the window or up to this long after (outcomes come after the events; a replayed or late
 * stream opens its cases long after the events happened).
 */
const LABEL_GRACE_MS = 7 * 86_400_000;

async function dropScratch(redis: Redis, scratch: string): Promise<void> {
  const stream = redis.scanStream({ match: `${scratch}:*`, count: 1000 });
  for await (const keys of stream) if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
}

/** The replay's events, oldest first, a page at a time (keyset on occurred_at, id). */
async function* windowEvents(sql: Sql, from: Date, to: Date, max: number): AsyncGenerator<TouchpointEvent[]> {
  let after: { at: Date; id: string } | undefined;
  let left = max;
  while (left > 0) {
    const page = Math.min(BATCH, left);
    const rows = after
      ? await sql`
          select id, occurred_at, payload from events
          where occurred_at < ${to} and (occurred_at, id) > (${after.at}, ${after.id})
          order by occurred_at, id limit ${page}`
      : await sql`
          select id, occurred_at, payload from events
          where occurred_at >= ${from} and occurred_at < ${to}
          order by occurred_at, id limit ${page}`;
    if (rows.length === 0) return;
    yield rows.map((r) => r.payload as TouchpointEvent);
    left -= rows.length;
    const last = rows[rows.length - 1]!;
    after = { at: last.occurred_at as Date, id: last.id as string };
    if (rows.length < page) return;
  }
}

async function windowLabels(sql: Sql, from: Date, to: Date): Promise<Map<string, Outcome>> {
  const labels = new Map<string, Outcome>();
  for (const r of await sql`
    select c.customer_id, c.outcome from cases c
    where c.outcome is not null and (
      (c.opened_at >= ${from} and c.opened_at < ${new Date(to.getTime() + LABEL_GRACE_MS)})
      or exists (
        select 1 from decisions d
        where d.case_id = c.id and d.event_occurred_at >= ${from} and d.event_occurred_at < ${to}))`) {
    // A customer confirmed as defrauded once in the window counts as fraud.
    if (labels.get(r.customer_id) !== "confirmed_fraud") labels.set(r.customer_id, r.outcome);
  }
  return labels;
}

/** The event as a report lists it; `home` is its amount in the customer's home currency, if known. */
export function matchedEvent(
  e: TouchpointEvent,
  home: { value: number; currency: string } | undefined,
  known: { outcome: KnownOutcome; caseId: string | null },
): MatchedEvent {
  const tx = e.type === "card.transaction" ? e : undefined;
  const where = tx ? tx.merchant : "geo" in e ? e.geo : undefined;
  return {
    id: e.id,
    type: e.type,
    customerId: e.customerId,
    occurredAt: e.occurredAt,
    amount: tx ? { value: tx.amount.value, currency: tx.amount.currency } : null,
    home: home ? { value: home.value, currency: home.currency } : null,
    merchant: tx?.merchant.name ?? null,
    place: where ? { city: where.city ?? null, country: where.country } : null,
    outcome: known.outcome,
    caseId: known.caseId,
  };
}

/** Sums in cents, so that adding many payments gives the figure a person adding them would. */
class Tally {
  count = 0;
  listed: MatchedEvent[] = [];
  unconverted = 0;
  private cents = new Map<
    string,
    { payments: number; total: number; fraud: number; alarms: number; open: number }
  >();

  constructor(private readonly limit: number) {}

  add(m: MatchedEvent, list = true): void {
    this.count++;
    if (list && this.listed.length < this.limit) this.listed.push(m);
    if (!m.amount) return;
    if (!m.home) {
      this.unconverted++;
      return;
    }
    const c = this.cents.get(m.home.currency) ?? { payments: 0, total: 0, fraud: 0, alarms: 0, open: 0 };
    const v = Math.round(m.home.value * 100);
    c.payments++;
    c.total += v;
    if (m.outcome === "confirmed_fraud") c.fraud += v;
    if (m.outcome === "false_alarm") c.alarms += v;
    if (m.outcome === "open") c.open += v;
    this.cents.set(m.home.currency, c);
  }

  matches(): Matches {
    return {
      count: this.count,
      listed: this.listed,
      money: [...this.cents.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([currency, c]) => ({
          currency,
          payments: c.payments,
          total: c.total / 100,
          confirmedFraud: c.fraud / 100,
          falseAlarms: c.alarms / 100,
          open: c.open / 100,
        })),
      unconverted: this.unconverted,
    };
  }
}

/** Each rule of `after` against `before` by its rule alone (its test cases change no match). */
function ruleChanges(
  before: Ruleset,
  after: Ruleset,
): { after: Map<string, RuleChange>; before: Map<string, RuleChange> } {
  const d = diffRuleFiles(
    before.rules.map((rule) => ({ rule, tests: [] })),
    after.rules.map((rule) => ({ rule, tests: [] })),
  );
  const changed = new Set(d.changed.map((c) => c.rule));
  return {
    after: new Map(
      after.rules.map((r) => [
        r.name,
        d.added.includes(r.name) ? "added" : changed.has(r.name) ? "changed" : "unchanged",
      ]),
    ),
    before: new Map(
      before.rules.map((r) => [
        r.name,
        d.removed.includes(r.name) ? "removed" : changed.has(r.name) ? "changed" : "unchanged",
      ]),
    ),
  };
}

/** The case each event's decisions joined, if any: its id, and its outcome or "open". */
async function eventCases(
  sql: Sql,
  ids: string[],
): Promise<Map<string, { caseId: string; outcome: KnownOutcome }>> {
  const out = new Map<string, { caseId: string; outcome: KnownOutcome }>();
  if (ids.length === 0) return out;
  for (const r of await sql`
    select distinct on (d.event_id) d.event_id, c.id, c.outcome
    from decisions d join cases c on c.id = d.case_id
    where d.event_id = any(${ids})
    order by d.event_id, (c.outcome is null), c.opened_at`) {
    out.set(r.event_id as string, {
      caseId: r.id as string,
      outcome: (r.outcome as Outcome | null) ?? "open",
    });
  }
  return out;
}

export async function backtest(
  deps: { sql: Sql; redis: Redis },
  input: BacktestInput,
): Promise<BacktestReport> {
  const { sql, redis } = deps;
  const { source } = input;
  const limit = input.listed ?? LISTED_EVENTS;
  let total: number;
  let truncated: boolean;
  let labels: Map<string, Outcome>;
  let pages: AsyncIterable<TouchpointEvent[]>;
  if (source.kind === "window") {
    const [{ n }] = (await sql`
      select count(*)::int as n from (
        select 1 from events where occurred_at >= ${source.from} and occurred_at < ${source.to}
        limit ${input.maxEvents + 1}) w`) as unknown as [{ n: number }];
    truncated = n > input.maxEvents;
    total = Math.min(n, input.maxEvents);
    labels = await windowLabels(sql, source.from, source.to);
    pages = windowEvents(sql, source.from, source.to, total);
  } else {
    const sorted = [...source.events].sort(
      (a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.id.localeCompare(b.id),
    );
    truncated = sorted.length > input.maxEvents;
    const kept = sorted.slice(0, input.maxEvents);
    total = kept.length;
    labels = new Map(Object.entries(source.labels));
    pages = (async function* () {
      for (let i = 0; i < kept.length; i += BATCH) yield kept.slice(i, i + BATCH);
    })();
  }

  const sides = ["candidate", "published"] as const;
  type Side = (typeof sides)[number];
  const rulesets: Record<Side, Ruleset> = { candidate: input.candidate, published: input.published };
  const named = [...new Set([...input.candidate.rules, ...input.published.rules].flatMap(listsOf))];
  const lists: Lists = new Map(
    [...(await listContents(sql, named))].map(([name, l]) => [name, listItems(l.items)] as const),
  );
  const evaluators = {
    candidate: new CompiledRuleset(input.candidate, lists),
    published: new CompiledRuleset(input.published, lists),
  };
  const changeOf = ruleChanges(input.published, input.candidate);
  const changes: Record<Side, Map<string, RuleChange>> = {
    candidate: changeOf.after,
    published: changeOf.before,
  };
  const live: Record<Side, Set<string>> = {
    candidate: new Set(input.candidate.rules.filter((r) => r.mode === "live").map((r) => r.name)),
    published: new Set(input.published.rules.filter((r) => r.mode === "live").map((r) => r.name)),
  };
  /** Per side, per rule: the events and customers it hit, and its matches as the report lists them. */
  const hits: Record<Side, Map<string, Array<{ event: string; customer: string }>>> = {
    candidate: new Map(),
    published: new Map(),
  };
  const tallies: Record<Side, Map<string, Tally>> = {
    candidate: new Map(input.candidate.rules.map((r) => [r.name, new Tally(limit)])),
    published: new Map(input.published.rules.map((r) => [r.name, new Tally(limit)])),
  };
  const newly = new Tally(limit);
  const noLonger = new Tally(limit);
  const newlyRules: Record<string, string[]> = {};
  const noLongerRules: Record<string, string[]> = {};
  const flaggedEvents: Record<Side, Set<string>> = { candidate: new Set(), published: new Set() };
  const state = new CustomerState(redis, input.scratch);
  const fx = await fxTable(sql);
  let done = 0;
  await dropScratch(redis, input.scratch);
  try {
    await input.onProgress?.(0, total);
    for await (const batch of pages) {
      const profiles = await customerProfiles(sql, [...new Set(batch.map((e) => e.customerId))]);
      const cases =
        source.kind === "window"
          ? await eventCases(
              sql,
              batch.map((e) => e.id),
            )
          : new Map();
      const homes = batch.map((e) =>
        e.type === "card.transaction" ? homeAmount(e, profiles.get(e.customerId), fx) : undefined,
      );
      const homeOf = new Map(batch.map((e, i) => [e, homes[i]]));
      const snaps = await state.observe(batch, (e) => homeOf.get(e)?.value ?? e.amount.value);
      for (const [j, e] of batch.entries()) {
        const facts = computeFacts(e, profiles.get(e.customerId), snaps[j]!, fx, homes[j]);
        const fired = {
          candidate: evaluators.candidate.firing(facts),
          published: evaluators.published.firing(facts),
        };
        if (fired.candidate.length === 0 && fired.published.length === 0) continue;
        // Only the event's own case says what became of it: its customer's label (what precision
        // counts by) would call a payment nobody judged confirmed fraud, and sum its money so.
        const own = cases.get(e.id);
        const m = matchedEvent(e, homes[j], { outcome: own?.outcome ?? "none", caseId: own?.caseId ?? null });
        for (const side of sides) {
          for (const rule of fired[side]) {
            const list = hits[side].get(rule) ?? [];
            list.push({ event: e.id, customer: e.customerId });
            hits[side].set(rule, list);
            flaggedEvents[side].add(e.id);
            // An unchanged published rule lists what its candidate twin lists: counted, not listed twice.
            tallies[side]
              .get(rule)
              ?.add(m, side === "candidate" || changes.published.get(rule) !== "unchanged");
          }
        }
        const by = {
          candidate: fired.candidate.filter((r) => live.candidate.has(r)),
          published: fired.published.filter((r) => live.published.has(r)),
        };
        if (by.candidate.length > 0 && by.published.length === 0) {
          newly.add(m);
          if (newly.listed.at(-1) === m) newlyRules[e.id] = by.candidate;
        } else if (by.published.length > 0 && by.candidate.length === 0) {
          noLonger.add(m);
          if (noLonger.listed.at(-1) === m) noLongerRules[e.id] = by.published;
        }
      }
      done += batch.length;
      await input.onProgress?.(done, total);
    }
  } finally {
    await dropScratch(redis, input.scratch);
  }

  const score = (side: Side): RuleScore[] => {
    const other = flaggedEvents[side === "candidate" ? "published" : "candidate"];
    return rulesets[side].rules
      .map((rule) => {
        const list = hits[side].get(rule.name) ?? [];
        const customers = [...new Set(list.map((h) => h.customer))];
        const confirmed = customers.filter((c) => labels.get(c) === "confirmed_fraud").length;
        const falseAlarms = customers.filter((c) => labels.get(c) === "false_alarm").length;
        return {
          rule: rule.name,
          mode: rule.mode,
          change: changes[side].get(rule.name) ?? "unchanged",
          hits: list.length,
          hitRate: done > 0 ? Math.round((list.length / done) * 1e6) / 1e6 : 0,
          customers: customers.length,
          confirmed,
          falseAlarms,
          precision:
            confirmed + falseAlarms > 0
              ? Math.round((confirmed / (confirmed + falseAlarms)) * 1000) / 1000
              : null,
          overlap: list.filter((h) => other.has(h.event)).length,
          matched: (tallies[side].get(rule.name) ?? new Tally(0)).matches(),
        };
      })
      .sort((a, b) => a.rule.localeCompare(b.rule));
  };
  // Who each side would contact: its live rules' hits (a shadow rule flags nobody).
  const flagged = (side: Side) =>
    new Set(
      [...hits[side].entries()]
        .filter(([rule]) => live[side].has(rule))
        .flatMap(([, l]) => l.map((h) => h.customer)),
    );
  const c = flagged("candidate");
  const p = flagged("published");
  const candidate = score("candidate");
  return {
    events: done,
    truncated,
    listedPerRule: limit,
    candidate,
    published: score("published"),
    neverHit: candidate.filter((s) => s.hits === 0).map((s) => s.rule),
    newlyFlagged: [...c].filter((x) => !p.has(x)).sort(),
    noLongerFlagged: [...p].filter((x) => !c.has(x)).sort(),
    changes: {
      newlyFlagged: { ...newly.matches(), rules: newlyRules },
      noLongerFlagged: { ...noLonger.matches(), rules: noLongerRules },
    },
    labelledCustomers: labels.size,
  };
}
