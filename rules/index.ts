/** The default ruleset that ships: every `rules/*.json` file, each a rule with its own test cases. */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRuleset, type Ruleset } from "../engine/rules/schema.ts";

export interface RuleTestCase {
  name: string;
  facts: Record<string, unknown>;
  fires: boolean;
}

export interface RuleFile {
  file: string;
  rule: unknown;
  tests: RuleTestCase[];
}

const here = dirname(fileURLToPath(import.meta.url));

export function readRuleFiles(dir = here): RuleFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      const body = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
        rule: unknown;
        tests?: RuleTestCase[];
      };
      return { file, rule: body.rule, tests: body.tests ?? [] };
    });
}

/** The shipped ruleset, validated. */
export function defaultRuleset(dir = here): Ruleset {
  return parseRuleset({ rules: readRuleFiles(dir).map((f) => f.rule) });
}
