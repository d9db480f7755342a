import { describe, expect, it } from "vitest";
import { runRuleTests } from "../engine/rules/testing.ts";
import { defaultRuleFiles } from "./index.ts";

const files = defaultRuleFiles();

describe("the shipped rules", () => {
  it("validate, each with an owner", () => {
    expect(files.map((f) => f.rule.name)).toContain("impossible-location-spend");
    for (const f of files) expect(f.rule.owner, f.rule.name).toBeTruthy();
  });

  for (const file of files) {
    describe(file.rule.name, () => {
      it("has test cases both ways", () => {
        expect(file.tests.some((t) => t.fires)).toBe(true);
        expect(file.tests.some((t) => !t.fires)).toBe(true);
      });
      it("passes its own test cases", async () => {
        const results = await runRuleTests([file]);
        expect(results.filter((r) => !r.pass)).toEqual([]);
        expect(results).toHaveLength(file.tests.length);
      });
    });
  }
});
