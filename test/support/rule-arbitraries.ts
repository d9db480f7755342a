/**
 * Generated rulesets and facts for the differential tests of the compiled evaluator against
 * json-rules-engine: structurally valid rules (not only those today's validation accepts) and facts
 * as computeFacts gives them, or with some missing, null, of the wrong type.
 */
import fc from "fast-check";
import { blankFacts, FACTS, type Facts } from "../../engine/rules/facts.ts";
import { type Condition, OPERATORS, type Rule, type Ruleset } from "../../engine/rules/schema.ts";

const factNames = Object.keys(FACTS);
const operators = Object.keys(OPERATORS);

/** Values of every kind a fact or a rule's value can hold, and some that surprise. */
const scalar = fc.oneof(
  fc.constantFrom(0, 1, -1, 5, 900, 1000, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
  fc.integer({ min: -2000, max: 2000 }),
  fc.constantFrom("", "atm", "card.transaction", "login", "FR", "KH", "5", "1000", "abc", "5411"),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
);
const eventObject = fc.record(
  {
    merchant: fc.record(
      { mcc: fc.oneof(scalar, fc.constant(undefined)), country: scalar },
      { requiredKeys: [] },
    ),
    amount: fc.record({ value: scalar, currency: scalar }, { requiredKeys: [] }),
    channel: scalar,
    tags: fc.array(scalar, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const path = fc.constantFrom(
  "$.merchant.mcc",
  "$.merchant.country",
  "$.amount.value",
  "$.channel",
  "$.tags",
  "$.nope.deeper",
);

const leaf: fc.Arbitrary<Condition> = fc
  .record({
    fact: fc.constantFrom(...factNames),
    operator: fc.constantFrom(...operators),
    value: fc.oneof(
      { weight: 5, arbitrary: value },
      { weight: 1, arbitrary: fc.record({ fact: fc.constantFrom(...factNames) }) },
      { weight: 1, arbitrary: fc.record({ fact: fc.constant("event"), path }) },
    ),
    path: fc.option(path, { nil: undefined }),
  })
  .map(({ path: p, ...l }) => (p && l.fact === "event" ? { ...l, path: p } : l) as Condition);

const condition: fc.Arbitrary<Condition> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc.array(tie("node"), { minLength: 1, maxLength: 4 }).map((all) => ({ all }) as Condition),
    },
    {
      weight: 1,
      arbitrary: fc.array(tie("node"), { minLength: 1, maxLength: 4 }).map((any) => ({ any }) as Condition),
    },
    { weight: 1, arbitrary: tie("node").map((not) => ({ not }) as Condition) },
  ),
})).node as fc.Arbitrary<Condition>;

const top = fc.oneof(
  fc.array(condition, { minLength: 1, maxLength: 4 }).map((all) => ({ all })),
  fc.array(condition, { minLength: 1, maxLength: 4 }).map((any) => ({ any })),
  condition.map((not) => ({ not })),
);

export const ruleset: fc.Arbitrary<Ruleset> = fc
  .array(fc.record({ conditions: top, priority: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 5,
  })
  .map((rules) => ({
    rules: rules.map(
      (r, i): Rule => ({
        name: `rule-${i}`,
        mode: i % 2 === 0 ? "live" : "shadow",
        priority: r.priority,
        conditions: r.conditions as Rule["conditions"],
        event: { type: "fraud.suspected", params: { severity: "high", title: `Rule ${i}`, team: "fraud" } },
      }),
    ),
  }));

/** Facts as computeFacts gives them, or with some missing, null, of the wrong type. */
export const facts: fc.Arbitrary<Facts> = fc
  .record({
    set: fc.dictionary(fc.constantFrom(...factNames), value, { maxKeys: 8 }),
    drop: fc.subarray(factNames, { maxLength: 4 }),
    event: eventObject,
  })
  .map(({ set, drop, event }) => {
    const f: Record<string, unknown> = { ...blankFacts(), event, ...set };
    for (const name of drop) delete f[name];
    return f as Facts;
  });
