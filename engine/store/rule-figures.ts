/**
 * One rule's record over its life: its figures per rule version and mode (a shadow rule's
 * would-have figures stay after it goes live), and its individual hits, a shadow rule's
 * would-have hits with them. Read from the decisions, which keep every hit with its mode and the
 * ruleset version that made it.
 */
import type { TouchpointEvent } from "../events.ts";
import { diffRuleFiles } from "../rules/diff.ts";
import type { RuleFile, RuleMode } from "../rules/schema.ts";
import type { Q } from "./database.ts";
import { rulesetHistory, type StoredRuleset } from "./rulesets.ts";

/** A version's rules alone: its test cases change nothing that fires, so no figure (as ruleChanges in backtest.ts). */
const rulesOnly = (files: readonly RuleFile[]): RuleFile[] => files.map((f) => ({ rule: f.rule, tests: [] }));

/**
 * The ruleset versions in which `rule` itself was added or changed, oldest first: where each of
 * its rule versions starts. A move from shadow to live is a change, so it starts a version; a
 * change to the file's test cases alone is not.
 */
export function ruleVersionStarts(
  base: StoredRuleset | undefined,
  versions: readonly StoredRuleset[],
  rule: string,
): number[] {
  const starts: number[] = [];
  let before = rulesOnly(base?.files ?? []);
  // The base itself (the version before the history read) holds the rule as it was then.
  if (base?.files.some((f) => f.rule.name === rule)) starts.push(base.version);
  for (const v of versions) {
    const after = rulesOnly(v.files);
    const d = diffRuleFiles(before, after);
    if (d.added.includes(rule) || d.changed.some((c) => c.rule === rule)) starts.push(v.version);
    before = after;
  }
  return starts;
}

/** `rule`'s figures per rule version and mode, its versions read from the stored history. */
export async function ruleFigures(sql: Q, rule: string): Promise<RuleVersionFigures[]> {
  const { base, versions } = await rulesetHistory(sql);
  return ruleFiguresByVersion(sql, rule, ruleVersionStarts(base, versions, rule));
}

const precision = (confirmed: number, falseAlarms: number) =>
  confirmed + falseAlarms > 0 ? Math.round((confirmed / (confirmed + falseAlarms)) * 1000) / 1000 : null;

export interface RuleVersionFigures {
  /** The ruleset version the rule's file took this form in (its "rule version"). */
  ruleVersion: number;
  mode: RuleMode;
  hits: number;
  customers: number;
  /**
   * Labelled as ruleStats labels them: a live hit by its case's outcome (counted per case), a
   * shadow hit by the customer's case opened within a day either side (counted per customer).
   */
  confirmed: number;
  falseAlarms: number;
  precision: number | null;
  /** Of its hits, how many were on an event a live rule also hit (shadow only; null for live). */
  overlapWithLive: number | null;
  firstHitAt: string | null;
  lastHitAt: string | null;
}

/**
 * `rule`'s figures grouped by rule version and mode. `starts` are the ruleset versions in which
 * the rule's file was added or changed, oldest first: a decision belongs to the latest start at
 * or before its ruleset version (or to the first, for a decision older than every start given).
 */
export async function ruleFiguresByVersion(
  sql: Q,
  rule: string,
  starts: readonly number[],
): Promise<RuleVersionFigures[]> {
  const list = starts.length > 0 ? [...starts] : [0];
  const rows = await sql`
    with d as (
      select d.*, coalesce(
        (select max(s) from unnest(${list}::int[]) s where s <= d.ruleset_version),
        (select min(s) from unnest(${list}::int[]) s)) as rule_version
      from decisions d where d.rule = ${rule}
    )
    select d.rule_version, d.mode,
      count(*)::int as hits,
      count(distinct d.customer_id)::int as customers,
      count(distinct c.id) filter (where d.mode = 'live' and c.outcome = 'confirmed_fraud')::int as live_confirmed,
      count(distinct c.id) filter (where d.mode = 'live' and c.outcome = 'false_alarm')::int as live_false_alarms,
      count(distinct d.customer_id) filter (where d.mode = 'shadow' and label.outcome = 'confirmed_fraud')::int as shadow_confirmed,
      count(distinct d.customer_id) filter (where d.mode = 'shadow' and label.outcome = 'false_alarm')::int as shadow_false_alarms,
      count(*) filter (where d.mode = 'shadow' and exists (
        select 1 from decisions l where l.event_id = d.event_id and l.mode = 'live'))::int as overlap,
      min(d.decided_at) as first_at, max(d.decided_at) as last_at
    from d
    left join cases c on c.id = d.case_id
    left join lateral (
      select lc.outcome from cases lc
      where d.mode = 'shadow' and lc.customer_id = d.customer_id and lc.outcome is not null
        and lc.opened_at between d.decided_at - interval '1 day' and d.decided_at + interval '1 day'
      order by (lc.outcome = 'confirmed_fraud') desc limit 1) label on true
    group by d.rule_version, d.mode
    order by d.rule_version, d.mode`;
  return rows.map((r) => {
    const shadow = r.mode === "shadow";
    const confirmed = (shadow ? r.shadow_confirmed : r.live_confirmed) as number;
    const falseAlarms = (shadow ? r.shadow_false_alarms : r.live_false_alarms) as number;
    return {
      ruleVersion: r.rule_version as number,
      mode: r.mode as RuleMode,
      hits: r.hits as number,
      customers: r.customers as number,
      confirmed,
      falseAlarms,
      precision: precision(confirmed, falseAlarms),
      overlapWithLive: shadow ? (r.overlap as number) : null,
      firstHitAt: r.first_at ? (r.first_at as Date).toISOString() : null,
      lastHitAt: r.last_at ? (r.last_at as Date).toISOString() : null,
    };
  });
}

export interface RuleHit {
  eventId: string;
  customerId: string;
  mode: RuleMode;
  rulesetVersion: number;
  decidedAt: string;
  occurredAt: string | null;
  amount: { value: number; currency: string } | null;
  merchant: string | null;
  place: { city: string | null; country: string } | null;
  /** The decision's sentence, as the advocate would have read it. */
  summary: string | null;
  /** A live rule hit the same event (so the customer was contacted anyway). */
  alsoLive: boolean;
  /** The case it joined (live), or the customer's case within a day either side (shadow). */
  caseId: string | null;
  outcome: "confirmed_fraud" | "false_alarm" | "open" | "none";
}

/**
 * `rule`'s hits in `mode`, newest first, at most `limit`, those before `before` (decided_at,
 * event id) when paging on. With `team` (a team-bound reader), only the hits on customers that
 * team has a case for, as a team-bound reader sees customers elsewhere, labelled by that team's
 * cases only.
 */
export async function ruleHits(
  sql: Q,
  rule: string,
  mode: RuleMode,
  opts: { limit: number; before?: { at: Date; eventId: string } | undefined; team?: string | undefined },
): Promise<RuleHit[]> {
  const after = opts.before;
  const team = opts.team;
  const rows = await sql`
    select d.event_id, d.customer_id, d.mode, d.ruleset_version, d.decided_at,
      d.explanation ->> 'summary' as summary, d.event_occurred_at as occurred_at, d.event_payload as payload,
      exists (select 1 from decisions l where l.event_id = d.event_id and l.mode = 'live' and l.rule <> d.rule) as also_live,
      coalesce(c.id, label.id) as case_id, coalesce(c.outcome, label.outcome) as outcome
    from decisions d
    left join cases c on c.id = d.case_id ${team ? sql`and c.team = ${team}` : sql``}
    left join lateral (
      select lc.id, lc.outcome from cases lc
      where d.case_id is null and lc.customer_id = d.customer_id
        and lc.opened_at between d.decided_at - interval '1 day' and d.decided_at + interval '1 day'
        ${team ? sql`and lc.team = ${team}` : sql``}
      order by (lc.outcome = 'confirmed_fraud') desc nulls last, lc.opened_at limit 1) label on true
    where d.rule = ${rule} and d.mode = ${mode}
      ${team ? sql`and exists (select 1 from cases tc where tc.customer_id = d.customer_id and tc.team = ${team})` : sql``}
      ${after ? sql`and (d.decided_at, d.event_id) < (${after.at}, ${after.eventId})` : sql``}
    order by d.decided_at desc, d.event_id desc
    limit ${opts.limit}`;
  return rows.map((r) => {
    const e = r.payload as TouchpointEvent | null;
    const tx = e?.type === "card.transaction" ? e : undefined;
    const where = tx ? tx.merchant : e && "geo" in e ? e.geo : undefined;
    return {
      eventId: r.event_id as string,
      customerId: r.customer_id as string,
      mode: r.mode as RuleMode,
      rulesetVersion: r.ruleset_version as number,
      decidedAt: (r.decided_at as Date).toISOString(),
      occurredAt: r.occurred_at ? (r.occurred_at as Date).toISOString() : null,
      amount: tx ? { value: tx.amount.value, currency: tx.amount.currency } : null,
      merchant: tx?.merchant.name ?? null,
      place: where ? { city: where.city ?? null, country: where.country } : null,
      summary: (r.summary as string | null) ?? null,
      alsoLive: r.also_live as boolean,
      caseId: (r.case_id as string | null) ?? null,
      outcome: (r.outcome as "confirmed_fraud" | "false_alarm" | null) ?? (r.case_id ? "open" : "none"),
    };
  });
}
