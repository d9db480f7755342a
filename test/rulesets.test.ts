import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStream } from "../fixtures/generator.ts";
import {
  eventually,
  loadPeople,
  loadPeopleVia,
  loadStory,
  openCaseWith,
  playStory,
} from "../fixtures/stories.ts";
import { defaultRuleFiles, defaultRuleset } from "../rules/index.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { BANGKOK, LYON, tx } from "./support/payments.ts";

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
  const versionCount = async () => {
    const [{ n }] = (await t.tp.db.sql`select count(*)::int as n from rulesets`) as unknown as [
      { n: number },
    ];
    return n;
  };
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "Priya (fraud strategy)" }));
  });
  afterAll(() => t?.close());

  it("points at the rule and the JSON path of every mistake at once, and publishes nothing", async () => {
    const broken = {
      ...bigAtm,
      conditions: {
        all: [
          { fact: "event.chanel", operator: "equal", value: "atm" },
          { fact: "amount.value", operator: "greaterthan", value: 1000 },
        ],
      },
    };
    const r = await risk("POST", "/v1/rulesets", { rules: [...defaultRuleFiles(), { rule: broken }] });
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([
      {
        path: "rules[5].rule.conditions.all[0].fact",
        rule: "big-atm-withdrawal",
        message: 'unknown fact "event.chanel"; did you mean "event.channel"?',
      },
      {
        path: "rules[5].rule.conditions.all[1].operator",
        rule: "big-atm-withdrawal",
        message: 'unknown operator "greaterthan"; did you mean "greaterThan"?',
      },
    ]);
    expect((await risk("GET", "/v1/rulesets/current")).body.version).toBe(1);
  });

  it("runs a rule file's own cases, and says why a failing one failed", async () => {
    const r = await risk("POST", "/v1/rulesets/test", {
      rules: [
        {
          rule: bigAtm,
          tests: [
            { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
            { name: "900 at an ATM", facts: { "event.channel": "atm", "amount.value": 900 }, fires: true },
          ],
        },
      ],
    });
    expect(r.body).toMatchObject({ passed: 1, failed: 1 });
    expect(r.body.results[1]).toEqual({
      rule: "big-atm-withdrawal",
      test: "900 at an ATM",
      expected: true,
      fired: false,
      pass: false,
      reasons: ["amount.value was 900; wanted greaterThanInclusive 1000"],
    });
    const shipped = await risk("POST", "/v1/rulesets/test", {});
    expect(shipped.body.failed).toBe(0);
    expect(shipped.body.passed).toBe(defaultRuleFiles().reduce((n, f) => n + f.tests.length, 0));
  });

  it("adds one rule with PUT, keeping every other, and records who and why", async () => {
    const put = await risk("PUT", "/v1/rules/big-atm-withdrawal", {
      rule: bigAtm,
      tests: [
        { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
      ],
      note: "cash-out rings in Lyon",
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ version: 2, unchanged: false, from: 1 });
    expect(put.body.diff).toMatchObject({ added: ["big-atm-withdrawal"], changed: [], removed: [] });
    const rules = (await risk("GET", "/v1/rules")).body;
    expect(rules.items.map((r: { name: string }) => r.name)).toEqual(
      [...defaultRuleFiles().map((f) => f.rule.name), "big-atm-withdrawal"].sort(),
    );
    const [latest] = (await risk("GET", "/v1/rulesets")).body.items;
    expect(latest).toMatchObject({
      version: 2,
      createdBy: "Priya (fraud strategy)",
      note: "cash-out rings in Lyon",
    });
    // The same file again changes nothing, and makes no version.
    const again = await risk("PUT", "/v1/rules/big-atm-withdrawal", {
      rule: bigAtm,
      tests: [
        { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
      ],
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ version: 2, unchanged: true });
    expect(await versionCount()).toBe(2);
    const wrongName = await risk("PUT", "/v1/rules/other-name", { rule: bigAtm });
    expect(wrongName.status).toBe(400);
    expect(wrongName.body.error.issues[0].path).toBe("rule.name");
  });

  it("refuses a whole publish that would drop rules unless it lists them in remove, and shows the diff first", async () => {
    const before = await versionCount();
    const files = defaultRuleFiles();
    const dropping = await risk("POST", "/v1/rulesets", { rules: files, note: "oops" });
    expect(dropping.status).toBe(409);
    expect(dropping.body.error).toMatchObject({ code: "conflict", rules: ["big-atm-withdrawal"] });
    expect(await versionCount()).toBe(before);

    const changed = files.map((f) =>
      f.rule.name === "card-velocity-burst" ? { ...f, rule: { ...f.rule, priority: 7 } } : f,
    );
    const diff = await risk("POST", "/v1/rulesets/diff", { rules: changed });
    expect(diff.body).toMatchObject({
      from: before,
      diff: {
        added: [],
        removed: ["big-atm-withdrawal"],
        changed: [{ rule: "card-velocity-burst", changes: [{ path: "rule.priority", before: 5, after: 7 }] }],
      },
      refused: { rules: ["big-atm-withdrawal"] },
    });
    expect(await versionCount()).toBe(before);

    const said = await risk("POST", "/v1/rulesets", { rules: changed, remove: ["big-atm-withdrawal"] });
    expect(said.status).toBe(201);
    expect(said.body.diff.removed).toEqual(["big-atm-withdrawal"]);
    const [latest] = (await risk("GET", "/v1/rulesets")).body.items;
    expect(latest.note).toBe("changed card-velocity-burst; removed big-atm-withdrawal");
    const identical = await risk("POST", "/v1/rulesets", { rules: changed });
    expect(identical.status).toBe(200);
    expect(identical.body).toMatchObject({ unchanged: true, version: said.body.version });
    expect(await versionCount()).toBe(before + 1);
  });

  it("deletes one rule with DELETE, and keeps the last one", async () => {
    const gone = await risk("DELETE", "/v1/rules/card-velocity-burst?note=too%20noisy");
    expect(gone.status).toBe(201);
    expect(gone.body.diff.removed).toEqual(["card-velocity-burst"]);
    expect((await risk("GET", "/v1/rules/card-velocity-burst")).status).toBe(404);
    expect((await risk("DELETE", "/v1/rules/card-velocity-burst")).status).toBe(404);
    const history = await risk("GET", `/v1/rulesets/${gone.body.version}/diff`);
    expect(history.body.diff.removed).toEqual(["card-velocity-burst"]);
  });

  it("publishes a version that the workers pick up", async () => {
    const atm = { amount: { value: 1200, currency: "EUR" }, channel: "atm" } as const;
    await t.api("POST", "/v1/events", [tx("atm-1", "cus-19", "2026-11-22T10:00:00Z", LYON, atm)]);
    // big-atm-withdrawal was removed above: this payment opens no case until it is back.
    await t.drained();
    expect((await t.api("GET", "/v1/cases?customerId=cus-19")).body.items).toEqual([]);
    const back = await risk("PUT", "/v1/rules/big-atm-withdrawal", { rule: bigAtm });
    await t.api("POST", "/v1/events", [tx("atm-2", "cus-19", "2026-11-22T10:05:00Z", LYON, atm)]);
    const kase = await openCaseWith(t.api, "cus-19", ["big-atm-withdrawal"]);
    expect(kase.decisions[0]).toMatchObject({
      rule: "big-atm-withdrawal",
      rulesetVersion: back.body.version,
    });
  });

  it("lists the facts a rule can use, with their type, unit and meaning", async () => {
    const facts = (await risk("GET", "/v1/facts")).body.items;
    expect(facts).toContainEqual(
      expect.objectContaining({ name: "travel.speedKmh", kind: "number", unit: "km/h", nullable: true }),
    );
  });

  it("keeps publishing to the risk team", async () => {
    const advocate = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    expect((await advocate("POST", "/v1/rulesets", { rules: [bigAtm] })).status).toBe(403);
    expect((await advocate("PUT", "/v1/rules/big-atm-withdrawal", { rule: bigAtm })).status).toBe(403);
    expect((await advocate("DELETE", "/v1/rules/big-atm-withdrawal")).status).toBe(403);
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

  /** Queues a backtest and polls it to the end, keeping every progress it reported. */
  async function runBacktest(body: object) {
    const started = await risk("POST", "/v1/backtests", body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const seen: Array<{ status: string; done: number; total: number | null }> = [];
    const job = await eventually(
      async () => {
        const r = await risk("GET", `/v1/backtests/${started.body.id}`);
        seen.push({ status: r.body.status, ...r.body.progress });
        return r.body.status === "done" || r.body.status === "failed" ? r.body : undefined;
      },
      60_000,
      "the backtest to finish",
    );
    return { job, seen };
  }

  it("replays stored events through a draft and the published rules side by side, scored by case outcomes", async () => {
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
    const { job } = await runBacktest({
      rules: slower,
      from: "2026-11-14T00:00:00Z",
      to: "2026-11-23T00:00:00Z",
    });
    expect(job).toMatchObject({ status: "done", publishedVersion: 1, progress: { done: 5, total: 5 } });
    expect(job.report).toMatchObject({ events: 5, truncated: false });
    const published = job.report.published.find(
      (s: { rule: string }) => s.rule === "impossible-location-spend",
    );
    expect(published).toMatchObject({ customers: 1, confirmed: 1, falseAlarms: 0, precision: 1 });
    // 5,191 km/h is under the draft's 6,000: the draft would not have called this impossible.
    const draft = job.report.candidate.find((s: { rule: string }) => s.rule === "impossible-location-spend");
    expect(draft).toMatchObject({ hits: 0, customers: 0 });
    expect(job.report.neverHit).toContain("impossible-location-spend");
    expect(await t.tp.redis.keys(`${t.tp.keyPrefix}:bt:*`)).toEqual([]);
    const bad = await risk("POST", "/v1/backtests", {
      from: "0000-01-01T00:00:00Z",
      to: "2026-11-23T00:00:00Z",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("from");
    const empty = await risk("POST", "/v1/backtests", {
      from: "2026-11-23T00:00:00Z",
      to: "2026-11-22T00:00:00Z",
    });
    expect(empty.body.error.issues).toEqual([{ path: "to", message: "must be after from" }]);
  });

  it("tries one file as a change to the published rules, not as the whole ruleset, and leaves out only what remove names", async () => {
    const window = { from: "2026-11-14T00:00:00Z", to: "2026-11-23T00:00:00Z" };
    const shipped = defaultRuleFiles().map((f) => f.rule.name);
    const { job } = await runBacktest({ rules: [{ rule: bigAtm }], ...window });
    expect(job.status).toBe("done");
    expect(job.report.candidate.map((s: { rule: string }) => s.rule)).toEqual(
      [...shipped, "big-atm-withdrawal"].sort(),
    );
    // The published rules still flag the story's customer: nobody is "no longer flagged".
    expect(job.report.noLongerFlagged).toEqual([]);
    expect(job.report.neverHit).toContain("big-atm-withdrawal");

    const hitting = job.report.published
      .filter((s: { hits: number }) => s.hits > 0)
      .map((s: { rule: string }) => s.rule);
    expect(hitting).toContain("impossible-location-spend");
    const without = await runBacktest({ remove: hitting, ...window });
    expect(without.job.report.candidate.map((s: { rule: string }) => s.rule)).toEqual(
      shipped.filter((n) => !hitting.includes(n)),
    );
    expect(without.job.report.noLongerFlagged).toEqual(["cus-42"]);
    const unknown = await risk("POST", "/v1/backtests", { remove: ["no-such-rule"], ...window });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues).toEqual([
      { path: "remove[0]", message: "no rule no-such-rule in version 1" },
    ]);
  });

  it("scores an uploaded, labelled stream with the counts the stream itself gives, reporting progress, touching nothing live", async () => {
    const stream = generateStream({ seed: 11, customers: 800, impossibleShare: 0.15, prefix: "bt" });
    // Every other impossible traveller was confirmed fraud, the rest false alarms; some ordinary
    // customers are labelled too, and must not count for a rule that never hit them.
    const labels: Record<string, string> = {};
    for (const [i, c] of [...stream.impossible].entries())
      labels[c] = i % 2 === 0 ? "confirmed_fraud" : "false_alarm";
    for (const c of stream.customers.slice(0, 40)) labels[c.id] ??= "false_alarm";
    const gbp = {
      rule: {
        name: "pound-spend",
        mode: "shadow",
        conditions: { all: [{ fact: "amount.currency", operator: "equal", value: "GBP" }] },
        event: { type: "fraud.suspected", params: { severity: "low", title: "Spent pounds" } },
      },
    };
    // Customer state, the reconciler's own keys (its lock, its epoch) aside.
    const liveState = async () =>
      (await t.tp.redis.keys(`${t.tp.keyPrefix}:*`))
        .filter((k) => !/:(epoch|reconcile:lock)$/.test(k))
        .sort();
    const before = {
      cases: (await t.tp.db.sql`select count(*)::int as n from cases`)[0]!.n,
      messages: (await t.tp.db.sql`select count(*)::int as n from messages`)[0]!.n,
      state: await liveState(),
    };
    const { job, seen } = await runBacktest({
      rules: [...defaultRuleFiles(), gbp],
      events: stream.events,
      labels,
    });
    expect(job.status).toBe("done");
    expect(job.report.events).toBe(stream.events.length);
    expect(
      seen.some((p) => p.status === "running" && p.total === stream.events.length && p.done < p.total),
    ).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.done).toBeGreaterThanOrEqual(seen[i - 1]!.done);

    const precision = (customers: string[]) => {
      const confirmed = customers.filter((c) => labels[c] === "confirmed_fraud").length;
      const falseAlarms = customers.filter((c) => labels[c] === "false_alarm").length;
      return {
        confirmed,
        falseAlarms,
        precision: Math.round((confirmed / (confirmed + falseAlarms)) * 1000) / 1000,
      };
    };
    const pounds = stream.events.filter((e) => e.type === "card.transaction" && e.amount.currency === "GBP");
    const poundCustomers = [...new Set(pounds.map((e) => e.customerId))];
    expect(job.report.candidate.find((s: { rule: string }) => s.rule === "pound-spend")).toEqual({
      rule: "pound-spend",
      mode: "shadow",
      hits: pounds.length,
      hitRate: Math.round((pounds.length / stream.events.length) * 1e6) / 1e6,
      customers: poundCustomers.length,
      ...precision(poundCustomers),
      overlap: expect.any(Number),
      change: "added",
      // The stream's customers have no profile here: no home currency, so in no sum.
      matched: expect.objectContaining({
        count: pounds.length,
        money: [],
        unconverted: pounds.length,
        listed: expect.arrayContaining([expect.objectContaining({ id: expect.stringMatching(/^bt-/) })]),
      }),
    });
    const travel = job.report.candidate.find((s: { rule: string }) => s.rule === "impossible-location-spend");
    expect(travel).toMatchObject({ customers: stream.impossible.size, ...precision([...stream.impossible]) });
    // The candidate's live rules flag what the published ones do: the shadow rule flags no one.
    expect(job.report.newlyFlagged).toEqual([]);

    expect((await t.tp.db.sql`select count(*)::int as n from cases`)[0]!.n).toBe(before.cases);
    expect((await t.tp.db.sql`select count(*)::int as n from messages`)[0]!.n).toBe(before.messages);
    expect(await liveState()).toEqual(before.state);
    expect(
      (await t.tp.db.sql`select count(*)::int as n from events where customer_id like 'bt-%'`)[0]!.n,
    ).toBe(0);
  });

  it("rolls back to an earlier version by publishing it again, keeping the history", async () => {
    const v2 = await risk("POST", "/v1/rulesets", {
      rules: [bigAtm],
      remove: defaultRuleFiles().map((f) => f.rule.name),
      note: "atm only",
    });
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
    expect((await risk("GET", "/v1/rulesets/current")).body.files).toEqual(defaultRuleFiles());
    expect((await risk("POST", "/v1/rulesets/99/rollback")).status).toBe(404);
    expect((await risk("POST", "/v1/rulesets/9999999999/rollback")).status).toBe(400);
  });
});

describe("shadow rules", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  const shadow = (name: string, conditions: object) => ({
    rule: {
      name,
      owner: "fraud-strategy",
      mode: "shadow",
      conditions,
      event: { type: "fraud.suspected", params: { severity: "high", title: name } },
    },
  });
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "risk team" }));
  });
  afterAll(() => t?.close());

  it("are evaluated and recorded, never open a case or text, and show what they would have done", async () => {
    for (const file of [
      shadow("faster-than-800", {
        all: [
          { fact: "event.type", operator: "equal", value: "card.transaction" },
          { fact: "travel.speedKmh", operator: "greaterThan", value: 800 },
        ],
      }),
      shadow("login-abroad", {
        all: [
          { fact: "event.type", operator: "equal", value: "login" },
          { fact: "customer.isAbroad", operator: "equal", value: true },
        ],
      }),
    ]) {
      expect((await risk("PUT", `/v1/rules/${file.rule.name}`, file)).status).toBe(201);
    }
    // Camille (home FR) logs in from New York: only the shadow rule sees it.
    await t.api("POST", "/v1/events", [
      {
        id: "ny-login",
        type: "login",
        occurredAt: "2026-11-22T15:00:00Z",
        customerId: "cus-19",
        device: { id: "dev-camille" },
        geo: { country: "US", city: "New York", lat: 40.71, lon: -74.0 },
      },
    ]);
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    await t.drained();

    const decisions = (await t.tp.db.sql`
      select event_id, customer_id, rule, mode, case_id from decisions order by event_id, rule`) as unknown as Array<{
      event_id: string;
      customer_id: string;
      rule: string;
      mode: string;
      case_id: string | null;
    }>;
    const shadowHits = decisions.filter((d) => d.mode === "shadow");
    expect(new Set(shadowHits.map((d) => d.rule))).toEqual(new Set(["faster-than-800", "login-abroad"]));
    expect(shadowHits.every((d) => d.case_id === null)).toBe(true);
    expect(shadowHits.some((d) => d.customer_id === "cus-19")).toBe(true);
    // The one case is the live rule's, with only live decisions; Camille has none and got no text.
    const cases = await t.tp.db.sql`select id, customer_id from cases`;
    expect(cases.map((c) => c.customer_id)).toEqual(["cus-42"]);
    const onCase = kase.decisions.map((d: { rule: string }) => d.rule);
    expect(onCase).toContain("impossible-location-spend");
    expect(onCase).not.toContain("faster-than-800");
    expect(onCase).not.toContain("login-abroad");
    const texted = await t.tp.db
      .sql`select distinct c.customer_id from messages m join cases c on c.id = m.case_id`;
    expect(texted.map((r) => r.customer_id)).toEqual(["cus-42"]);

    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "confirmed_fraud" });
    const stats = (await risk("GET", "/v1/rulesets/stats")).body.items as Array<Record<string, unknown>>;
    const liveEvents = new Set(decisions.filter((d) => d.mode === "live").map((d) => d.event_id));
    for (const rule of ["faster-than-800", "login-abroad"]) {
      const mine = shadowHits.filter((d) => d.rule === rule);
      const customers = new Set(mine.map((d) => d.customer_id));
      expect(stats.find((s) => s.rule === rule)).toEqual({
        rule,
        mode: "shadow",
        hits: mine.length,
        customers: customers.size,
        overlapWithLive: mine.filter((d) => liveEvents.has(d.event_id)).length,
        // Sophie's case was confirmed fraud; Camille had no case, so she labels nothing.
        confirmed: customers.has("cus-42") ? 1 : 0,
        falseAlarms: 0,
        precision: customers.has("cus-42") ? 1 : null,
      });
    }
    expect(stats.find((s) => s.rule === "impossible-location-spend")).toMatchObject({
      mode: "live",
      confirmed: 1,
      precision: 1,
    });
  });
});

describe("amounts in the customer's home currency", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "treasury feed" }));
  });
  afterAll(() => t?.close());

  const bangkokAtm = (id: string, occurredAt: string, value: number) =>
    tx(id, "cus-19", occurredAt, BANGKOK, { amount: { value, currency: "THB" }, channel: "atm" });
  const decisionsOf = async (id: string) =>
    (await t.tp.db.sql`select rule, explanation from decisions where event_id = ${id}`) as unknown as Array<{
      rule: string;
      explanation: { ratesAsOf?: string };
    }>;

  it("sums 20,000 baht as the 500-odd euros it is, and dates the rates on each decision", async () => {
    // Camille (home FR, euros) takes 20,000 THB from an ATM in Bangkok, with no travel notice.
    await t.api("POST", "/v1/events", [bangkokAtm("thb-1", "2026-11-22T03:00:00Z", 20_000)]);
    await t.drained();
    const first = await decisionsOf("thb-1");
    // Abroad without a notice, yes; a card being emptied (over 5,000 in a day), no.
    expect(first.map((d) => d.rule)).toEqual(["foreign-spend-without-travel-notice"]);
    expect(first[0]!.explanation.ratesAsOf).toBe("2026-11-20"); // the shipped table's date

    // The bank's feed says the baht rose: 165,000 THB more, 4,388 EUR at the shipped rate (4,920 in
    // the day, under 5,000), is 4,714 EUR at the new one (5,285 in the day): a card being emptied.
    const put = await risk("PUT", "/v1/fx-rates", { asOf: "2026-11-22", rates: { THB: 35 } });
    expect(put.status).toBe(200);
    const rates = (await risk("GET", "/v1/fx-rates")).body.items;
    expect(rates).toContainEqual({ currency: "THB", perEur: 35, asOf: "2026-11-22", source: "bank" });
    await t.api("POST", "/v1/events", [bangkokAtm("thb-2", "2026-11-22T04:00:00Z", 165_000)]);
    await t.drained();
    const second = await decisionsOf("thb-2");
    expect(second.map((d) => d.rule).sort()).toEqual([
      "card-velocity-burst",
      "foreign-spend-without-travel-notice",
    ]);
    expect(second.every((d) => d.explanation.ratesAsOf === "2026-11-22")).toBe(true);
    const bad = await risk("PUT", "/v1/fx-rates", { asOf: "2026-11-22", rates: { thb: 35, USD: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      "rates.USD",
      "rates.thb",
    ]);
  });
});

describe("a publish under load", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    // A rule's team must have an advocate in it before the rule is published.
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("reaches every worker within a second, and each batch is evaluated by one version", async () => {
    const stream = generateStream({ seed: 5, customers: 400, impossibleShare: 0.05, prefix: "pub" });
    const canary = {
      rule: {
        name: "every-payment",
        mode: "shadow",
        conditions: { all: [{ fact: "event.type", operator: "equal", value: "card.transaction" }] },
        event: { type: "fraud.suspected", params: { severity: "low", title: "A payment" } },
      },
    };
    const risk = t.as(await t.token("risk"));
    const sentAt = new Map<string, number>();
    let published: { version: number; at: number } | undefined;
    const chunks: (typeof stream.events)[] = [];
    for (let i = 0; i < stream.events.length; i += 60) chunks.push(stream.events.slice(i, i + 60));
    for (const [n, chunk] of chunks.entries()) {
      if (n === Math.floor(chunks.length / 3)) {
        const r = await risk("PUT", "/v1/rules/every-payment", canary);
        published = { version: r.body.version, at: Date.now() };
      }
      const at = Date.now();
      for (const e of chunk) sentAt.set(e.id, at);
      await t.api("POST", "/v1/events", chunk);
      await new Promise((r) => setTimeout(r, 60));
    }
    await t.drained();
    const { version, at } = published!;
    const events = (await t.tp.db.sql`
      select e.id, e.evaluated_version,
        exists (select 1 from decisions d where d.event_id = e.id and d.rule = 'every-payment') as canary
      from event_status e where e.customer_id like 'pub-%'`) as unknown as Array<{
      id: string;
      evaluated_version: number;
      canary: boolean;
    }>;
    expect(events).toHaveLength(stream.events.length);
    // The canary fired on exactly the events its version evaluated: no event saw half a publish.
    for (const e of events) expect(e.canary, e.id).toBe(e.evaluated_version >= version);
    // Both versions were at work: the publish really landed mid-stream.
    expect(events.some((e) => e.evaluated_version < version)).toBe(true);
    // Everything sent a second after the publish was evaluated by it, on every worker.
    const late = events.filter((e) => sentAt.get(e.id)! >= at + 1000);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((e) => e.evaluated_version < version)).toEqual([]);
    // Every decision carries the version that evaluated its event.
    const [{ n }] = (await t.tp.db.sql`
      select count(*)::int as n from decisions d join event_status e on e.id = d.event_id
      where d.ruleset_version <> e.evaluated_version`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });
});

describe("a version published before validation grew stricter", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("still runs, shows and takes changes beside it", async () => {
    // An mcc compared as a number: refused today ("a number, but the fact is a string"), accepted once.
    const legacy = {
      name: "grocery-as-number",
      conditions: { all: [{ fact: "merchant.mcc", operator: "equal", value: 5411 }] },
      event: { type: "fraud.suspected", params: { severity: "low", title: "Groceries" } },
    };
    await t.tp.db.sql`
      insert into rulesets (rules, note, created_by, published_at)
      values (${t.tp.db.sql.json({ files: [...defaultRuleFiles(), { rule: legacy, tests: [] }] } as never)},
        'before the upgrade', 'someone', now())`;
    const risk = t.as(await t.token("risk"));
    const rules = await risk("GET", "/v1/rules");
    expect(rules.status).toBe(200);
    expect(rules.body.items.find((r: { name: string }) => r.name === "grocery-as-number")).toMatchObject({
      mode: "live",
      priority: 1,
    });
    await t.api("POST", "/v1/events", [tx("legacy-1", "cus-19", "2026-11-22T10:00:00Z", LYON)]);
    await t.drained();
    const [row] = await t.tp.db.sql`select evaluated_at, error from event_status where id = 'legacy-1'`;
    expect(row).toMatchObject({ error: null });
    expect(row!.evaluated_at).not.toBeNull();
    const put = await risk("PUT", "/v1/rules/big-atm-withdrawal", { rule: bigAtm });
    expect(put.status).toBe(201);
    expect(put.body.diff).toMatchObject({ added: ["big-atm-withdrawal"], removed: [] });
  });
});

describe("what a rule file must be before it is published (issue 22)", () => {
  let t: TestTouchpoint;
  let risk: ReturnType<TestTouchpoint["as"]>;
  const current = async () => (await risk("GET", "/v1/rulesets/current")).body.version as number;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk"));
  });
  afterAll(() => t?.close());

  it("refuses a rule routing to a team no advocate is in, wherever it is checked, with a did-you-mean", async () => {
    const before = await current();
    const ghost = (team: string) => ({
      rule: {
        ...bigAtm,
        name: "ghost",
        event: { ...bigAtm.event, params: { ...bigAtm.event.params, team } },
      },
    });
    const near = (team: string) => `no advocate is in team ${JSON.stringify(team)}; did you mean "fraud"?`;
    const far = (team: string) =>
      `no advocate is in team ${JSON.stringify(team)}; teams are named by their advocates (fraud)`;
    for (const [team, message] of [
      ["Fraud", near("Fraud")],
      ["FRAUD", near("FRAUD")],
      ["fraudd", near("fraudd")],
      ["ghost-team", far("ghost-team")],
      ["<b>x</b> y", far("<b>x</b> y")],
    ] as const) {
      const put = await risk("PUT", "/v1/rules/ghost", ghost(team));
      expect(put.status, team).toBe(400);
      expect(put.body.error.issues).toEqual([{ path: "rule.event.params.team", rule: "ghost", message }]);
      const issue = { path: "rules[5].rule.event.params.team", rule: "ghost", message };
      const rules = [...defaultRuleFiles(), ghost(team)];
      for (const path of [
        "/v1/rulesets",
        "/v1/rulesets/validate",
        "/v1/rulesets/test",
        "/v1/rulesets/diff",
      ]) {
        const r = await risk("POST", path, { rules });
        expect(r.status, `${path} ${team}`).toBe(400);
        expect(r.body.error.issues, path).toEqual([issue]);
      }
    }
    // A bare rule that names no team goes to the default one, which must have someone in it too.
    await t.api("PUT", "/v1/advocates/adv-disputes", { name: "Dee", team: "disputes", status: "online" });
    const bare = { ...bigAtm, name: "to-disputes" };
    const disputes = {
      ...bare,
      event: { ...bare.event, params: { ...bare.event.params, team: "disputes" } },
    };
    expect((await risk("POST", "/v1/rulesets/validate", { rules: [disputes] })).status).toBe(200);
    await t.api("PUT", "/v1/advocates/adv-amara", { name: "Amara", team: "disputes", status: "online" });
    for (const id of ["adv-lucas", "adv-priya"])
      await t.api("PUT", `/v1/advocates/${id}`, { name: id, team: "disputes", status: "offline" });
    const nobody = await risk("POST", "/v1/rulesets/validate", { rules: [bare] });
    expect(nobody.body.error.issues).toEqual([
      {
        path: "rules[0].event.params.team",
        rule: "to-disputes",
        message: 'no advocate is in team "fraud"; teams are named by their advocates (disputes)',
      },
    ]);
    // Tokens are held to the same teams, with the same did-you-mean.
    const token = await t.api("POST", "/v1/tokens", { role: "supervisor", team: "dispute" });
    expect(token.body.error.issues).toEqual([
      { path: "team", message: 'no advocate is in team "dispute"; did you mean "disputes"?' },
    ]);
    for (const { id, ...a } of loadPeople().advocates) await t.api("PUT", `/v1/advocates/${id}`, a);
    expect(await current()).toBe(before);
  });

  it("refuses to publish a rule file whose own tests fail, naming each failing case and why (422)", async () => {
    const before = await current();
    const failing = {
      rule: bigAtm,
      tests: [
        { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
        { name: "900 at an ATM", facts: { "event.channel": "atm", "amount.value": 900 }, fires: true },
        { name: "online", facts: { "event.channel": "ecommerce", "amount.value": 5000 }, fires: false },
      ],
    };
    const tested = await risk("POST", "/v1/rulesets/test", { rules: [failing] });
    expect(tested.body).toMatchObject({ passed: 2, failed: 1 });
    const put = await risk("PUT", "/v1/rules/big-atm-withdrawal", failing);
    expect(put.status).toBe(422);
    expect(put.body.error).toEqual({
      code: "unprocessable",
      message: "1 test case(s) of the rule file(s) fail; nothing was published",
      issues: [
        {
          path: "tests[1]",
          rule: "big-atm-withdrawal",
          message:
            '"900 at an ATM" expected it to fire; it did not: amount.value was 900; wanted greaterThanInclusive 1000',
        },
      ],
    });
    const quiet = {
      ...failing,
      tests: [{ ...failing.tests[2]!, facts: { "event.channel": "atm", "amount.value": 5000 } }],
    };
    const whole = await risk("POST", "/v1/rulesets", { rules: [...defaultRuleFiles(), quiet] });
    expect(whole.status).toBe(422);
    expect(whole.body.error.issues).toEqual([
      {
        path: "rules[5].tests[0]",
        rule: "big-atm-withdrawal",
        message:
          '"online" expected it to stay quiet; it fired: event.channel was "atm"; wanted equal "atm"; amount.value was 5000; wanted greaterThanInclusive 1000',
      },
    ]);
    expect(await current()).toBe(before);
    const passing = { ...failing, tests: [failing.tests[0], failing.tests[2]] };
    expect((await risk("PUT", "/v1/rules/big-atm-withdrawal", passing)).status).toBe(201);
  });

  it("refuses a condition path into __proto__, constructor or prototype, and nesting past 32 levels", async () => {
    const before = await current();
    for (const key of ["__proto__", "constructor", "prototype"]) {
      const leaf = { fact: "event", path: `$.merchant.${key}.polluted`, operator: "equal", value: true };
      const r = await risk("PUT", "/v1/rules/big-atm-withdrawal", {
        rule: { ...bigAtm, conditions: { all: [bigAtm.conditions.all[0], leaf] } },
      });
      expect(r.status, key).toBe(400);
      expect(r.body.error.issues).toEqual([
        {
          path: "rule.conditions.all[1].path",
          rule: "big-atm-withdrawal",
          message: `${key} is not a field of any fact; a path names fields only`,
        },
      ]);
    }
    let deep: object = bigAtm.conditions.all[0]!;
    for (let i = 0; i < 40; i++) deep = { not: deep };
    const tooDeep = await risk("POST", "/v1/rulesets/validate", {
      rules: [{ ...bigAtm, conditions: { all: [deep] } }],
    });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error.issues).toEqual([
      {
        path: `rules[0].conditions.all[0]${".not".repeat(31)}`,
        rule: "big-atm-withdrawal",
        message: "conditions nest deeper than 32 levels of all, any and not",
      },
    ]);
    expect(await current()).toBe(before);
  });

  it("bounds test names, blank or huge, in rule files and in whole-ruleset cases", async () => {
    for (const name of ["", "   ", "x".repeat(200_000)]) {
      const cases = await risk("POST", "/v1/rulesets/test", {
        cases: [{ name, facts: {}, fires: [] }],
      });
      expect(cases.status, name.slice(0, 10)).toBe(400);
      expect(cases.body.error.issues[0].path).toBe("cases[0].name");
      const file = await risk("POST", "/v1/rulesets/test", {
        rules: [{ rule: bigAtm, tests: [{ name, facts: {}, fires: false }] }],
      });
      expect(file.status).toBe(400);
      expect(file.body.error.issues[0]).toMatchObject({ path: "rules[0].tests[0].name" });
    }
  });

  it("refuses a test fact of 1e309 rather than storing it as null", async () => {
    const before = await current();
    const text = `{"rule": ${JSON.stringify(bigAtm)}, "tests": [
      {"name": "huge", "facts": {"event.channel": "atm", "amount.value": 1e309}, "fires": true}]}`;
    const r = await risk("PUT", "/v1/rules/big-atm-withdrawal", text);
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([
      {
        path: 'tests[0].facts["amount.value"]',
        rule: "big-atm-withdrawal",
        message: "a number too large to store (it would become null); use a finite number",
      },
    ]);
    expect(await current()).toBe(before);
  });
});
