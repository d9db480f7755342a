/**
 * Backtesting a ruleset: stored events of a time window replayed in event time through a scratch
 * copy of the customer state (its own Redis prefix, deleted afterwards), evaluated by the
 * candidate and by the published ruleset side by side, and scored against the outcomes of the
 * cases those customers had in the window.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { TouchpointEvent } from "./events.ts";
import { CustomerState } from "./features/state.ts";
import { computeFacts } from "./rules/facts.ts";
import { Evaluator } from "./rules/reference.ts";
import type { Ruleset } from "./rules/schema.ts";
import type { Sql } from "./store/database.ts";
import { customerProfiles } from "./store/postgres.ts";

export interface RuleScore {
  rule: string;
  hits: number;
  customers: number;
  /** Customers hit whose case in the window was confirmed fraud / a false alarm. */
  confirmed: number;
  falseAlarms: number;
  /** confirmed / (confirmed + falseAlarms), null with no labelled customer. */
  precision: number | null;
}

export interface BacktestResult {
  events: number;
  truncated: boolean;
  candidate: RuleScore[];
  published: RuleScore[];
  /** Customers the candidate would flag that the published ruleset does not, and the reverse. */
  newlyFlagged: string[];
  noLongerFlagged: string[];
}

const BATCH = 500;

export async function backtest(
  deps: { sql: Sql; redis: Redis; prefix: string },
  input: { candidate: Ruleset; published: Ruleset; from: Date; to: Date; maxEvents: number },
): Promise<BacktestResult> {
  const scratch = `${deps.prefix}:bt:${randomBytes(6).toString("hex")}`;
  const state = new CustomerState(deps.redis, scratch);
  const rows = await deps.sql`
    select payload from events where occurred_at >= ${input.from} and occurred_at < ${input.to}
    order by occurred_at, id limit ${input.maxEvents + 1}`;
  const truncated = rows.length > input.maxEvents;
  const events = rows.slice(0, input.maxEvents).map((r) => r.payload as TouchpointEvent);
  const labels = new Map<string, string>();
  for (const r of await deps.sql`
    select customer_id, outcome from cases
    where outcome is not null and opened_at >= ${input.from} and opened_at < ${new Date(input.to.getTime() + 7 * 86_400_000)}`) {
    // A customer confirmed as defrauded once in the window counts as fraud.
    if (labels.get(r.customer_id) !== "confirmed_fraud") labels.set(r.customer_id, r.outcome);
  }
  const hits = { candidate: new Map<string, string[]>(), published: new Map<string, string[]>() };
  const evaluators = { candidate: new Evaluator(input.candidate), published: new Evaluator(input.published) };
  try {
    for (let i = 0; i < events.length; i += BATCH) {
      const batch = events.slice(i, i + BATCH);
      const profiles = await customerProfiles(deps.sql, [...new Set(batch.map((e) => e.customerId))]);
      const snaps = await state.observe(batch);
      for (const [j, e] of batch.entries()) {
        const facts = computeFacts(e, profiles.get(e.customerId), snaps[j]!);
        for (const side of ["candidate", "published"] as const) {
          for (const h of (await evaluators[side].evaluate(facts)).hits) {
            const list = hits[side].get(h.rule) ?? [];
            list.push(e.customerId);
            hits[side].set(h.rule, list);
          }
        }
      }
    }
  } finally {
    const stream = deps.redis.scanStream({ match: `${scratch}:*`, count: 1000 });
    for await (const keys of stream)
      if ((keys as string[]).length > 0) await deps.redis.del(...(keys as string[]));
  }
  const score = (m: Map<string, string[]>): RuleScore[] =>
    [...m.entries()]
      .map(([rule, customers]) => {
        const distinct = [...new Set(customers)];
        const confirmed = distinct.filter((c) => labels.get(c) === "confirmed_fraud").length;
        const falseAlarms = distinct.filter((c) => labels.get(c) === "false_alarm").length;
        return {
          rule,
          hits: customers.length,
          customers: distinct.length,
          confirmed,
          falseAlarms,
          precision:
            confirmed + falseAlarms > 0
              ? Math.round((confirmed / (confirmed + falseAlarms)) * 1000) / 1000
              : null,
        };
      })
      .sort((a, b) => a.rule.localeCompare(b.rule));
  const flagged = (m: Map<string, string[]>) => new Set([...m.values()].flat());
  const c = flagged(hits.candidate);
  const p = flagged(hits.published);
  return {
    events: events.length,
    truncated,
    candidate: score(hits.candidate),
    published: score(hits.published),
    newlyFlagged: [...c].filter((x) => !p.has(x)).sort(),
    noLongerFlagged: [...p].filter((x) => !c.has(x)).sort(),
  };
}
