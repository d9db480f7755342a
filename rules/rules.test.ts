import { describe, expect, it } from "vitest";
import { blankFacts } from "../engine/rules/facts.ts";
import { Evaluator } from "../engine/rules/reference.ts";
import { defaultRuleset, readRuleFiles } from "./index.ts";

const ruleset = defaultRuleset();

describe("the shipped ruleset", () => {
  it("validates", () => {
    expect(ruleset.rules.map((r) => r.name)).toContain("impossible-location-spend");
  });

  for (const file of readRuleFiles()) {
    const name = (file.rule as { name: string }).name;
    describe(name, () => {
      it("has test cases both ways", () => {
        expect(file.tests.some((t) => t.fires)).toBe(true);
        expect(file.tests.some((t) => !t.fires)).toBe(true);
      });
      for (const tc of file.tests) {
        it(tc.name, async () => {
          const { hits, failures } = await new Evaluator(ruleset).evaluate(blankFacts(tc.facts));
          expect(failures).toEqual([]);
          expect(hits.some((h) => h.rule === name)).toBe(tc.fires);
        });
      }
    });
  }
});
