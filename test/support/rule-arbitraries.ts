/**
 * Generated rulesets and facts for the differential tests of the compiled evaluator against
 * json-rules-engine: structurally valid rules (not only those today's validation accepts) and facts
 * as computeFacts gives them, or with some missing, null, of the wrong type.
 */
import fc from "fast-check";
import { blankFacts, FACTS, type Facts } from "../../engine/rules/facts.ts";
import type { Lists } from "../../engine/rules/lists.ts";
import {
  type Condition,
  LIST_OPERATORS,
  OPERATORS,
  type Rule,
  type Ruleset,
} from "../../engine/rules/schema.ts";

const factNames = Object.keys(FACTS);
const operators = Object.keys(OPERATORS);

/** Names a rule's `inList` / `notInList` may give: some held by `lists` below, one never held. */
const listNames = ["risky-countries", "blocked-merchants", "mccs", "empty", "no-such-list"] as const;

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
      {
        mcc: fc.oneof(scalar, fc.constant(undefined)),
        country: scalar,
        // As a feed may send a listed name: padded, decomposed (e + U+0300), in another case.
        name: fc.oneof(
          scalar,
          fc.constantFrom(
            "Galerie Lumière",
            "Galerie Lumie\u0300re",
            "Shop X",
            " Shop X",
            "Shop X\t",
            "shop x",
          ),
        ),
      },
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
  "$.merchant.name",
  "$.amount.value",
  "$.channel",
  "$.tags",
  "$.nope.deeper",
);

const anyValue = fc.oneof(
  { weight: 5, arbitrary: value },
  { weight: 1, arbitrary: fc.record({ fact: fc.constantFrom(...factNames) }) },
  { weight: 1, arbitrary: fc.record({ fact: fc.constant("event"), path }) },
);

const leaf: fc.Arbitrary<Condition> = fc
  .record({
    fact: fc.constantFrom(...factNames),
    operator: fc.constantFrom(...operators),
    path: fc.option(path, { nil: undefined }),
  })
  .chain((l) =>
    // A list operator mostly names a list (held or not), sometimes anything else a value can be.
    (LIST_OPERATORS.has(l.operator)
      ? fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom<unknown>(...listNames) },
          { weight: 1, arbitrary: anyValue },
        )
      : anyValue
    ).map((v) => ({ ...l, value: v })),
  )
  .map(({ path: p, ...l }) => (p && l.fact === "event" ? { ...l, path: p } : l) as Condition);

/** A list lookup on a fact likely to hold one of the lists' items, so both answers are exercised. */
const listLeaf: fc.Arbitrary<Condition> = fc
  .record({
    on: fc.oneof(
      fc
        .constantFrom("$.merchant.name", "$.merchant.country", "$.merchant.mcc")
        .map((p) => ({ fact: "event", path: p })),
      fc
        .constantFrom("event.country", "merchant.mcc", "customer.homeCountry", "amount.value")
        .map((f) => ({ fact: f })),
    ),
    operator: fc.constantFrom("inList", "notInList"),
    value: fc.constantFrom(...listNames),
  })
  .map(({ on, ...l }) => ({ ...on, ...l }) as Condition);

const condition: fc.Arbitrary<Condition> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: leaf },
    { weight: 1, arbitrary: listLeaf },
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

/** The lists both evaluators are given: items a fact may or may not hold, one list empty. */
export const lists: fc.Arbitrary<Lists> = fc
  .record({
    "risky-countries": fc.subarray(["FR", "KH", "", "5", "abc"]),
    "blocked-merchants": fc.subarray(["Galerie Lumière", "Shop X", "atm"]),
    mccs: fc.subarray(["5411", "5", "1000"]),
    empty: fc.constant([] as string[]),
  })
  .map((byName) => new Map(Object.entries(byName).map(([name, items]) => [name, new Set(items)])));
