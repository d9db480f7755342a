import { describe, expect, it } from "vitest";
import { defaultRuleset } from "../../rules/index.ts";
import { blankFacts } from "./facts.ts";
import { Evaluator } from "./reference.ts";
import { parseRuleset } from "./schema.ts";

describe("Evaluator (json-rules-engine)", () => {
  const ruleset = defaultRuleset();

  it("explains a hit with every condition that held and the fact value it saw", async () => {
    const { hits } = await new Evaluator(ruleset).evaluate(
      blankFacts({
        "event.type": "card.transaction",
        "event.channel": "card_present",
        "travel.distanceKm": 10010,
        "travel.speedKmh": 5223,
      }),
    );
    const hit = hits.find((h) => h.rule === "impossible-location-spend")!;
    expect(hit).toMatchObject({ severity: "high", team: "fraud" });
    expect(hit.explanation.held).toContainEqual({
      fact: "travel.speedKmh",
      operator: "greaterThan",
      value: 900,
      factValue: 5223,
      held: true,
    });
  });

  it("isolates a rule that throws at run time and still runs the others", async () => {
    const facts = blankFacts({
      "event.type": "card.transaction",
      "event.channel": "card_present",
      "customer.isAbroad": true,
      // A fact whose computation blows up: json-rules-engine calls function facts at run time.
      "travel.distanceKm": () => {
        throw new Error("geo service fell over");
      },
    });
    const { hits, failures } = await new Evaluator(ruleset).evaluate(facts);
    expect(failures).toEqual([{ rule: "impossible-location-spend", message: "geo service fell over" }]);
    expect(hits.map((h) => h.rule)).toEqual(["foreign-spend-without-travel-notice"]);
  });

  it("refuses to be run twice at once, because json-rules-engine would silently skip rules", async () => {
    const e = new Evaluator(ruleset);
    const first = e.evaluate(blankFacts());
    await expect(e.evaluate(blankFacts())).rejects.toThrow(/not re-entrant/);
    await first;
  });
});

describe("missing facts", () => {
  it("never satisfy notEqual or notIn, as the catalogue promises", async () => {
    const ruleset = parseRuleset({
      rules: [
        {
          name: "not-france",
          conditions: { all: [{ fact: "event.country", operator: "notEqual", value: "FR" }] },
          event: { type: "t", params: { severity: "low", title: "t" } },
        },
        {
          name: "not-grocery",
          conditions: { all: [{ fact: "merchant.mcc", operator: "notIn", value: ["5411"] }] },
          event: { type: "t", params: { severity: "low", title: "t" } },
        },
      ],
    });
    const none = await new Evaluator(ruleset).evaluate(blankFacts({ "event.type": "login" }));
    expect(none.hits).toEqual([]);
    const both = await new Evaluator(ruleset).evaluate(
      blankFacts({ "event.country": "KH", "merchant.mcc": "5812" }),
    );
    expect(both.hits.map((h) => h.rule).sort()).toEqual(["not-france", "not-grocery"]);
  });

  it("refuses a plain value that json-rules-engine would read as a fact reference", () => {
    expect(() =>
      parseRuleset({
        rules: [
          {
            name: "sneaky",
            conditions: { all: [{ fact: "event.type", operator: "equal", value: { fact: "nope" } }] },
            event: { type: "t", params: { severity: "low", title: "t" } },
          },
        ],
      }),
    ).toThrow(/invalid ruleset/);
  });
});
