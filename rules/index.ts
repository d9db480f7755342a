/** The default ruleset that ships: every `rules/*.json` file, each a rule with its own test cases. */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadRuleFiles } from "../engine/rules/files.ts";
import { type RuleFile, type Ruleset, rulesetOf } from "../engine/rules/schema.ts";

export const RULES_DIR = dirname(fileURLToPath(import.meta.url));

/** The shipped rule files, validated. */
export function defaultRuleFiles(dir = RULES_DIR): RuleFile[] {
  return loadRuleFiles([dir]);
}

/** The shipped ruleset, validated. */
export function defaultRuleset(dir = RULES_DIR): Ruleset {
  return rulesetOf(defaultRuleFiles(dir));
}
