/**
 * The compiled evaluator against json-rules-engine, the oracle: generated rulesets and facts
 * (missing facts, nulls, wrong types, numbers as strings, deep paths, fact-valued comparisons)
 * must give the same hits, the same failing rules and the same explanations.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultRuleset } from "../../rules/index.ts";
import { facts, ruleset } from "../../test/support/rule-arbitraries.ts";
import { CompiledRuleset } from "./compile.ts";
import { blankFacts } from "./facts.ts";
import { type Evaluation, Evaluator } from "./reference.ts";
import type { Ruleset } from "./schema.ts";

/** What both evaluators must agree on: the set of hits with their explanations, and failing rules. */
function comparable(e: Evaluation) {
  return {
    hits: [...e.hits].sort((a, b) => a.rule.localeCompare(b.rule)),
    failures: e.failures.map((f) => f.rule).sort(),
  };
}

describe("the compiled evaluator", () => {
  it("gives json-rules-engine's hits, failures and explanations on generated rulesets and facts", async () => {
    await fc.assert(
      fc.asyncProperty(ruleset, fc.array(facts, { minLength: 1, maxLength: 5 }), async (rs, events) => {
        const compiled = new CompiledRuleset(rs);
        const reference = new Evaluator(rs);
        for (const f of events) {
          const expected = comparable(await reference.evaluate(f));
          expect(comparable(compiled.evaluate(f))).toEqual(expected);
          expect([...compiled.firing(f)].sort()).toEqual(expected.hits.map((h) => h.rule));
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 400) },
    );
  });

  it("agrees with it on the shipped rules for their own facts and for blank ones", async () => {
    const rs = defaultRuleset();
    const compiled = new CompiledRuleset(rs);
    const reference = new Evaluator(rs);
    await fc.assert(
      fc.asyncProperty(facts, async (f) => {
        expect(comparable(compiled.evaluate(f))).toEqual(comparable(await reference.evaluate(f)));
      }),
      { numRuns: 500 },
    );
  });

  it("reports a rule whose comparison throws, and still evaluates the others", () => {
    const rs: Ruleset = {
      rules: [
        {
          name: "in-a-number",
          mode: "live",
          priority: 1,
          // `in` against a fact's value: a number has no indexOf, so json-rules-engine throws.
          conditions: { all: [{ fact: "event.type", operator: "in", value: { fact: "amount.value" } }] },
          event: { type: "t", params: { severity: "low", title: "t", team: "fraud" } },
        },
        {
          name: "always",
          mode: "live",
          priority: 1,
          conditions: { all: [{ fact: "customer.known", operator: "equal", value: false }] },
          event: { type: "t", params: { severity: "low", title: "t", team: "fraud" } },
        },
      ],
    };
    const out = new CompiledRuleset(rs).evaluate(blankFacts({ "amount.value": 5 }));
    expect(out.hits.map((h) => h.rule)).toEqual(["always"]);
    expect(out.failures.map((f) => f.rule)).toEqual(["in-a-number"]);
  });
});
