/**
 * What a publish would change: rules added, changed (each change a JSON path with its value before
 * and after) and removed. Pure; the API, the CLI and the desk's version history all show this.
 */
import diff from "microdiff";
import { jsonPath } from "../errors.ts";
import type { RuleFile } from "./schema.ts";

export interface FieldChange {
  /** From the rule file's root, e.g. `rule.conditions.all[3].value` or `tests[0].fires`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface RulesetDiff {
  added: string[];
  changed: Array<{ rule: string; changes: FieldChange[] }>;
  removed: string[];
  unchanged: string[];
}

export function diffRuleFiles(before: readonly RuleFile[], after: readonly RuleFile[]): RulesetDiff {
  const old = new Map(before.map((f) => [f.rule.name, f]));
  const out: RulesetDiff = { added: [], changed: [], removed: [], unchanged: [] };
  for (const f of after) {
    const was = old.get(f.rule.name);
    if (!was) {
      out.added.push(f.rule.name);
      continue;
    }
    // Through JSON first: a key set to undefined and a key absent are the same rule.
    const changes = diff(JSON.parse(JSON.stringify(was)), JSON.parse(JSON.stringify(f))).map(
      (d): FieldChange => ({
        path: jsonPath(d.path),
        ...(d.type !== "CREATE" ? { before: d.oldValue } : {}),
        ...(d.type !== "REMOVE" ? { after: d.value } : {}),
      }),
    );
    if (changes.length > 0) out.changed.push({ rule: f.rule.name, changes });
    else out.unchanged.push(f.rule.name);
  }
  const names = new Set(after.map((f) => f.rule.name));
  out.removed = before.map((f) => f.rule.name).filter((n) => !names.has(n));
  for (const list of [out.added, out.removed, out.unchanged]) list.sort();
  out.changed.sort((a, b) => a.rule.localeCompare(b.rule));
  return out;
}

/** True when a publish would change nothing the engine or the record keeps. */
export function isUnchanged(d: RulesetDiff): boolean {
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}
