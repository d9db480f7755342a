/**
 * A rule file's own test cases, run offline: each case sets some facts (the rest are blank) and says
 * whether the rule under test fires. Other rules do not matter. A failing case says which
 * conditions went the wrong way, with the fact's value and what the condition wanted.
 */
import { jsonPath, UnprocessableError } from "../errors.ts";
import { blankFacts } from "./facts.ts";
import { type Lists, listsFrom, listsOf, NO_LISTS } from "./lists.ts";
import { explainRule, type LeafOutcome } from "./reference.ts";
import type { RuleFile, RuleIssue } from "./schema.ts";

export interface RuleTestResult {
  rule: string;
  test: string;
  expected: boolean;
  fired: boolean;
  pass: boolean;
  /** On a failure: why it fired (the conditions that held) or why not (those that did not). */
  reasons: string[];
  /** The rule threw on these facts. */
  error?: string;
}

const show = (v: unknown) => (v === undefined ? "missing" : JSON.stringify(v));

/** `travel.speedKmh was 57; wanted greaterThan 900` (or `… wanted not greaterThan 900` under a `not`). */
export function describeLeaf(leaf: LeafOutcome): string {
  const fact = leaf.path ? `${leaf.fact} ${leaf.path}` : leaf.fact;
  const wanted = `${leaf.negated ? "not " : ""}${leaf.operator} ${show(leaf.value)}`;
  return `${fact} was ${show(leaf.factValue)}; wanted ${wanted}`;
}

/** The leaves that argued for the result the test did not expect. */
function reasonsFor(leaves: LeafOutcome[], fired: boolean): string[] {
  const against = leaves.filter((l) => l.evaluated && (fired ? l.held !== l.negated : l.held === l.negated));
  return against.map(describeLeaf);
}

/** The lists a case sees: its own, over the ones given (the server's). */
function caseLists(given: Lists, own: Readonly<Record<string, string[]>> | undefined): Lists {
  return own ? new Map([...given, ...listsFrom(own)]) : given;
}

/** Each file's cases; `lists` are the lists a case sees where it sets none of its own. */
export async function runRuleTests(
  files: readonly RuleFile[],
  lists: Lists = NO_LISTS,
): Promise<RuleTestResult[]> {
  const out: RuleTestResult[] = [];
  for (const { rule, tests } of files) {
    for (const tc of tests) {
      const base = { rule: rule.name, test: tc.name, expected: tc.fires };
      const seen = caseLists(lists, tc.lists);
      const unset = listsOf(rule).filter((name) => !seen.has(name));
      if (unset.length > 0) {
        // Said before running: the rule would only throw "no list", and not say how to fix it.
        const error = `no list ${unset.join(", ")}: set it in the case's "lists", or make it on the server (PUT /v1/lists/:name)`;
        out.push({ ...base, fired: false, pass: false, reasons: [], error });
        continue;
      }
      try {
        const { fired, leaves } = await explainRule(rule, blankFacts(tc.facts), seen);
        const pass = fired === tc.fires;
        out.push({ ...base, fired, pass, reasons: pass ? [] : reasonsFor(leaves, fired) });
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        out.push({ ...base, fired: false, pass: false, reasons: [], error });
      }
    }
  }
  return out;
}

/** A failed case in one line: `"900 at an ATM" expected it to fire; it did not: amount.value was 900; …`. */
export function describeFailure(r: RuleTestResult): string {
  const said = `${JSON.stringify(r.test)} expected it to ${r.expected ? "fire" : "stay quiet"}`;
  if (r.error) return `${said}; the rule threw: ${r.error}`;
  const why = r.reasons.length > 0 ? `: ${r.reasons.join("; ")}` : "";
  return `${said}; it ${r.fired ? "fired" : "did not"}${why}`;
}

/**
 * Runs each file's own cases and refuses (UnprocessableError, 422) when any fails, naming every
 * failing case at its path (`tests[j]` under the file's `at`), its rule and why. A file without
 * cases passes: whether that is allowed is the caller's to say.
 */
export async function requirePassingTests(
  files: ReadonlyArray<{ file: RuleFile; at: string }>,
  lists: Lists = NO_LISTS,
): Promise<void> {
  const issues: RuleIssue[] = [];
  for (const { file, at } of files) {
    for (const [j, r] of (await runRuleTests([file], lists)).entries()) {
      if (!r.pass)
        issues.push({ path: jsonPath(["tests", j], at), rule: r.rule, message: describeFailure(r) });
    }
  }
  if (issues.length > 0) {
    throw new UnprocessableError(
      `${issues.length} test case(s) of the rule file(s) fail; nothing was published`,
      issues,
    );
  }
}
