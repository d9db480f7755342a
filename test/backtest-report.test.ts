/**
 * A backtest's report as the risk analyst reads it: the payments each rule matched, the money
 * involved in the home currency, and what changes against the published ruleset. Every expected
 * list and sum below is worked out by this test from the events it posted and the outcomes it set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { defaultRuleFiles } from "../rules/index.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { LYON, PARIS } from "./support/payments.ts";

/** The rates this test sets: units per euro. */
const RATES = { GBP: 0.8, USD: 1.25 };
/** `value` of `currency` in `home`, by hand, to the cent. */
function byHand(value: number, currency: string, home: "EUR" | "GBP"): number {
  const eur = currency === "EUR" ? value : value / RATES[currency as keyof typeof RATES];
  return Math.round((home === "EUR" ? eur : eur * RATES.GBP) * 100) / 100;
}

const bigSpend = (threshold: number, channels: string[]) => ({
  rule: {
    name: "big-spend",
    conditions: {
      all: [
        { fact: "event.type", operator: "equal", value: "card.transaction" },
        { fact: "event.channel", operator: "in", value: channels },
        { fact: "amount.home", operator: "greaterThanInclusive", value: threshold },
      ],
    },
    event: { type: "fraud.suspected", params: { severity: "high", title: "A large payment" } },
  },
  tests: [],
});
const atmCash = {
  rule: {
    name: "atm-cash",
    conditions: {
      all: [
        { fact: "event.channel", operator: "equal", value: "atm" },
        { fact: "amount.home", operator: "greaterThanInclusive", value: 100 },
      ],
    },
    event: { type: "fraud.suspected", params: { severity: "high", title: "Cash" } },
  },
  tests: [],
};

const customers = {
  "bt-anna": { name: "Anna Weber", phone: "+33612340001", homeCountry: "FR", home: "EUR" },
  "bt-ben": { name: "Ben Carter", phone: "+447911123402", homeCountry: "GB", home: "GBP" },
  "bt-chloe": { name: "Chloé Martin", phone: "+33612340003", homeCountry: "FR", home: "EUR" },
} as const;
type Who = keyof typeof customers;

interface Payment {
  id: string;
  customerId: Who;
  occurredAt: string;
  value: number;
  currency: string;
  merchant: string;
  place: typeof PARIS;
  channel: "card_present" | "ecommerce" | "atm";
}
const pay = (
  id: string,
  customerId: Who,
  occurredAt: string,
  value: number,
  currency: string,
  merchant: string,
  place: typeof PARIS,
  channel: Payment["channel"] = "card_present",
): Payment => ({ id, customerId, occurredAt, value, currency, merchant, place, channel });

// One day, in event time; each customer stays in one city, so no journey rule could matter.
const payments: Payment[] = [
  pay("bt-e1", "bt-anna", "2026-11-18T09:00:00Z", 1200, "EUR", "Galerie Lumière", LYON),
  pay("bt-e2", "bt-ben", "2026-11-18T09:30:00Z", 900, "EUR", "Café de Flore", PARIS),
  pay("bt-e3", "bt-ben", "2026-11-18T10:00:00Z", 2000, "USD", "Hôtel Lutetia", PARIS),
  pay("bt-e4", "bt-chloe", "2026-11-18T10:30:00Z", 2000, "EUR", "Boutique en ligne", PARIS, "ecommerce"),
  pay("bt-e5", "bt-chloe", "2026-11-18T11:00:00Z", 40, "EUR", "Boulangerie", PARIS),
  pay("bt-e6", "bt-anna", "2026-11-18T11:30:00Z", 700, "EUR", "Fnac", LYON),
  pay("bt-e7", "bt-anna", "2026-11-18T12:00:00Z", 300, "EUR", "BNP ATM", LYON, "atm"),
];
const window = { from: "2026-11-18T00:00:00Z", to: "2026-11-19T00:00:00Z" };

/** The outcomes this test gives the cases the published rules open. */
const outcomeOf: Record<Who, "confirmed_fraud" | "false_alarm" | "open"> = {
  "bt-anna": "confirmed_fraud",
  "bt-ben": "false_alarm",
  "bt-chloe": "open",
};

/** What `threshold` and `channels` match, by hand. */
const matchesOf = (threshold: number, channels: string[]) =>
  payments.filter(
    (p) =>
      channels.includes(p.channel) && byHand(p.value, p.currency, customers[p.customerId].home) >= threshold,
  );
const publishedBig = matchesOf(1000, ["card_present", "atm", "ecommerce"]);
const draftBig = matchesOf(600, ["card_present", "atm"]);
const atmMatches = payments.filter(
  (p) => p.channel === "atm" && byHand(p.value, p.currency, customers[p.customerId].home) >= 100,
);
const flaggedByPublished = new Set([...publishedBig, ...atmMatches].map((p) => p.id));
const flaggedByDraft = new Set([...draftBig, ...atmMatches].map((p) => p.id));

describe("a backtest's report", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  /** Which payments opened (or joined) a case: those the published rules flagged, by hand. */
  const caseOf = new Map<string, string>();

  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "Priya" }));
    for (const [id, c] of Object.entries(customers)) {
      const put = await t.api("PUT", `/v1/customers/${id}`, {
        name: c.name,
        phone: c.phone,
        homeCountry: c.homeCountry,
      });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
    }
    expect((await risk("PUT", "/v1/fx-rates", { asOf: "2026-11-17", rates: RATES })).status).toBe(200);
    const published = await risk("POST", "/v1/rulesets", {
      rules: [bigSpend(1000, ["card_present", "atm", "ecommerce"]), atmCash],
      remove: defaultRuleFiles().map((f) => f.rule.name),
      note: "the backtest report's own ruleset",
    });
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    await t.api(
      "POST",
      "/v1/events",
      payments.map((p) => ({
        id: p.id,
        type: "card.transaction",
        occurredAt: p.occurredAt,
        customerId: p.customerId,
        card: { id: `${p.customerId}-card`, last4: "4242" },
        amount: { value: p.value, currency: p.currency },
        merchant: { name: p.merchant, mcc: "5411", ...p.place },
        channel: p.channel,
      })),
    );
    await t.drained();
    for (const who of Object.keys(customers) as Who[]) {
      const flagged = payments.filter((p) => p.customerId === who && flaggedByPublished.has(p.id));
      const rules = [...new Set(flagged.map((p) => (publishedBig.includes(p) ? "big-spend" : "atm-cash")))];
      const kase = await openCaseWith(t.api, who, rules);
      for (const p of flagged) caseOf.set(p.id, kase.id);
      if (outcomeOf[who] !== "open")
        await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: outcomeOf[who] });
    }
  });
  afterAll(() => t?.close());

  async function run(body: object) {
    const started = await risk("POST", "/v1/backtests", body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return eventually(
      async () => {
        const r = await risk("GET", `/v1/backtests/${started.body.id}`);
        return r.body.status === "done" || r.body.status === "failed" ? r.body : undefined;
      },
      60_000,
      "the backtest to finish",
    );
  }

  /** A payment as the report should list it, by hand. */
  const listed = (p: Payment) => {
    const home = customers[p.customerId].home;
    const own = caseOf.get(p.id);
    return {
      id: p.id,
      type: "card.transaction",
      customerId: p.customerId,
      occurredAt: p.occurredAt,
      amount: { value: p.value, currency: p.currency },
      home: { value: byHand(p.value, p.currency, home), currency: home },
      merchant: p.merchant,
      place: { city: p.place.city, country: p.place.country },
      // Its own case's outcome; a payment no case holds is "none", whatever its customer's case found.
      outcome: own ? outcomeOf[p.customerId] : "none",
      caseId: own ?? null,
    };
  };
  /** The money of `ps`, by hand, one entry per home currency. */
  const money = (ps: Payment[]) =>
    (["EUR", "GBP"] as const).flatMap((currency) => {
      const mine = ps.filter((p) => customers[p.customerId].home === currency);
      if (mine.length === 0) return [];
      const sum = (f: (p: Payment) => boolean) =>
        Math.round(mine.filter(f).reduce((n, p) => n + byHand(p.value, p.currency, currency) * 100, 0)) / 100;
      const outcome = (p: Payment) => listed(p).outcome;
      return [
        {
          currency,
          payments: mine.length,
          total: sum(() => true),
          confirmedFraud: sum((p) => outcome(p) === "confirmed_fraud"),
          falseAlarms: sum((p) => outcome(p) === "false_alarm"),
          open: sum((p) => outcome(p) === "open"),
        },
      ];
    });

  it("lists each rule's matched payments with both amounts, merchant, place and known outcome, and the money in the home currency", async () => {
    const job = await run({ rules: [bigSpend(600, ["card_present", "atm"])], ...window });
    expect(job.status, JSON.stringify(job.error)).toBe("done");
    const report = job.report;
    expect(report).toMatchObject({ events: payments.length, listedPerRule: 50 });
    const rule = (side: "candidate" | "published", name: string) =>
      report[side].find((s: { rule: string }) => s.rule === name);

    const draft = rule("candidate", "big-spend");
    expect(draft.change).toBe("changed");
    expect(draft.hits).toBe(draftBig.length);
    expect(draft.matched).toEqual({
      count: draftBig.length,
      listed: draftBig.map(listed),
      money: money(draftBig),
      unconverted: 0,
    });
    // The same sums, spelt out for the reader: Anna's 1,200 EUR (its case confirmed fraud) + 700
    // EUR (no case: the published rules never flagged it); Ben's 900 EUR = 720 GBP (no case) and
    // 2,000 USD = 1,280 GBP (its case a false alarm). A payment no case holds is in no outcome's sum.
    expect(draft.matched.money).toEqual([
      { currency: "EUR", payments: 2, total: 1900, confirmedFraud: 1200, falseAlarms: 0, open: 0 },
      { currency: "GBP", payments: 2, total: 2000, confirmedFraud: 0, falseAlarms: 1280, open: 0 },
    ]);
    const was = rule("published", "big-spend");
    expect(was.change).toBe("changed");
    expect(was.matched.listed).toEqual(publishedBig.map(listed));
    expect(was.matched.money).toEqual(money(publishedBig));

    // An unchanged rule is listed once, on the candidate side; counted and summed on both.
    expect(rule("candidate", "atm-cash")).toMatchObject({
      change: "unchanged",
      hits: atmMatches.length,
      matched: { count: atmMatches.length, listed: atmMatches.map(listed), money: money(atmMatches) },
    });
    expect(rule("published", "atm-cash")).toMatchObject({
      change: "unchanged",
      matched: { count: atmMatches.length, listed: [], money: money(atmMatches) },
    });

    // Against the published set: exactly the payments the draft flags and it does not, and back.
    const newly = payments.filter((p) => flaggedByDraft.has(p.id) && !flaggedByPublished.has(p.id));
    const gone = payments.filter((p) => flaggedByPublished.has(p.id) && !flaggedByDraft.has(p.id));
    expect(newly.map((p) => p.id)).toEqual(["bt-e2", "bt-e6"]);
    expect(gone.map((p) => p.id)).toEqual(["bt-e4"]);
    expect(report.changes.newlyFlagged).toEqual({
      count: newly.length,
      listed: newly.map(listed),
      money: money(newly),
      unconverted: 0,
      rules: Object.fromEntries(newly.map((p) => [p.id, ["big-spend"]])),
    });
    expect(report.changes.noLongerFlagged).toEqual({
      count: gone.length,
      listed: gone.map(listed),
      money: money(gone),
      unconverted: 0,
      rules: Object.fromEntries(gone.map((p) => [p.id, ["big-spend"]])),
    });
    expect(report.noLongerFlagged).toEqual(["bt-chloe"]);
    expect(report.newlyFlagged).toEqual([]);

    // The desk shows the same report: the Rules page links it, its page lists the payments.
    const desk = (path: string, init: RequestInit = {}) => t.tp.app!.request(`http://desk.test${path}`, init);
    const signedIn = await desk("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token: await t.token("risk", { label: "Priya" }) }).toString(),
    });
    const cookie = (signedIn.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c)) ?? "").split(
      ";",
    )[0]!;
    const rulesPage = await desk("/desk/rules", { headers: { cookie } });
    expect(rulesPage.status).toBe(200);
    const rules = await rulesPage.text();
    expect(rules).toContain(`href="/desk/rules/backtests/${job.id}"`);
    const html = await (await desk(`/desk/rules/backtests/${job.id}`, { headers: { cookie } })).text();
    const text = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
    expect(text).toContain("Newly flagged: 2 event(s)");
    expect(text).toContain("No longer flagged: 1 event(s)");
    // Ben's 900 EUR in Paris, 720 GBP in his home currency: no case of its own (his other payment's
    // case was a false alarm, which says nothing of this one).
    expect(text).toContain("bt-e2 bt-ben");
    expect(text).toMatch(/900\.00 EUR 720\.00 GBP Café de Flore Paris, FR no case/);
    expect(text).toContain("1,900.00 EUR over 2 payment(s): confirmed fraud 1,200.00 EUR");
  });

  it("still shows a report stored before reports listed events", async () => {
    const old = {
      events: 3,
      truncated: false,
      candidate: [],
      published: [],
      neverHit: [],
      newlyFlagged: [],
      noLongerFlagged: [],
      labelledCustomers: 0,
    };
    await t.tp.db.sql`
      insert into backtests (id, status, requested_by, request, published_version, report, finished_at)
      values ('bt-before', 'done', 'Priya', ${t.tp.db.sql.json({ maxEvents: 10 })}, 1, ${t.tp.db.sql.json(old)}, now())`;
    const desk = (path: string, init: RequestInit = {}) => t.tp.app!.request(`http://desk.test${path}`, init);
    const signedIn = await desk("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token: await t.token("risk") }).toString(),
    });
    const cookie = (signedIn.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c)) ?? "").split(
      ";",
    )[0]!;
    const page = await desk("/desk/rules/backtests/bt-before", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("before backtests listed the events they matched");
  });

  it("lists only the first N matches it was asked for, and still counts and sums them all", async () => {
    const job = await run({ rules: [bigSpend(600, ["card_present", "atm"])], ...window, listed: 2 });
    const draft = job.report.candidate.find((s: { rule: string }) => s.rule === "big-spend");
    expect(job.report.listedPerRule).toBe(2);
    expect(draft.matched.count).toBe(draftBig.length);
    expect(draft.matched.listed).toEqual(draftBig.slice(0, 2).map(listed));
    expect(draft.matched.money).toEqual(money(draftBig));
  });

  it("tries one file against the published set and reports only what that file changes", async () => {
    // The published file again: a change of nothing.
    const same = await run({ rules: [bigSpend(1000, ["card_present", "atm", "ecommerce"])], ...window });
    expect(same.report.candidate.map((s: { rule: string; change: string }) => [s.rule, s.change])).toEqual([
      ["atm-cash", "unchanged"],
      ["big-spend", "unchanged"],
    ]);
    expect(same.report.changes.newlyFlagged).toMatchObject({ count: 0, listed: [], money: [] });
    expect(same.report.changes.noLongerFlagged).toMatchObject({ count: 0, listed: [], money: [] });

    // A new rule alone: the published rules still run beside it, so what they flag is no change.
    const bigCash = {
      rule: {
        ...atmCash.rule,
        name: "big-cash",
        conditions: {
          all: [
            { fact: "amount.home", operator: "greaterThanInclusive", value: 250 },
            { fact: "event.channel", operator: "equal", value: "atm" },
          ],
        },
      },
      tests: [],
    };
    const added = await run({ rules: [bigCash], ...window });
    expect(added.report.candidate.map((s: { rule: string; change: string }) => [s.rule, s.change])).toEqual([
      ["atm-cash", "unchanged"],
      ["big-cash", "added"],
      ["big-spend", "unchanged"],
    ]);
    const bigCashHits = payments.filter(
      (p) => p.channel === "atm" && byHand(p.value, p.currency, customers[p.customerId].home) >= 250,
    );
    expect(bigCashHits.map((p) => p.id)).toEqual(["bt-e7"]);
    const added1 = added.report.candidate.find((s: { rule: string }) => s.rule === "big-cash");
    expect(added1.matched.listed).toEqual(bigCashHits.map(listed));
    // bt-e7 is flagged by atm-cash already: nothing newly flagged, nothing dropped.
    expect(added.report.changes.newlyFlagged.count).toBe(0);
    expect(added.report.changes.noLongerFlagged.count).toBe(0);
    expect(added.report.noLongerFlagged).toEqual([]);
  });
});
