/**
 * A rule file's own test cases, run offline: each case sets some facts (the rest are blank) and says
 * whether the rule under test fires. Other rules do not matter. A failing case says which
 * conditions went the wrong way, with the fact's value and what the condition wanted.
 */
import { blankFacts } from "./facts.ts";
import { explainRule, type LeafOutcome } from "./reference.ts";
import type { RuleFile } from "./schema.ts";

export interface RuleTestResult {
  rule: string;
  test: string;
  expected: boolean;
  fired: boolean;
  pass: boolean;
  /** On a failure: why it fired (the conditions that held) or why not (those that did not). */
  reasons: string[];
  /** The rule threw on these facts. */
  error?: string;
}

const show = (v: unknown) => (v === undefined ? "missing" : JSON.stringify(v));

/** `travel.speedKmh was 57; wanted greaterThan 900` (or `… wanted not greaterThan 900` under a `not`). */
export function describeLeaf(leaf: LeafOutcome): string {
  const fact = leaf.path ? `${leaf.fact} ${leaf.path}` : leaf.fact;
  const wanted = `${leaf.negated ? "not " : ""}${leaf.operator} ${show(leaf.value)}`;
  return `${fact} was ${show(leaf.factValue)}; wanted ${wanted}`;
}

/** The leaves that argued for the result the test did not expect. */
function reasonsFor(leaves: LeafOutcome[], fired: boolean): string[] {
  const against = leaves.filter((l) => l.evaluated && (fired ? l.held !== l.negated : l.held === l.negated));
  return against.map(describeLeaf);
}

export async function runRuleTests(files: readonly RuleFile[]): Promise<RuleTestResult[]> {
  const out: RuleTestResult[] = [];
  for (const { rule, tests } of files) {
    for (const tc of tests) {
      const base = { rule: rule.name, test: tc.name, expected: tc.fires };
      try {
        const { fired, leaves } = await explainRule(rule, blankFacts(tc.facts));
        const pass = fired === tc.fires;
        out.push({ ...base, fired, pass, reasons: pass ? [] : reasonsFor(leaves, fired) });
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        out.push({ ...base, fired: false, pass: false, reasons: [], error });
      }
    }
  }
  return out;
}
