/**
 * `npm run differential`: the compiled evaluator against json-rules-engine on a million events (or
 * DIFF_EVENTS): generated rulesets, a fresh one every 1,000 events, and the shipped ruleset, on
 * generated facts. Any difference in hits, failing rules or explanations stops it with the case.
 * (CI runs the same comparison on a few thousand: engine/rules/compile.test.ts.)
 */

import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { CompiledRuleset } from "../engine/rules/compile.ts";
import { type Evaluation, Evaluator } from "../engine/rules/reference.ts";
import type { Ruleset } from "../engine/rules/schema.ts";
import { defaultRuleset } from "../rules/index.ts";
import { facts, lists, ruleset } from "../test/support/rule-arbitraries.ts";

const total = Number(process.env.DIFF_EVENTS ?? 1_000_000);
const seed = Number(process.env.DIFF_SEED ?? 1);
const perRuleset = 1000;

function comparable(e: Evaluation) {
  return {
    hits: [...e.hits].sort((a, b) => a.rule.localeCompare(b.rule)),
    failures: e.failures.map((f) => f.rule).sort(),
  };
}

let done = 0;
let hits = 0;
const started = Date.now();
for (let round = 0; done < total; round++) {
  const rs: Ruleset =
    round % 5 === 0 ? defaultRuleset() : fc.sample(ruleset, { numRuns: 1, seed: seed + round })[0]!;
  // The named lists of inList / notInList, generated with each ruleset (some lists never held).
  const ls = fc.sample(lists, { numRuns: 1, seed: seed + round })[0]!;
  const compiled = new CompiledRuleset(rs, ls);
  const reference = new Evaluator(rs, ls);
  for (const f of fc.sample(facts, {
    numRuns: Math.min(perRuleset, total - done),
    seed: seed * 7919 + round,
  })) {
    const a = comparable(compiled.evaluate(f));
    const b = comparable(await reference.evaluate(f));
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))) {
      console.error(JSON.stringify({ ruleset: rs, facts: f, compiled: a, reference: b }, null, 2));
      console.error(`differ after ${done} events (round ${round}, seed ${seed})`);
      process.exit(1);
    }
    hits += a.hits.length;
    done++;
  }
  if (round % 50 === 0)
    process.stdout.write(
      `\r${done.toLocaleString("en")} events, ${hits.toLocaleString("en")} hits, no difference`,
    );
}
console.log(
  `\r${done.toLocaleString("en")} events (${hits.toLocaleString("en")} hits) on ${Math.ceil(done / perRuleset)} rulesets: compiled and json-rules-engine agree (${Math.round((Date.now() - started) / 1000)} s)`,
);
