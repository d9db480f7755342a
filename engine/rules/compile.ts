/**
 * Rulesets compiled into plain functions, once per published version: the hot path's evaluator.
 *
 * The meaning is json-rules-engine's, exactly (engine/rules/reference.ts is the oracle, and a
 * property test holds the two to the same hits, failures and explanations):
 * - a fact is read from the facts object (a missing one is `undefined`); a `path` walks into it
 *   only when the fact is an object, else the fact itself is the value;
 * - a `value` of the form `{ fact, path? }` is that fact's value;
 * - each operator is json-rules-engine's callback behind its validator (numbers for the
 *   comparisons, arrays for contains), with touchpoint's null-safe `notEqual` and `notIn`, and its
 *   own `inList` / `notInList`: the value names a list, whose items are bound in at compile time
 *   as a Set (a list change compiles the ruleset again: evaluate.ts); a list not there throws;
 * - `all` / `any` / `not` as json-rules-engine evaluates them. It evaluates every condition of a
 *   group, so a condition that throws fails its rule even beside a false one. A rule holding a
 *   condition able to throw (`in` against anything but an array literal; a numeric comparison
 *   that may meet an object) is walked the same way; every other rule becomes one generated
 *   boolean expression that short-circuits, which cannot change its result.
 *
 * Explanations are built for hits only, from the same compiled conditions, in the shape
 * json-rules-engine gives (`conditions.toJSON(false)`: each leaf with factResult, valueResult and
 * result; each boolean node with json-rules-engine's default priority, 1).
 */
import type { Facts } from "./facts.ts";
import { type Lists, listKey, NO_LISTS } from "./lists.ts";
import { type Evaluation, type Hit, hitFor } from "./reference.ts";
import type { Condition, Leaf, Rule, Ruleset } from "./schema.ts";

type Read = (facts: Facts) => unknown;

/** touchpoint's path resolver (reference.ts): plain dot paths, undefined past a non-object. */
function pathReader(path: string): (value: unknown) => unknown {
  const keys = path
    .replace(/^\$\.?/, "")
    .split(".")
    .filter((k) => k !== "");
  return (value) => {
    let cur = value;
    for (const key of keys) {
      if (cur === null || typeof cur !== "object") return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
    return cur;
  };
}

/** A fact's value as json-rules-engine's almanac gives it, path included. */
function factReader(name: string, path: string | undefined): Read {
  if (!path) return (facts) => (facts as Record<string, unknown>)[name];
  const walk = pathReader(path);
  return (facts) => {
    const v = (facts as Record<string, unknown>)[name];
    return v !== null && typeof v === "object" ? walk(v) : v;
  };
}

function isFactRef(v: unknown): v is { fact: string; path?: string } {
  return v !== null && typeof v === "object" && Object.hasOwn(v, "fact");
}

/** json-rules-engine's numberValidator, without its string round trip for plain numbers. */
function numeric(v: unknown): boolean {
  return typeof v === "number" ? !Number.isNaN(v) : Number.parseFloat(v as string).toString() !== "NaN";
}

const OPERATORS_NUMERIC = new Set(["lessThan", "lessThanInclusive", "greaterThan", "greaterThanInclusive"]);

type Op = (a: unknown, b: unknown) => boolean;
const OPS: Record<string, Op> = {
  equal: (a, b) => a === b,
  notEqual: (a, b) => a !== null && a !== undefined && a !== b,
  in: (a, b) => (b as unknown[]).indexOf(a) > -1,
  notIn: (a, b) => a !== null && a !== undefined && Array.isArray(b) && !b.includes(a),
  contains: (a, b) => Array.isArray(a) && a.indexOf(b) > -1,
  doesNotContain: (a, b) => Array.isArray(a) && a.indexOf(b) === -1,
  lessThan: (a, b) => numeric(a) && (a as number) < (b as number),
  lessThanInclusive: (a, b) => numeric(a) && (a as number) <= (b as number),
  greaterThan: (a, b) => numeric(a) && (a as number) > (b as number),
  greaterThanInclusive: (a, b) => numeric(a) && (a as number) >= (b as number),
};

/**
 * `inList` / `notInList` against the lists held: the value must name a list there (else it throws,
 * as the reference does); a string fact is looked up as its listKey, as items are stored; a fact
 * that is not a string is in no list and makes both false.
 */
function listOp(negated: boolean, lists: Lists): Op {
  return (a, b) => {
    const items = typeof b === "string" ? lists.get(b) : undefined;
    if (!items) throw new Error(`no list named ${JSON.stringify(b)}`);
    return typeof a === "string" && items.has(listKey(a)) !== negated;
  };
}

interface CompiledLeaf {
  leaf: Leaf;
  /** The list's items, when the leaf looks up a list the ruleset was compiled with. */
  list?: ReadonlySet<string>;
  fact: Read;
  value: Read;
  op: Op;
}

type Node =
  | { kind: "leaf"; c: CompiledLeaf }
  | { kind: "all" | "any"; children: Node[] }
  | { kind: "not"; child: Node };

function compileLeaf(leaf: Leaf, lists: Lists): CompiledLeaf {
  const isList = leaf.operator === "inList" || leaf.operator === "notInList";
  const op = isList ? listOp(leaf.operator === "notInList", lists) : OPS[leaf.operator];
  if (!op) throw new Error(`no operator ${leaf.operator}`);
  const v = leaf.value;
  const value: Read = isFactRef(v) ? factReader(v.fact, v.path) : () => v;
  const list = isList && typeof v === "string" ? lists.get(v) : undefined;
  return { leaf, fact: factReader(leaf.fact, leaf.path), value, op, ...(list ? { list } : {}) };
}

function compileNode(c: Condition, lists: Lists): Node {
  if ("all" in c) return { kind: "all", children: c.all.map((x) => compileNode(x, lists)) };
  if ("any" in c) return { kind: "any", children: c.any.map((x) => compileNode(x, lists)) };
  if ("not" in c) return { kind: "not", child: compileNode(c.not, lists) };
  return { kind: "leaf", c: compileLeaf(c, lists) };
}

/**
 * Whether a leaf can throw: `in` against a value that is not an array literal, a numeric
 * comparison that may meet an object (the event, or a fact's value) whose conversion to a
 * number throws, as one without a prototype does, or a list lookup of a list not held.
 */
function mayThrow(n: Node): boolean {
  if (n.kind === "leaf") {
    const { operator, value, fact } = n.c.leaf;
    if (operator === "inList" || operator === "notInList") return !n.c.list;
    if (operator === "in" && !Array.isArray(value)) return true;
    if (isFactRef(value)) return OPERATORS_NUMERIC.has(operator);
    return OPERATORS_NUMERIC.has(operator) && fact === "event";
  }
  if (n.kind === "not") return mayThrow(n.child);
  return n.children.some(mayThrow);
}

/** The result, every condition evaluated (json-rules-engine's order of work, for rules that may throw). */
function eager(n: Node, facts: Facts): boolean {
  switch (n.kind) {
    case "leaf":
      return n.c.op(n.c.fact(facts), n.c.value(facts)) === true;
    case "all": {
      let ok = true;
      for (const child of n.children) ok = eager(child, facts) && ok;
      return ok;
    }
    case "any": {
      let ok = false;
      for (const child of n.children) ok = eager(child, facts) || ok;
      return ok;
    }
    case "not":
      return !eager(n.child, facts);
  }
}

/** The condition tree as json-rules-engine's `toJSON(false)` gives it after a run, and its result. */
function annotate(n: Node, facts: Facts): { json: Record<string, unknown>; result: boolean } {
  switch (n.kind) {
    case "leaf": {
      const { leaf, fact, value, op } = n.c;
      const factResult = fact(facts);
      const valueResult = value(facts);
      const raw = op(factResult, valueResult);
      const json: Record<string, unknown> = {
        ...(leaf.name ? { name: leaf.name } : {}),
        operator: leaf.operator,
        value: leaf.value,
        fact: leaf.fact,
        ...(factResult !== undefined ? { factResult } : {}),
        ...(valueResult !== undefined ? { valueResult } : {}),
        result: raw,
        ...(leaf.params ? { params: leaf.params } : {}),
        ...(leaf.path ? { path: leaf.path } : {}),
      };
      return { json, result: raw === true };
    }
    case "all":
    case "any": {
      const parts = n.children.map((c) => annotate(c, facts));
      const result = n.kind === "all" ? parts.every((p) => p.result) : parts.some((p) => p.result);
      return { json: { priority: 1, [n.kind]: parts.map((p) => p.json) }, result };
    }
    case "not": {
      const part = annotate(n.child, facts);
      return { json: { priority: 1, not: part.json }, result: !part.result };
    }
  }
}

/**
 * A rule's test as one generated function: the conditions inlined into a single boolean
 * expression (short-circuiting). Rule values and path readers are passed in as
 * constants (`K`), never spliced into the source; fact names enter it through JSON.stringify,
 * and come from the catalogue anyway.
 */
function generate(root: Node): (facts: Facts) => boolean {
  const K: unknown[] = [];
  let temps = 0;
  const constant = (v: unknown) => `K[${K.push(v) - 1}]`;
  const read = (name: string, path: string | undefined) =>
    path ? `${constant(factReader(name, path))}(f)` : `f[${JSON.stringify(name)}]`;
  const leaf = (c: CompiledLeaf): string => {
    const { leaf: l } = c;
    const a = read(l.fact, l.path);
    const b = isFactRef(l.value) ? read(l.value.fact, l.value.path) : constant(l.value);
    const t = `t${temps++}`;
    switch (l.operator) {
      case "equal":
        return `(${a} === ${b})`;
      case "notEqual":
        return `((${t} = ${a}) !== null && ${t} !== undefined && ${t} !== ${b})`;
      case "in":
        return `(${b}.indexOf(${a}) > -1)`;
      case "notIn":
        return `((${t} = ${a}) !== null && ${t} !== undefined && Array.isArray(${b}) && !${b}.includes(${t}))`;
      case "contains":
        return `(Array.isArray(${t} = ${a}) && ${t}.indexOf(${b}) > -1)`;
      case "doesNotContain":
        return `(Array.isArray(${t} = ${a}) && ${t}.indexOf(${b}) === -1)`;
      case "inList":
      case "notInList": {
        // Only a list held reaches here (mayThrow walks the others): one Set lookup.
        if (!c.list) throw new Error(`no list named ${JSON.stringify(l.value)}`);
        const has = `${constant(c.list)}.has(key(${t}))`;
        return `(typeof (${t} = ${a}) === "string" && ${l.operator === "inList" ? has : `!${has}`})`;
      }
      default: {
        const cmp = (
          { lessThan: "<", lessThanInclusive: "<=", greaterThan: ">", greaterThanInclusive: ">=" } as Record<
            string,
            string
          >
        )[l.operator];
        if (!cmp) throw new Error(`no operator ${l.operator}`);
        return `((typeof (${t} = ${a}) === "number" ? ${t} === ${t} : num(${t})) && ${t} ${cmp} ${b})`;
      }
    }
  };
  const expr = (n: Node): string => {
    switch (n.kind) {
      case "leaf":
        return leaf(n.c);
      case "all":
        return `(${n.children.map(expr).join(" && ")})`;
      case "any":
        return `(${n.children.map(expr).join(" || ")})`;
      case "not":
        return `!${expr(n.child)}`;
    }
  };
  const body = expr(root);
  const vars = Array.from({ length: temps }, (_, i) => `t${i}`);
  const source = `return function rule(f) { ${vars.length ? `let ${vars.join(", ")};` : ""} return ${body}; };`;
  return new Function("K", "num", "key", source)(K, numeric, listKey) as (facts: Facts) => boolean;
}

interface CompiledRule {
  rule: Rule;
  root: Node;
  test: (facts: Facts) => boolean;
}

/**
 * One published version, compiled with the lists as they are now: evaluate it as often as you like,
 * from any number of callers. Lists change without a new version: compile again with the new ones.
 */
export class CompiledRuleset {
  private readonly rules: CompiledRule[];

  constructor(ruleset: Ruleset, lists: Lists = NO_LISTS) {
    // Highest priority first, as json-rules-engine runs them (the order of hits; not their set).
    this.rules = [...ruleset.rules]
      .sort((a, b) => b.priority - a.priority)
      .map((rule) => {
        const root = compileNode(rule.conditions, lists);
        // A rule that may throw is walked in json-rules-engine's order of work; the rest run as
        // one generated expression each.
        const test = mayThrow(root) ? (facts: Facts) => eager(root, facts) : generate(root);
        return { rule, root, test };
      });
  }

  /** A rule of the set by name. */
  rule(name: string): Rule | undefined {
    return this.rules.find((r) => r.rule.name === name)?.rule;
  }

  /** Every rule against one event's facts; a rule that throws is reported, the others still count. */
  evaluate(facts: Facts): Evaluation {
    const out: Evaluation = { hits: [], failures: [] };
    for (const r of this.rules) {
      try {
        if (r.test(facts)) out.hits.push(this.hit(r, facts));
      } catch (err) {
        out.failures.push({ rule: r.rule.name, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  }

  /** Only whether each rule fires: the benchmark's and the differential script's inner loop. */
  firing(facts: Facts): string[] {
    const names: string[] = [];
    for (const r of this.rules) {
      try {
        if (r.test(facts)) names.push(r.rule.name);
      } catch {
        // counted by `evaluate`; here only the hits matter
      }
    }
    return names;
  }

  private hit(r: CompiledRule, facts: Facts): Hit {
    return hitFor(r.rule, annotate(r.root, facts).json);
  }
}
