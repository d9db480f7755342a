/**
 * Logging a call (issue 25): over the API and through the case page in Chromium. A logged call
 * shows on the timeline; one that reached the customer or left a message answers the call task
 * raised before it (a later task needs the advocate again), one nobody answered does not. Cases
 * are written straight into the store, in a team of their own.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTimeline } from "../engine/store/timeline.ts";
import type { Json } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe("logging a call", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let n = 0;
  const team = `calls-${Date.now().toString(36)}`;
  const advocateId = `adv-${team}`;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    browser = await launchBrowser();
    const r = await t.api("PUT", `/v1/advocates/${advocateId}`, {
      name: "Cal Logger",
      team,
      capacity: 8,
      status: "online",
    });
    expect(r.status).toBeLessThan(300);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** An open case of the advocate's, with a call task nobody has answered. */
  async function caseNeedingACall(): Promise<string> {
    n += 1;
    const id = `case-${team}-${n}`;
    await t.tp.db.sql`
      insert into cases (id, customer_id, severity, team, title, advocate_id, opened_at)
      values (${id}, ${`cust-${team}-${n}`}, 'high', ${team}, ${`Call me ${n}`}, ${advocateId}, now())`;
    await callTask(id, "first");
    return id;
  }
  const callTask = (caseId: string, which: string) =>
    addTimeline(t.tp.db.sql, caseId, "task.call_customer", `task:${caseId}:${which}`, {
      reason: "call the customer: no reply to the fraud check",
    });

  const asAdvocate = async () => t.as(await t.token("advocate", { advocateId }));
  const calls = async (caseId: string) =>
    (await t.api("GET", `/v1/cases/${caseId}`)).body.timeline.filter((s: Json) => s.kind === "call.logged");

  it("a reached call answers the call task before it, and a later task needs the advocate again", async () => {
    const api = await asAdvocate();
    const id = await caseNeedingACall();
    expect((await api("GET", `/v1/cases/${id}`)).body.attention).toMatch(/call the customer/);

    const r = await api("POST", `/v1/cases/${id}/calls`, { outcome: "reached", note: "it was not them" });
    expect(r.status).toBe(201);
    expect(r.body.attention).toBeNull();
    const [logged] = r.body.timeline.filter((s: Json) => s.kind === "call.logged");
    expect(logged).toMatchObject({
      actor: advocateId,
      detail: { outcome: "reached", note: "it was not them" },
    });

    await callTask(id, "second");
    expect((await api("GET", `/v1/cases/${id}`)).body.attention).toMatch(/call the customer/);
  });

  it("a call nobody answered is on the timeline and the case still needs the advocate", async () => {
    const api = await asAdvocate();
    const id = await caseNeedingACall();
    const r = await api("POST", `/v1/cases/${id}/calls`, { outcome: "no_answer" });
    expect(r.status).toBe(201);
    expect(r.body.attention).toMatch(/call the customer/);
    expect((await calls(id)).map((s: Json) => s.detail)).toEqual([{ outcome: "no_answer" }]);
  });

  it("a message left answers the task, as a text would", async () => {
    const api = await asAdvocate();
    const id = await caseNeedingACall();
    const r = await api("POST", `/v1/cases/${id}/calls`, {
      outcome: "left_message",
      note: "asked her to call back",
    });
    expect(r.status).toBe(201);
    expect(r.body.attention).toBeNull();
  });

  it("refuses a bad call with the field and why, and changes nothing", async () => {
    const api = await asAdvocate();
    const id = await caseNeedingACall();
    const typo = await api("POST", `/v1/cases/${id}/calls`, { outcome: "reachd" });
    expect(typo.status).toBe(400);
    expect(JSON.stringify(typo.body)).toContain("outcome");
    expect(JSON.stringify(typo.body)).toContain('did you mean \\"reached\\"');
    const extra = await api("POST", `/v1/cases/${id}/calls`, { outcome: "reached", duration: 3 });
    expect(extra.status).toBe(400);
    const missing = await api("POST", `/v1/cases/${id}/calls`, { note: "no outcome" });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain("outcome");
    const badKey = await api(
      "POST",
      `/v1/cases/${id}/calls`,
      { outcome: "reached" },
      { "idempotency-key": "a b" },
    );
    expect(badKey.status).toBe(400);
    expect(await calls(id)).toEqual([]);
    expect((await api("GET", `/v1/cases/${id}`)).body.attention).toMatch(/call the customer/);
  });

  it("logs a call once per Idempotency-Key and refuses the key for another call", async () => {
    const api = await asAdvocate();
    const id = await caseNeedingACall();
    const key = { "idempotency-key": `k-${id}` };
    const body = { outcome: "left_message", note: "voicemail" };
    expect((await api("POST", `/v1/cases/${id}/calls`, body, key)).status).toBe(201);
    expect((await api("POST", `/v1/cases/${id}/calls`, body, key)).status).toBe(200);
    expect((await api("POST", `/v1/cases/${id}/calls`, { outcome: "reached" }, key)).status).toBe(422);
    expect((await calls(id)).map((s: Json) => s.detail)).toEqual([body]);
  });

  it("does not log a call on another team's case", async () => {
    const other = `adv-${team}-other`;
    const put = await t.api("PUT", `/v1/advocates/${other}`, {
      name: "Otto Other",
      team: `${team}-other`,
      capacity: 8,
      status: "online",
    });
    expect(put.status).toBeLessThan(300);
    const api = t.as(await t.token("advocate", { advocateId: other }));
    const id = await caseNeedingACall();
    expect((await api("POST", `/v1/cases/${id}/calls`, { outcome: "reached" })).status).toBe(404);
    expect(await calls(id)).toEqual([]);
    // The case's own team may: the refusal above was about the team, not the route.
    const own = await asAdvocate();
    expect((await own("POST", `/v1/cases/${id}/calls`, { outcome: "reached" })).status).toBe(201);
  });

  it("in Chromium: the advocate logs a reached call from the case page and the case no longer needs them", async () => {
    const id = await caseNeedingACall();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    await page.goto(`${base}/desk/cases/${id}`);
    await expect(page.locator(".attention").textContent()).resolves.toMatch(/Needs you: call the customer/);
    expect(describeViolations("case page", await seriousViolations(page))).toBe("");

    await page.getByLabel("Reached the customer").check();
    await page.getByLabel("Note (optional)").fill("it was not them; card blocked");
    await page.getByRole("button", { name: "Log call" }).click();
    await page.waitForURL(`${base}/desk/cases/${id}#timeline`);

    await expect(page.locator("#timeline").textContent()).resolves.toContain(
      "Call: reached — it was not them; card blocked",
    );
    expect(await page.locator(".attention").count()).toBe(0);
    expect(describeViolations("case page after the call", await seriousViolations(page))).toBe("");
    await page.close();
  });
});
