/**
 * The rule stage alone, on one core: the shipped ruleset over facts computed from a generated
 * stream, compiled (engine/rules/compile.ts) and through json-rules-engine (the oracle), each
 * with explanations built for hits as the hot path does. `npm run bench` prints it first;
 * `tsx bench/rules.ts` runs it alone.
 */

import { CompiledRuleset } from "../engine/rules/compile.ts";
import { computeFacts, type Facts } from "../engine/rules/facts.ts";
import { Evaluator } from "../engine/rules/reference.ts";
import { generateStream } from "../fixtures/generator.ts";
import { defaultRuleset } from "../rules/index.ts";

/** Facts for a generated stream: one payment in forty with an impossible neighbour (a few per cent of events hit, as in a bank's stream). */
export function sampleFacts(n = 20_000): Facts[] {
  const stream = generateStream({
    seed: 42,
    customers: Math.ceil(n / 6),
    impossibleShare: 0.1,
    prefix: "rb",
  });
  const home = new Map(stream.customers.map((c) => [c.id, { id: c.id, homeCountry: c.homeCountry }]));
  return stream.events.slice(0, n).map((e, i) =>
    computeFacts(e, home.get(e.customerId), {
      txCount1h: i % 50 === 0 ? 6 : 1 + (i % 3),
      txSum1h: 40 * (1 + (i % 3)),
      txCount24h: 2 + (i % 9),
      txSum24h: 90 * (2 + (i % 9)),
      devicesBeforeLatest: 0,
      notices: [],
      recent: [],
      ...(i % 40 === 0
        ? {
            previousLocation: {
              id: "p",
              lat: 11.55,
              lon: 104.92,
              country: "KH",
              city: "Phnom Penh",
              at: Date.parse(e.occurredAt) - 7_200_000,
            },
          }
        : {}),
    }),
  );
}

export async function ruleStage(opts: { compiledEvents?: number; referenceEvents?: number } = {}) {
  const facts = sampleFacts();
  const ruleset = defaultRuleset();
  const compiled = new CompiledRuleset(ruleset);
  const reference = new Evaluator(ruleset);
  const compiledEvents = opts.compiledEvents ?? 2_000_000;
  const referenceEvents = opts.referenceEvents ?? 20_000;
  let hits = 0;
  for (let i = 0; i < 50_000; i++) hits += compiled.evaluate(facts[i % facts.length]!).hits.length; // warm up
  let t = process.hrtime.bigint();
  for (let i = 0; i < compiledEvents; i++) hits += compiled.evaluate(facts[i % facts.length]!).hits.length;
  const compiledSec = Number(process.hrtime.bigint() - t) / 1e9;
  for (let i = 0; i < 1_000; i++) await reference.evaluate(facts[i % facts.length]!);
  t = process.hrtime.bigint();
  for (let i = 0; i < referenceEvents; i++)
    hits += (await reference.evaluate(facts[i % facts.length]!)).hits.length;
  const referenceSec = Number(process.hrtime.bigint() - t) / 1e9;
  const compiledEventsPerSec = Math.round(compiledEvents / compiledSec);
  const referenceEventsPerSec = Math.round(referenceEvents / referenceSec);
  return {
    rules: ruleset.rules.length,
    compiledEventsPerSec,
    referenceEventsPerSec,
    ratio: Math.round((compiledEventsPerSec / referenceEventsPerSec) * 10) / 10,
    hitsSeen: hits,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await ruleStage();
  console.log(
    `rule stage (${r.rules} rules, one core): compiled ${r.compiledEventsPerSec.toLocaleString("en")} events/s, ` +
      `json-rules-engine ${r.referenceEventsPerSec.toLocaleString("en")} events/s: ${r.ratio}×`,
  );
}
