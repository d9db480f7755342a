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
import { computeFacts, homeAmount } from "./rules/facts.ts";
import { type Lists, listsOf } from "./rules/lists.ts";
import type { RuleFile, RuleMode, Ruleset } from "./rules/schema.ts";
import type { Sql } from "./store/database.ts";
import { fxTable } from "./store/fx.ts";
import { listContents } from "./store/lists.ts";
import { customerProfiles } from "./store/postgres.ts";

export type Outcome = "confirmed_fraud" | "false_alarm";

export interface RuleScore {
  rule: string;
  mode: RuleMode;
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
}

export interface BacktestReport {
  events: number;
  truncated: boolean;
  candidate: RuleScore[];
  published: RuleScore[];
  /** Rules of the candidate that hit nothing in the replay. */
  neverHit: string[];
  /** Customers the candidate would flag that the published ruleset does not, and the reverse. */
  newlyFlagged: string[];
  noLongerFlagged: string[];
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
        select 1 from decisions d join events e on e.id = d.event_id
        where d.case_id = c.id and e.occurred_at >= ${from} and e.occurred_at < ${to}))`) {
    // A customer confirmed as defrauded once in the window counts as fraud.
    if (labels.get(r.customer_id) !== "confirmed_fraud") labels.set(r.customer_id, r.outcome);
  }
  return labels;
}

export async function backtest(
  deps: { sql: Sql; redis: Redis },
  input: BacktestInput,
): Promise<BacktestReport> {
  const { sql, redis } = deps;
  const { source } = input;
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
    [...(await listContents(sql, named))].map(([name, l]) => [name, new Set(l.items)] as const),
  );
  const evaluators = {
    candidate: new CompiledRuleset(input.candidate, lists),
    published: new CompiledRuleset(input.published, lists),
  };
  /** Per side, per rule: the events and customers it hit. */
  const hits: Record<Side, Map<string, Array<{ event: string; customer: string }>>> = {
    candidate: new Map(),
    published: new Map(),
  };
  const flaggedEvents: Record<Side, Set<string>> = { candidate: new Set(), published: new Set() };
  const state = new CustomerState(redis, input.scratch);
  const fx = await fxTable(sql);
  let done = 0;
  await dropScratch(redis, input.scratch);
  try {
    await input.onProgress?.(0, total);
    for await (const batch of pages) {
      const profiles = await customerProfiles(sql, [...new Set(batch.map((e) => e.customerId))]);
      const snaps = await state.observe(
        batch,
        (e) => homeAmount(e, profiles.get(e.customerId), fx)?.value ?? e.amount.value,
      );
      for (const [j, e] of batch.entries()) {
        const facts = computeFacts(e, profiles.get(e.customerId), snaps[j]!, fx);
        for (const side of sides) {
          for (const rule of evaluators[side].firing(facts)) {
            const list = hits[side].get(rule) ?? [];
            list.push({ event: e.id, customer: e.customerId });
            hits[side].set(rule, list);
            flaggedEvents[side].add(e.id);
          }
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
        };
      })
      .sort((a, b) => a.rule.localeCompare(b.rule));
  };
  // Who each side would contact: its live rules' hits (a shadow rule flags nobody).
  const flagged = (side: Side) => {
    const live = new Set(rulesets[side].rules.filter((r) => r.mode === "live").map((r) => r.name));
    return new Set(
      [...hits[side].entries()]
        .filter(([rule]) => live.has(rule))
        .flatMap(([, l]) => l.map((h) => h.customer)),
    );
  };
  const c = flagged("candidate");
  const p = flagged("published");
  const candidate = score("candidate");
  return {
    events: done,
    truncated,
    candidate,
    published: score("published"),
    neverHit: candidate.filter((s) => s.hits === 0).map((s) => s.rule),
    newlyFlagged: [...c].filter((x) => !p.has(x)).sort(),
    noLongerFlagged: [...p].filter((x) => !c.has(x)).sort(),
    labelledCustomers: labels.size,
  };
}
