import { describe, expect, it } from "vitest";
import { parseRuleFile } from "./schema.ts";
import { runRuleTests } from "./testing.ts";

const file = (tests: unknown[]) =>
  parseRuleFile({
    rule: {
      name: "big-atm",
      conditions: {
        all: [
          { fact: "event.channel", operator: "equal", value: "atm" },
          { fact: "amount.value", operator: "greaterThanInclusive", value: 1000 },
          { not: { fact: "customer.hasTravelNotice", operator: "equal", value: true } },
        ],
      },
      event: { type: "fraud.suspected", params: { severity: "high", title: "Large cash withdrawal" } },
    },
    tests,
  });

describe("a rule file's own test cases", () => {
  it("are about the rule under test, facts not set being blank", async () => {
    const results = await runRuleTests([
      file([
        { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
        { name: "nothing known", facts: {}, fires: false },
      ]),
    ]);
    expect(results).toEqual([
      { rule: "big-atm", test: "1,500 at an ATM", expected: true, fired: true, pass: true, reasons: [] },
      { rule: "big-atm", test: "nothing known", expected: false, fired: false, pass: true, reasons: [] },
    ]);
  });

  it("say which condition did not hold, with the fact's value and what it wanted", async () => {
    const [missed, unexpected] = await runRuleTests([
      file([
        {
          name: "800 at an ATM abroad with a notice",
          facts: { "event.channel": "atm", "amount.value": 800, "customer.hasTravelNotice": true },
          fires: true,
        },
        { name: "2,000 at an ATM", facts: { "event.channel": "atm", "amount.value": 2000 }, fires: false },
      ]),
    ]);
    expect(missed).toMatchObject({ pass: false, expected: true, fired: false });
    expect(missed!.reasons).toEqual([
      "amount.value was 800; wanted greaterThanInclusive 1000",
      "customer.hasTravelNotice was true; wanted not equal true",
    ]);
    expect(unexpected).toMatchObject({ pass: false, expected: false, fired: true });
    expect(unexpected!.reasons).toEqual([
      'event.channel was "atm"; wanted equal "atm"',
      "amount.value was 2000; wanted greaterThanInclusive 1000",
      "customer.hasTravelNotice was false; wanted not equal true",
    ]);
  });
});
