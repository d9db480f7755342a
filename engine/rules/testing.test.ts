import { describe, expect, it } from "vitest";
import { parseRuleFile, type RuleFile } from "./schema.ts";
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

describe("a rule file's case that cannot be run", () => {
  it("says the rule threw, and a fact the condition found missing", async () => {
    // Validation refuses `in` against a fact's value; a rule stored before that check still runs.
    const throwing = {
      rule: {
        name: "in-a-number",
        mode: "live",
        priority: 1,
        conditions: { all: [{ fact: "event.type", operator: "in", value: { fact: "amount.value" } }] },
        event: { type: "t", params: { severity: "low", title: "t", team: "fraud" } },
      },
      tests: [{ name: "a number has no indexOf", facts: { "amount.value": 5 }, fires: true }],
    } as RuleFile;
    const [result] = await runRuleTests([throwing]);
    expect(result).toMatchObject({ pass: false, fired: false, reasons: [] });
    expect(result!.error).toMatch(/indexOf/);

    const deep = parseRuleFile({
      rule: {
        name: "mcc",
        conditions: { all: [{ fact: "event", path: "$.merchant.mcc", operator: "equal", value: "5411" }] },
        event: { type: "t", params: { severity: "low", title: "t" } },
      },
      tests: [{ name: "no merchant", facts: { event: {} }, fires: true }],
    });
    expect((await runRuleTests([deep]))[0]!.reasons).toEqual([
      'event $.merchant.mcc was missing; wanted equal "5411"',
    ]);
  });
});

describe("a test case of a rule with a list", () => {
  const listed = (tests: unknown[]) =>
    parseRuleFile({
      rule: {
        name: "blocked-merchant",
        conditions: {
          all: [{ fact: "event", path: "$.merchant.name", operator: "inList", value: "blocked-merchants" }],
        },
        event: { type: "fraud.suspected", params: { severity: "high", title: "Blocked merchant" } },
      },
      tests,
    });
  const at = (name: string) => ({ event: { merchant: { name } } });

  it("sees the lists it sets over the server's, and says what to do about a list it cannot see", async () => {
    const server = new Map([["blocked-merchants", new Set(["Shop Y"])]]);
    const file = listed([
      { name: "its own list", facts: at("Shop X"), lists: { "blocked-merchants": ["Shop X"] }, fires: true },
      { name: "the server's list", facts: at("Shop Y"), fires: true },
    ]);
    expect((await runRuleTests([file], server)).map((r) => [r.test, r.pass])).toEqual([
      ["its own list", true],
      ["the server's list", true],
    ]);
    const [offline] = await runRuleTests([listed([{ name: "no list", facts: at("Shop Y"), fires: true }])]);
    expect(offline).toMatchObject({
      pass: false,
      error: `no list blocked-merchants: set it in the case's "lists", or make it on the server (PUT /v1/lists/:name)`,
    });
  });
});
