import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { defaultRuleset } from "../rules/index.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const bigAtm = {
  name: "big-atm-withdrawal",
  description: "A cash withdrawal of 1,000 or more.",
  conditions: {
    all: [
      { fact: "event.channel", operator: "equal", value: "atm" },
      { fact: "amount.value", operator: "greaterThanInclusive", value: 1000 },
    ],
  },
  event: { type: "fraud.suspected", params: { severity: "high", title: "Large cash withdrawal" } },
};

describe("the risk team's rulesets", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk"));
  });
  afterAll(() => t?.close());

  it("points at the rule and the JSON path of a mistake, and publishes nothing", async () => {
    const broken = {
      ...bigAtm,
      conditions: {
        all: [bigAtm.conditions.all[0], { fact: "amount.value", operator: "moreThan", value: 1000 }],
      },
    };
    const r = await risk("POST", "/v1/rulesets", { rules: [broken] });
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([
      { path: "rules[0].conditions.all[1].operator", message: 'unknown operator "moreThan"' },
    ]);
    expect((await risk("GET", "/v1/rulesets/current")).body.version).toBe(1);
  });

  it("tests a draft against facts before publishing", async () => {
    const r = await risk("POST", "/v1/rulesets/test", {
      rules: [bigAtm],
      cases: [
        {
          name: "1,500 at an ATM",
          facts: { "event.channel": "atm", "amount.value": 1500 },
          fires: ["big-atm-withdrawal"],
        },
        {
          name: "1,500 in a shop",
          facts: { "event.channel": "card_present", "amount.value": 1500 },
          fires: [],
        },
      ],
    });
    expect(r.body).toMatchObject({ passed: 2, failed: 0 });
  });

  it("publishes a new version that the workers pick up, keeping every version", async () => {
    const rules = [...defaultRuleset().rules, bigAtm];
    const published = await risk("POST", "/v1/rulesets", { rules, note: "cash withdrawals" });
    expect(published.status).toBe(201);
    expect(published.body.version).toBe(2);
    await t.api("POST", "/v1/events", [
      {
        id: "atm-1",
        type: "card.transaction",
        occurredAt: "2026-11-22T10:00:00Z",
        customerId: "cus-19",
        card: { id: "card-19", last4: "1919" },
        amount: { value: 1200, currency: "EUR" },
        merchant: { name: "BNP ATM", city: "Lyon", country: "FR", lat: 45.76, lon: 4.83 },
        channel: "atm",
      },
    ]);
    const kase = await openCaseWith(t.api, "cus-19", ["big-atm-withdrawal"]);
    expect(kase.decisions[0]).toMatchObject({ rule: "big-atm-withdrawal", rulesetVersion: 2 });
    const [{ n }] = (await t.tp.db.sql`select count(*)::int as n from rulesets`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(2);
  });

  it("keeps publishing to the risk team", async () => {
    const advocate = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    expect((await advocate("POST", "/v1/rulesets", { rules: [bigAtm] })).status).toBe(403);
  });
});
