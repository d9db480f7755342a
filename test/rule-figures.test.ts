/**
 * A rule's record outlives its mode: what it would have done in shadow stays, per rule version
 * and mode, after it goes live, and its individual would-have hits are listed on the API and on
 * its desk page.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { LYON, PARIS, tx } from "./support/payments.ts";

const rule = (name: string, mode: "live" | "shadow", conditions: object[]) => ({
  rule: {
    name,
    mode,
    conditions: {
      all: [{ fact: "event.type", operator: "equal", value: "card.transaction" }, ...conditions],
    },
    event: { type: "fraud.suspected", params: { severity: "high", title: name } },
  },
  tests: [],
});
const bigSpend = (mode: "live" | "shadow") =>
  rule("big-spend", mode, [{ fact: "amount.value", operator: "greaterThanInclusive", value: 1000 }]);
const atmCash = rule("atm-cash", "live", [{ fact: "event.channel", operator: "equal", value: "atm" }]);
const eur = (value: number) => ({ amount: { value, currency: "EUR" } });

describe("a rule's figures per version and mode", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  const versions: Record<string, number> = {};
  let xCase = "";

  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "Priya" }));
    for (const [id, phone] of [
      ["rf-xavier", "+33612345001"],
      ["rf-yasmin", "+33612345002"],
      ["rf-zoe", "+33612345003"],
    ] as const)
      await t.api("PUT", `/v1/customers/${id}`, { name: id, phone, homeCountry: "FR" });
    const put = async (file: object, key: string) => {
      const r = await risk("PUT", `/v1/rules/${(file as { rule: { name: string } }).rule.name}`, file);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      versions[key] = r.body.version;
    };
    await put(atmCash, "atm");
    await put(bigSpend("shadow"), "shadow");
    // In shadow: Xavier's 1,500 and Yasmin's 2,000 would have been hit; Xavier's cash opens a case.
    await t.api("POST", "/v1/events", [
      tx("rf-s1", "rf-xavier", "2026-11-20T09:00:00Z", PARIS, eur(1500)),
      tx("rf-s2", "rf-yasmin", "2026-11-20T09:05:00Z", LYON, eur(2000)),
      tx("rf-s3", "rf-yasmin", "2026-11-20T09:10:00Z", LYON, eur(20)),
      tx("rf-c1", "rf-xavier", "2026-11-20T09:20:00Z", PARIS, { ...eur(200), channel: "atm" }),
    ]);
    await t.drained();
    xCase = (await openCaseWith(t.api, "rf-xavier", ["atm-cash"])).id;
    await t.api("POST", `/v1/cases/${xCase}/resolve`, { outcome: "confirmed_fraud" });

    // Live now; then a version that changes another rule only: still the same rule version.
    await put(bigSpend("live"), "live");
    await t.api("POST", "/v1/events", [tx("rf-l1", "rf-zoe", "2026-11-20T10:00:00Z", LYON, eur(3000))]);
    await openCaseWith(t.api, "rf-zoe", ["big-spend"]);
    await put(rule("atm-cash", "live", [{ fact: "event.channel", operator: "in", value: ["atm"] }]), "other");
    await t.api("POST", "/v1/events", [tx("rf-l2", "rf-zoe", "2026-11-20T10:30:00Z", LYON, eur(4000))]);
    await t.drained();
  });
  afterAll(() => t?.close());

  it("keeps a shadow rule's would-have figures after it goes live, beside its live ones", async () => {
    const r = await risk("GET", "/v1/rules/big-spend/figures");
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([
      {
        ruleVersion: versions.shadow,
        mode: "shadow",
        hits: 2,
        customers: 2,
        // Xavier's case (opened the same day) was confirmed fraud; Yasmin had none.
        confirmed: 1,
        falseAlarms: 0,
        precision: 1,
        overlapWithLive: 0,
        firstHitAt: expect.any(String),
        lastHitAt: expect.any(String),
      },
      {
        // Two ruleset versions, one rule version: the later publish changed atm-cash only.
        ruleVersion: versions.live,
        mode: "live",
        hits: 2,
        customers: 1,
        confirmed: 0,
        falseAlarms: 0,
        precision: null,
        overlapWithLive: null,
        firstHitAt: expect.any(String),
        lastHitAt: expect.any(String),
      },
    ]);
    const decided = await t.tp.db.sql`
      select ruleset_version from decisions where rule = 'big-spend' and mode = 'live' order by event_id`;
    expect(decided.map((d) => d.ruleset_version)).toEqual([versions.live, versions.other]);
  });

  it("lists a shadow rule's individual would-have hits, newest first, with what came of them", async () => {
    const r = await risk("GET", "/v1/rules/big-spend/hits?mode=shadow");
    expect(r.status).toBe(200);
    const items = r.body.items as Array<Record<string, unknown>>;
    expect(items.map((h) => h.eventId).sort()).toEqual(["rf-s1", "rf-s2"]);
    expect(items.find((h) => h.eventId === "rf-s1")).toMatchObject({
      customerId: "rf-xavier",
      mode: "shadow",
      rulesetVersion: versions.shadow,
      occurredAt: "2026-11-20T09:00:00.000Z",
      amount: { value: 1500, currency: "EUR" },
      merchant: "Shop",
      place: { city: "Paris", country: "FR" },
      alsoLive: false,
      caseId: xCase,
      outcome: "confirmed_fraud",
    });
    expect(items.find((h) => h.eventId === "rf-s2")).toMatchObject({
      customerId: "rf-yasmin",
      caseId: null,
      outcome: "none",
    });
    const live = await risk("GET", "/v1/rules/big-spend/hits?mode=live&limit=1");
    expect(live.body.items.map((h: { eventId: string }) => h.eventId)).toHaveLength(1);
    expect((await risk("GET", "/v1/rules/big-spend/hits?mode=sometimes")).status).toBe(400);
  });

  it("shows a team-bound supervisor only the hits on customers its team has a case for, on the API and the desk", async () => {
    // Every case here is the fraud team's (the rules' default): Xavier's and Zoe's; Yasmin has none.
    await t.api("PUT", "/v1/advocates/rf-cards-adv", { name: "Cara", team: "cards", status: "offline" });
    const fraudLead = t.as(await t.token("supervisor", { team: "fraud" }));
    const cardsLead = t.as(await t.token("supervisor", { team: "cards" }));
    const ids = (r: { body: { items: Array<{ eventId: string }> } }) =>
      r.body.items.map((h) => h.eventId).sort();

    const fraudShadow = await fraudLead("GET", "/v1/rules/big-spend/hits?mode=shadow");
    expect(fraudShadow.status).toBe(200);
    expect(ids(fraudShadow)).toEqual(["rf-s1"]);
    expect(fraudShadow.body.items[0]).toMatchObject({ caseId: xCase, outcome: "confirmed_fraud" });
    expect(ids(await fraudLead("GET", "/v1/rules/big-spend/hits?mode=live"))).toEqual(["rf-l1", "rf-l2"]);
    expect(ids(await cardsLead("GET", "/v1/rules/big-spend/hits?mode=shadow"))).toEqual([]);
    expect(ids(await cardsLead("GET", "/v1/rules/big-spend/hits?mode=live"))).toEqual([]);
    // A supervisor bound to no team, like the risk team, sees every customer.
    const everyone = t.as(await t.token("supervisor"));
    expect(ids(await everyone("GET", "/v1/rules/big-spend/hits?mode=shadow"))).toEqual(["rf-s1", "rf-s2"]);

    const desk = (path: string, init: RequestInit = {}) => t.tp.app!.request(`http://desk.test${path}`, init);
    const pageFor = async (token: string) => {
      const signedIn = await desk("/desk/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
        body: new URLSearchParams({ token }).toString(),
      });
      const cookie = (signedIn.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c)) ?? "").split(
        ";",
      )[0]!;
      const page = await desk("/desk/rules/big-spend", { headers: { cookie } });
      expect(page.status).toBe(200);
      return (await page.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
    };
    const fraudPage = await pageFor(await t.token("supervisor", { team: "fraud" }));
    expect(fraudPage).toMatch(/rf-s1 v\d+ rf-xavier/);
    expect(fraudPage).not.toContain("rf-yasmin");
    const cardsPage = await pageFor(await t.token("supervisor", { team: "cards" }));
    expect(cardsPage).toContain("Figures by version and mode");
    expect(cardsPage).not.toContain("rf-xavier");
    expect(cardsPage).not.toContain("rf-yasmin");
  });

  it("shows both on the desk: the rule page's figures and would-have hits, the Rules page's shadow days", async () => {
    const desk = (path: string, init: RequestInit = {}) => t.tp.app!.request(`http://desk.test${path}`, init);
    const signedIn = await desk("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token: await t.token("risk", { label: "Priya" }) }).toString(),
    });
    const cookie = (signedIn.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c)) ?? "").split(
      ";",
    )[0]!;
    const text = async (path: string) =>
      (await (await desk(path, { headers: { cookie } })).text())
        .replace(/<[^>]+>/g, " ")
        .replace(/\s+/g, " ");
    const page = await text("/desk/rules/big-spend");
    expect(page).toContain("Figures by version and mode");
    expect(page).toMatch(new RegExp(`v${versions.shadow} shadow 2 2 1 0 100% 0`));
    expect(page).toMatch(new RegExp(`v${versions.live} live 2 1 0 0 — —`));
    expect(page).toContain("Would-have hits (shadow)");
    expect(page).toMatch(/rf-s1 v\d+ rf-xavier/);
    expect(page).toContain(`confirmed fraud (${xCase})`);
    const rules = await text("/desk/rules");
    expect(rules).toContain("in shadow before: 2 would-have hit(s), precision 100%");
  });
});
