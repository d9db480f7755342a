import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, loadStory, openCaseWith, playStory } from "../fixtures/stories.ts";
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

describe("backtests and rollbacks", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk"));
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "confirmed_fraud" });
  });
  afterAll(() => t?.close());

  it("replays stored events through a draft and the published rules side by side, scored by outcomes", async () => {
    const slower = defaultRuleset().rules.map((r) =>
      r.name !== "impossible-location-spend"
        ? r
        : {
            ...r,
            conditions: {
              all: [
                ...(r.conditions as { all: object[] }).all.slice(0, 3),
                { fact: "travel.speedKmh", operator: "greaterThan", value: 6000 },
              ],
            },
          },
    );
    const r = await risk("POST", "/v1/rulesets/backtest", {
      rules: slower,
      from: "2026-11-14T00:00:00Z",
      to: "2026-11-23T00:00:00Z",
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ publishedVersion: 1, events: 5, truncated: false });
    const published = r.body.published.find((s: { rule: string }) => s.rule === "impossible-location-spend");
    expect(published).toMatchObject({ customers: 1, confirmed: 1, falseAlarms: 0, precision: 1 });
    // 5,191 km/h is under the draft's 6,000: the draft would not have called this impossible.
    expect(r.body.candidate.map((s: { rule: string }) => s.rule)).not.toContain("impossible-location-spend");
    expect(await t.tp.redis.keys(`${t.prefix}:bt:*`)).toEqual([]);
    const bad = await risk("POST", "/v1/rulesets/backtest", {
      from: "0000-01-01T00:00:00Z",
      to: "2026-11-23T00:00:00Z",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("from");
  });

  it("rolls back to an earlier version by publishing it again, keeping the history", async () => {
    const v2 = await risk("POST", "/v1/rulesets", { rules: [bigAtm], note: "atm only" });
    expect(v2.body.version).toBe(2);
    const back = await risk("POST", "/v1/rulesets/1/rollback");
    expect(back.status).toBe(201);
    expect(back.body).toMatchObject({ version: 3, rolledBackTo: 1 });
    const versions = (await risk("GET", "/v1/rulesets")).body.items;
    expect(versions.map((v: { version: number; note: string }) => [v.version, v.note])).toEqual([
      [3, "rollback to version 1"],
      [2, "atm only"],
      [1, "default ruleset shipped in rules/"],
    ]);
    expect((await risk("GET", "/v1/rulesets/current")).body.ruleset.rules).toHaveLength(
      defaultRuleset().rules.length,
    );
    expect((await risk("POST", "/v1/rulesets/99/rollback")).status).toBe(404);
    expect((await risk("POST", "/v1/rulesets/9999999999/rollback")).status).toBe(400);
  });
});
