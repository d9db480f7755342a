import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runRuleTests } from "../engine/rules/testing.ts";
import { defaultRuleFiles, RULES_DIR } from "./index.ts";

const files = defaultRuleFiles();

describe("the shipped rules", () => {
  it("validate, each with an owner", () => {
    expect(files.map((f) => f.rule.name)).toContain("impossible-location-spend");
    for (const f of files) expect(f.rule.owner, f.rule.name).toBeTruthy();
    // Every file here, so a rule file is checked by this suite however the lint treats it.
    expect(files).toHaveLength(readdirSync(RULES_DIR).filter((f) => f.endsWith(".json")).length);
  });

  it("are laid out as their analysts like: the engineers' lint leaves rules/*.json alone, not rules/*.ts", async () => {
    const biome = (file: string) =>
      promisify(execFile)(join(RULES_DIR, "..", "node_modules", ".bin", "biome"), ["check", file], {
        cwd: join(RULES_DIR, ".."),
      }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const rule = await biome("rules/impossible-location-spend.json");
    expect(rule.code).toBe(1);
    expect(rule.stderr).toContain("These paths were provided but ignored");
    expect((await biome("rules/index.ts")).code).toBe(0);
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
