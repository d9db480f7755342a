/**
 * Review of issue 25 (r-25): defects shown by pure checks. Each test states what the feature
 * should do; it fails on main as reviewed.
 */
import { describe, expect, it } from "vitest";
import { CompiledRuleset } from "../engine/rules/compile.ts";
import { blankFacts } from "../engine/rules/facts.ts";
import { listsFrom, normaliseItems } from "../engine/rules/lists.ts";
import type { Ruleset } from "../engine/rules/schema.ts";

const onMerchant: Ruleset = {
  rules: [
    {
      name: "blocked-merchant",
      mode: "live",
      priority: 1,
      conditions: {
        all: [{ fact: "event", path: "$.merchant.name", operator: "inList", value: "blocked-merchants" }],
      },
      event: { type: "fraud.suspected", params: { severity: "high", title: "Blocked", team: "fraud" } },
    } as Ruleset["rules"][number],
  ],
};

const fires = (items: string[], merchant: string) =>
  new CompiledRuleset(onMerchant, listsFrom({ "blocked-merchants": normaliseItems(items) })).firing({
    ...blankFacts(),
    event: { type: "card.transaction", merchant: { name: merchant } },
  } as never);

describe("a list lookup matches the item the analyst listed", () => {
  it("when the card feed pads the merchant's name (the item was trimmed when stored)", () => {
    // events.ts's own comment: "a card feed pads fields with spaces"; merchant.name is kept as sent.
    expect(fires(["SHOP X"], "SHOP X  ")).toEqual(["blocked-merchant"]);
  });
  it("when the CSV and the feed spell the same name in different Unicode forms (NFD vs NFC)", () => {
    expect(fires(["Galerie Lumie\u0300re"], "Galerie Lumi\u00e8re")).toEqual(["blocked-merchant"]);
  });
});
