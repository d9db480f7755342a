/**
 * The compiled evaluator against json-rules-engine, the oracle: generated rulesets and facts
 * (missing facts, nulls, wrong types, numbers as strings, deep paths, fact-valued comparisons)
 * must give the same hits, the same failing rules and the same explanations.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultRuleset } from "../../rules/index.ts";
import { facts, lists, ruleset } from "../../test/support/rule-arbitraries.ts";
import { CompiledRuleset } from "./compile.ts";
import { blankFacts } from "./facts.ts";
import { listsFrom, normaliseItems } from "./lists.ts";
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
  it("gives json-rules-engine's hits, failures and explanations on generated rulesets, lists and facts", async () => {
    await fc.assert(
      fc.asyncProperty(
        ruleset,
        lists,
        fc.array(facts, { minLength: 1, maxLength: 5 }),
        async (rs, ls, events) => {
          const compiled = new CompiledRuleset(rs, ls);
          const reference = new Evaluator(rs, ls);
          for (const f of events) {
            const expected = comparable(await reference.evaluate(f));
            expect(comparable(compiled.evaluate(f))).toEqual(expected);
            expect([...compiled.firing(f)].sort()).toEqual(expected.hits.map((h) => h.rule));
          }
        },
      ),
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

  it("looks the fact up in the named list: a hit only for an item, a failure for a list not held", async () => {
    const rule = (
      name: string,
      operator: "inList" | "notInList",
      list: string,
    ): Ruleset["rules"][number] => ({
      name,
      mode: "live",
      priority: 1,
      conditions: { all: [{ fact: "event", path: "$.merchant.name", operator, value: list }] },
      event: { type: "t", params: { severity: "low", title: "t", team: "fraud" } },
    });
    const rs: Ruleset = {
      rules: [
        rule("blocked", "inList", "blocked-merchants"),
        rule("not-blocked", "notInList", "blocked-merchants"),
        rule("gone", "inList", "deleted-list"),
      ],
    };
    const ls = new Map([["blocked-merchants", new Set(["Shop X"])]]);
    const at = (name: unknown) => blankFacts({ event: { merchant: { name } } });
    for (const [merchant, fired] of [
      ["Shop X", ["blocked"]],
      ["Shop Y", ["not-blocked"]],
      ["shop x", ["not-blocked"]],
      [42, []],
      [undefined, []],
    ] as const) {
      const out = new CompiledRuleset(rs, ls).evaluate(at(merchant));
      expect(out.hits.map((h) => h.rule)).toEqual(fired);
      expect(out.failures.map((f) => f.rule)).toEqual(["gone"]);
      expect(comparable(out)).toEqual(comparable(await new Evaluator(rs, ls).evaluate(at(merchant))));
    }
    // Compiled with the list changed, the same ruleset sees the new items.
    const after = new CompiledRuleset(rs, new Map([["blocked-merchants", new Set(["Shop Y"])]]));
    expect(after.firing(at("Shop Y"))).toEqual(["blocked"]);
  });

  it("matches the item the analyst listed however the feed pads or composes the fact, in both evaluators", async () => {
    const rs: Ruleset = {
      rules: [
        {
          name: "blocked-merchant",
          mode: "live",
          priority: 1,
          conditions: {
            all: [{ fact: "event", path: "$.merchant.name", operator: "inList", value: "blocked-merchants" }],
          },
          event: { type: "t", params: { severity: "high", title: "Blocked", team: "fraud" } },
        },
      ],
    };
    // Items as the API stores them: a CSV's decomposed "è" (e + U+0300) stored composed.
    const ls = listsFrom({ "blocked-merchants": normaliseItems(["SHOP X", "Galerie Lumie\u0300re"]) });
    const at = (name: string) => blankFacts({ event: { merchant: { name } } });
    for (const [merchant, fired] of [
      ["SHOP X", ["blocked-merchant"]],
      // events.ts keeps merchant.name as sent, and a card feed pads fields with spaces.
      ["SHOP X  ", ["blocked-merchant"]],
      ["\tSHOP X", ["blocked-merchant"]],
      ["Galerie Lumi\u00e8re", ["blocked-merchant"]],
      ["Galerie Lumie\u0300re", ["blocked-merchant"]],
      // Case is significant: another spelling is another item.
      ["Shop X", []],
    ] as const) {
      expect(new CompiledRuleset(rs, ls).firing(at(merchant)), JSON.stringify(merchant)).toEqual(fired);
      expect(comparable(await new Evaluator(rs, ls).evaluate(at(merchant)))).toEqual(
        comparable(new CompiledRuleset(rs, ls).evaluate(at(merchant))),
      );
    }
  });
});
