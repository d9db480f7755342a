import { describe, expect, it } from "vitest";
import { diffRuleFiles, isUnchanged } from "./diff.ts";
import { parseRuleFile, type RuleFile } from "./schema.ts";

const file = (
  name: string,
  over: { value?: number; tests?: unknown[]; description?: string } = {},
): RuleFile =>
  parseRuleFile({
    rule: {
      name,
      ...(over.description ? { description: over.description } : {}),
      conditions: { all: [{ fact: "amount.value", operator: "greaterThan", value: over.value ?? 1000 }] },
      event: { type: "fraud.suspected", params: { severity: "high", title: name } },
    },
    tests: over.tests ?? [],
  });

describe("diffRuleFiles", () => {
  it("says what a publish adds, changes path by path, removes and keeps, each list sorted", () => {
    const before = [file("b-kept"), file("a-changed"), file("z-gone"), file("y-gone")];
    const after = [
      file("d-new"),
      file("a-changed", {
        value: 2000,
        description: "now 2,000",
        tests: [{ name: "t", facts: {}, fires: false }],
      }),
      file("c-new"),
      file("b-kept"),
    ];
    expect(diffRuleFiles(before, after)).toEqual({
      added: ["c-new", "d-new"],
      changed: [
        {
          rule: "a-changed",
          changes: [
            { path: "rule.conditions.all[0].value", before: 1000, after: 2000 },
            { path: "rule.description", after: "now 2,000" },
            { path: "tests[0]", after: { name: "t", facts: {}, fires: false } },
          ],
        },
      ],
      removed: ["y-gone", "z-gone"],
      unchanged: ["b-kept"],
    });
  });

  it("shows a field taken away with its value before, and sorts changed rules by name", () => {
    const d = diffRuleFiles(
      [file("z", { description: "old" }), file("a", { value: 1 })],
      [file("z"), file("a", { value: 2 })],
    );
    expect(d.changed.map((c) => c.rule)).toEqual(["a", "z"]);
    expect(d.changed[1]!.changes).toEqual([{ path: "rule.description", before: "old" }]);
  });

  it("sees no change between a file and its copy, and any change otherwise", () => {
    expect(isUnchanged(diffRuleFiles([file("a")], [file("a")]))).toBe(true);
    expect(isUnchanged(diffRuleFiles([], [file("a")]))).toBe(false);
    expect(isUnchanged(diffRuleFiles([file("a")], []))).toBe(false);
    expect(isUnchanged(diffRuleFiles([file("a")], [file("a", { value: 5 })]))).toBe(false);
  });
});
