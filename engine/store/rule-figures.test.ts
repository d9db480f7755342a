import { describe, expect, it } from "vitest";
import type { RuleFile } from "../rules/schema.ts";
import { ruleVersionStarts } from "./rule-figures.ts";
import type { StoredRuleset } from "./rulesets.ts";

const rule = {
  name: "big-atm-withdrawal",
  mode: "live",
  priority: 1,
  conditions: { all: [{ fact: "amount.home", operator: "greaterThanInclusive", value: 1000 }] },
  event: { type: "fraud.suspected", params: { severity: "high", title: "Cash", team: "fraud" } },
} as unknown as RuleFile["rule"];
const aCase = { name: "a case", facts: {}, fires: false } as unknown as RuleFile["tests"][number];
const version = (v: number, file: Partial<RuleFile>) =>
  ({ version: v, files: [{ rule, tests: [], ...file }] }) as unknown as StoredRuleset;

describe("where a rule's versions start", () => {
  it("does not start a new rule version when only the file's test cases changed", () => {
    // What fires, and so its figures, did not change (a backtest calls it "unchanged").
    expect(ruleVersionStarts(undefined, [version(1, {}), version(2, { tests: [aCase] })], rule.name)).toEqual(
      [1],
    );
  });
  it("starts one when the rule itself changed, a move from shadow to live included", () => {
    const shadow = { ...rule, mode: "shadow" } as RuleFile["rule"];
    const higher = {
      ...rule,
      conditions: { all: [{ fact: "amount.home", operator: "greaterThanInclusive", value: 2000 }] },
    } as RuleFile["rule"];
    const versions = [
      version(1, { rule: shadow }),
      version(2, { rule }),
      version(3, { rule, tests: [aCase] }),
      version(4, { rule: higher, tests: [aCase] }),
    ];
    expect(ruleVersionStarts(undefined, versions, rule.name)).toEqual([1, 2, 4]);
  });
});
