/**
 * The experience figures after a known stream through the real pipeline (issue 24): a false alarm
 * the customer answered YES, a confirmed fraud (NO, then the advocate), a returning customer, a
 * medium case deferred by quiet hours, and a STOP after a fraud text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Json, loadPeopleVia } from "../fixtures/stories.ts";
import { launchBrowser, signInWatching } from "./support/browser.ts";
import { customerTexts, type FakeVonage, startFakeVonage, vonageEnv } from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { openTravelCase, PARIS, PHNOM_PENH, tx } from "./support/payments.ts";

const SECRET = "experience-webhook-secret";

describe("GET /v1/experience, after a known stream", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  // Quiet hours from this hour for two hours in Phnom Penh (UTC+7, no daylight saving), where the
  // medium case's customer pays: the real clock throughout, as cases, texts and answers keep time.
  const hourThere = (new Date().getUTCHours() + 7) % 24;
  const started = new Date();
  let report: Json;

  const textsTo = (number: string) => fake.messages.filter((m) => m.to === number.replace("+", ""));
  const texted = (number: string, n: number) =>
    eventually(
      async () => (textsTo(number).length >= n ? true : undefined),
      20_000,
      `text ${n} to ${number}`,
    );
  const customer = (id: string, phone: string) =>
    t.api("PUT", `/v1/customers/${id}`, { name: `Customer ${id}`, phone, homeCountry: "FR" });

  beforeAll(async () => {
    fake = await startFakeVonage();
    t = await startTestTouchpoint({
      env: {
        ...vonageEnv(fake, SECRET),
        QUIET_HOURS_START: String(hourThere),
        QUIET_HOURS_END: String((hourThere + 2) % 24),
      },
      listen: true,
    });
    await loadPeopleVia(t.api);
    const app = t.tp.app!;

    /** An impossible journey's case, texted, and the customer's answer to it, once the case shows it. */
    const answered = async (id: string, phone: string, reply: string, shows: (c: Json) => boolean) => {
      const kase = await openTravelCase(t.api, id, phone);
      await texted(phone, 1);
      await customerTexts(app, SECRET, phone.replace("+", ""), reply);
      await eventually(async () =>
        shows((await t.api("GET", `/v1/cases/${kase.id}`)).body) ? true : undefined,
      );
      return kase;
    };
    // A false alarm: texted at once (high), answered YES.
    await answered("ex-yes", "+33612347001", "YES", (c) => c.status === "resolved");
    // Confirmed fraud: NO, then the advocate resolves it after the call; then STOP.
    const fraud = await answered("ex-no", "+33612347002", "NO", (c) => c.outcome === "confirmed_fraud");
    await t.drained();
    await t.api("POST", `/v1/cases/${fraud.id}/resolve`, { outcome: "confirmed_fraud", note: "called her" });
    await customerTexts(app, SECRET, "33612347002", "STOP");
    await eventually(async () =>
      (await t.api("GET", "/v1/customers/ex-no")).body.optedOutAt ? true : undefined,
    );

    // The first customer returns with another journey: a new case, to the advocate they had.
    await t.api("POST", "/v1/events", [
      tx("ex-yes-3", "ex-yes", "2026-11-22T21:30:00Z", PARIS),
      tx("ex-yes-4", "ex-yes", "2026-11-22T22:15:00Z", PHNOM_PENH),
    ]);
    await eventually(async () =>
      (await t.api("GET", "/v1/cases?customerId=ex-yes&status=open")).body.items.length === 1
        ? true
        : undefined,
    );
    await texted("+33612347001", 3); // the check, the thanks after YES, the second check

    // A medium case (paying abroad, no travel notice) in quiet hours where she is: its text waits.
    await customer("ex-night", "+33612347003");
    await t.api("POST", "/v1/events", [tx("ex-night-1", "ex-night", "2026-11-22T22:00:00Z", PHNOM_PENH)]);
    await t.drained();
    const night = await eventually(async () => {
      const items = (await t.api("GET", "/v1/cases?customerId=ex-night")).body.items;
      return items.length === 1 ? items[0] : undefined;
    });
    await eventually(async () => {
      const c = (await t.api("GET", `/v1/cases/${night.id}`)).body;
      return c.timeline.some((s: { kind: string }) => s.kind === "contact.decided") ? true : undefined;
    });
    const until = new Date(Date.now() + 60_000).toISOString();
    report = (await t.api("GET", `/v1/experience?since=${started.toISOString()}&until=${until}`)).body;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("counts the cases, the first contacts (and the deferred one) and the first answers", () => {
    expect(report.cases).toBe(4);
    expect(report.timeToFirstContact).toMatchObject({ count: 3, deferredByQuietHours: 1 });
    // Seconds between a payment's arrival and its text, in a test: under a minute, never negative.
    expect(report.timeToFirstContact.p50).toBeGreaterThanOrEqual(0);
    expect(report.timeToFirstContact.p99).toBeLessThan(60);
    expect(report.timeToFirstAnswer.count).toBe(2);
  });

  it("counts the case the customer settled alone among those resolved, and how long each took", () => {
    expect(report.resolvedByCustomer).toEqual({ count: 1, of: 2, share: 0.5 });
    expect(report.timeToResolution.count).toBe(2);
  });

  it("puts the customer contacted for a false alarm beside the rule's precision", () => {
    expect(report.customersWithEvents).toBe(3);
    const rule = report.perRule.find((r: Json) => r.rule === "impossible-location-spend");
    expect(rule).toEqual({
      rule: "impossible-location-spend",
      customersContactedForNothing: 1,
      per1000Customers: 1000 / 3,
      precision: 0.5,
      confirmed: 1,
      falseAlarms: 1,
    });
  });

  it("routes the returning customer to the advocate they had, and lists the deferred case as waiting on the bank", () => {
    expect(report.sameAdvocate).toEqual({ count: 1, of: 1, share: 1 });
    expect(report.waitingOnBank.map((w: Json) => w.customerId)).toEqual(["ex-night"]);
    expect(report.optOutsAfterContact).toBe(1);
    expect(report.contactsPerCase.max).toBeGreaterThanOrEqual(2);
  });

  it("gives Prometheus the last 24 hours' figures", async () => {
    const text = await (await t.tp.app!.request("/metrics")).text();
    expect(text).toMatch(/^touchpoint_experience_resolved_by_customer_ratio 0\.5$/m);
    expect(text).toMatch(/^touchpoint_experience_same_advocate_ratio 1$/m);
    expect(text).toMatch(
      /^touchpoint_experience_false_alarm_contacts_per_1000\{rule="impossible-location-spend"\} 333\.3/m,
    );
    expect(text).toMatch(/^touchpoint_experience_first_contact_seconds\{quantile="0\.5"\} \d/m);
  });

  it("draws these figures on /desk/experience in Chromium, with no console error", async () => {
    const browser = await launchBrowser();
    try {
      const base = `http://127.0.0.1:${t.tp.port}`;
      const { page, errors } = await signInWatching(browser, base, await t.token("supervisor"));
      await page.goto(`${base}/desk/experience`);
      const text = await page.locator("main").textContent();
      expect(text).toMatch(/4\s*opened/);
      expect(text).toContain("impossible-location-spend");
      expect(await page.locator("svg.plot[role=img]").count()).toBeGreaterThanOrEqual(3);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("is for supervisors and risk only, and refuses a team no one is in or a backwards window", async () => {
    const advocate = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    expect((await advocate("GET", "/v1/experience")).status).toBe(403);
    const risk = t.as(await t.token("risk"));
    expect((await risk("GET", "/v1/experience?team=fraud")).status).toBe(200);
    const ghost = await risk("GET", "/v1/experience?team=Fraud");
    expect(ghost.status).toBe(400);
    expect(ghost.body.error.issues[0]).toMatchObject({
      path: "query.team",
      message: expect.stringMatching(/did you mean "fraud"/),
    });
    const backwards = await risk(
      "GET",
      "/v1/experience?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
    );
    expect(backwards.body.error.issues[0]).toMatchObject({ path: "query.since" });
  });
});
