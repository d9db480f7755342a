/**
 * Evaluation with json-rules-engine, the reference for what a rule means.
 *
 * An Engine is not re-entrant (concurrent `run()` calls on one engine silently skip rules), so an
 * Evaluator owns one Engine and runs one event at a time; make one Evaluator per concurrent job.
 */
import { Engine, type RuleResult } from "json-rules-engine";
import type { Facts } from "./facts.ts";
import { type Lists, listKey, NO_LISTS } from "./lists.ts";
import type { Rule, RuleMode, Ruleset, Severity } from "./schema.ts";

/** One condition of a rule as evaluated: what the fact was and whether the condition held. */
export interface ConditionTrace {
  fact: string;
  path?: string;
  operator: string;
  value: unknown;
  factValue: unknown;
  held: boolean;
}

export interface Hit {
  rule: string;
  /** A shadow rule's hit is recorded and never reaches a case. */
  mode: RuleMode;
  severity: Severity;
  title: string;
  team: string;
  eventType: string;
  /** The conditions that decided the hit, each with the fact value it saw. */
  explanation: {
    held: ConditionTrace[];
    tree: unknown;
    ratesAsOf?: unknown;
    /** Where and when (engine/rules/summary.ts), and the hit in plain words: set when stored. */
    story?: unknown;
    summary?: string;
  };
}

export interface RuleFailure {
  rule: string;
  message: string;
}

export interface Evaluation {
  hits: Hit[];
  /** Rules that threw at run time; the others still ran. */
  failures: RuleFailure[];
}

/** Plain dot paths (`$.merchant.mcc`): as exact as JSONPath for what the schema allows, and ~3× faster. */
function pathResolver(value: unknown, path: string): unknown {
  let cur = value;
  for (const key of path.replace(/^\$\.?/, "").split(".")) {
    if (!key) continue;
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function toHit(r: RuleResult, byName: Map<string, Rule>): Hit {
  return hitFor(
    byName.get(r.name as string)!,
    (r.conditions as unknown as { toJSON(s: boolean): unknown }).toJSON(false),
  );
}

function engineFor(rules: readonly Rule[], lists: Lists): Engine {
  const engine = new Engine([], { allowUndefinedFacts: true, pathResolver });
  // The catalogue promises comparisons with a missing (null) fact are false; json-rules-engine's
  // notEqual and notIn would hold for null ("country notEqual FR" on every login without geo).
  engine.addOperator("notEqual", (a: unknown, b: unknown) => a !== null && a !== undefined && a !== b);
  engine.addOperator(
    "notIn",
    (a: unknown, b: unknown) => a !== null && a !== undefined && Array.isArray(b) && !b.includes(a),
  );
  // touchpoint's list operators: the value names a list (a list not held is an error, as a rule
  // can only be published naming lists that exist); only a string fact can be an item, looked up
  // as its listKey (trimmed, NFC), the form items are stored in.
  const listed = (name: unknown): ReadonlySet<string> => {
    const items = typeof name === "string" ? lists.get(name) : undefined;
    if (items === undefined) throw new Error(`no list named ${JSON.stringify(name)}`);
    return items;
  };
  engine.addOperator("inList", (a: unknown, b: unknown) => {
    const items = listed(b);
    return typeof a === "string" && items.has(listKey(a));
  });
  engine.addOperator("notInList", (a: unknown, b: unknown) => {
    const items = listed(b);
    return typeof a === "string" && !items.has(listKey(a));
  });
  for (const rule of rules) {
    engine.addRule({
      name: rule.name,
      priority: rule.priority,
      conditions: rule.conditions as never,
      event: rule.event,
    });
  }
  return engine;
}

/** One leaf condition as a test case saw it: whether it held, and whether it sits under a `not`. */
export interface LeafOutcome extends ConditionTrace {
  /** False when json-rules-engine never reached it (an `any` already satisfied, say). */
  evaluated: boolean;
  negated: boolean;
}

/**
 * Every leaf of an evaluated condition tree (json-rules-engine's `toJSON(false)` shape, which the
 * compiled evaluator builds too), in order: what each saw and whether it held.
 */
export function leafOutcomes(node: unknown, negated = false, out: LeafOutcome[] = []): LeafOutcome[] {
  if (!node || typeof node !== "object") return out;
  const n = node as Record<string, unknown>;
  for (const op of ["all", "any"] as const) {
    if (Array.isArray(n[op])) for (const c of n[op] as unknown[]) leafOutcomes(c, negated, out);
  }
  if (n.not) leafOutcomes(n.not, !negated, out);
  if (typeof n.fact === "string" && typeof n.operator === "string") {
    out.push({
      fact: n.fact,
      ...(typeof n.path === "string" ? { path: n.path } : {}),
      operator: n.operator,
      value: n.value,
      factValue: n.fact === "event" && !n.path ? "(event)" : n.factResult,
      held: n.result === true,
      evaluated: typeof n.result === "boolean",
      negated,
    });
  }
  return out;
}

/** A hit of `rule`, explained by its evaluated condition tree: the conditions that held, and the tree. */
export function hitFor(rule: Rule, tree: unknown): Hit {
  const held = leafOutcomes(tree)
    .filter((l) => l.held)
    .map(({ evaluated: _e, negated: _n, ...trace }): ConditionTrace => trace);
  return {
    rule: rule.name,
    mode: rule.mode,
    severity: rule.event.params.severity,
    title: rule.event.params.title,
    team: rule.event.params.team,
    eventType: rule.event.type,
    explanation: { held, tree },
  };
}

/**
 * Runs one rule alone on a set of facts and says, leaf by leaf, what each condition saw: what a
 * rule's test case prints when it fails. Throws what the rule threw.
 */
export async function explainRule(
  rule: Rule,
  facts: Facts,
  lists: Lists = NO_LISTS,
): Promise<{ fired: boolean; leaves: LeafOutcome[] }> {
  const { results, failureResults } = await engineFor([rule], lists).run({ ...facts });
  const result = results[0] ?? failureResults[0];
  const tree = result
    ? (result.conditions as unknown as { toJSON(s: boolean): unknown }).toJSON(false)
    : undefined;
  return { fired: results.length > 0, leaves: leafOutcomes(tree) };
}

export class Evaluator {
  private readonly engine: Engine;
  private readonly byName: Map<string, Rule>;
  private busy = false;

  constructor(
    private readonly ruleset: Ruleset,
    private readonly lists: Lists = NO_LISTS,
  ) {
    this.engine = engineFor(ruleset.rules, lists);
    this.byName = new Map(ruleset.rules.map((r) => [r.name, r]));
  }

  /** Evaluates every rule against one event's facts. Rules that throw are isolated and reported. */
  async evaluate(facts: Facts): Promise<Evaluation> {
    if (this.busy) throw new Error("Evaluator is not re-entrant: make one per concurrent evaluation");
    this.busy = true;
    try {
      const { results } = await this.engine.run({ ...facts });
      return { hits: results.map((r) => toHit(r, this.byName)), failures: [] };
    } catch {
      // One rule threw and took the run with it: run each alone to find it, keep the others' verdicts.
      return this.evaluateOneByOne(facts);
    } finally {
      this.busy = false;
    }
  }

  private async evaluateOneByOne(facts: Facts): Promise<Evaluation> {
    const out: Evaluation = { hits: [], failures: [] };
    for (const rule of this.ruleset.rules) {
      try {
        const { results } = await engineFor([rule], this.lists).run({ ...facts });
        for (const r of results) out.hits.push(toHit(r, this.byName));
      } catch (err) {
        out.failures.push({ rule: rule.name, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  }
}
