/**
 * The queue as an advocate works it all day, in Chromium: its order, its filters, at a phone's
 * width, the header and the tab's title. Cases are written straight into the store, in a team
 * of their own, so nothing else routes or touches them.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTimeline } from "../engine/store/timeline.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe("the queue, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let n = 0;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** An advocate of a team of their own, online. */
  async function advocate(id: string, name: string, team: string) {
    const r = await t.api("PUT", `/v1/advocates/${id}`, { name, team, capacity: 8, status: "online" });
    expect(r.status).toBeLessThan(300);
  }

  /** An open case, written straight into the store. */
  async function openCase(c: {
    team: string;
    title: string;
    severity: "low" | "medium" | "high";
    openedAt: string;
    advocateId?: string;
  }): Promise<string> {
    n += 1;
    const id = `case-q-${n}`;
    await t.tp.db.sql`
      insert into cases (id, customer_id, severity, team, title, advocate_id, opened_at)
      values (${id}, ${`cust-q-${n}`}, ${c.severity}, ${c.team}, ${c.title}, ${c.advocateId ?? null}, ${c.openedAt})`;
    return id;
  }

  /** A call task nobody has answered: the case needs its advocate. */
  const needsCall = (caseId: string) =>
    addTimeline(t.tp.db.sql, caseId, "task.call_customer", `task:${caseId}`, { reason: "call the customer" });

  async function signIn(advocateId: string, width = 1280): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    return page;
  }

  const titles = (page: Page, where = "#queue") => page.locator(`${where} td a`).allInnerTexts();

  it("lists what needs the advocate first, then high before medium before low, then the oldest first", async () => {
    await advocate("adv-order", "Olu Order", "order");
    await openCase({
      team: "order",
      title: "Medium, old",
      severity: "medium",
      openedAt: "2026-11-01T09:00:00Z",
    });
    await openCase({
      team: "order",
      title: "High, newer",
      severity: "high",
      openedAt: "2026-11-02T09:00:00Z",
    });
    await openCase({
      team: "order",
      title: "High, older",
      severity: "high",
      openedAt: "2026-11-01T10:00:00Z",
    });
    await openCase({ team: "order", title: "Low", severity: "low", openedAt: "2026-10-01T09:00:00Z" });
    const call = await openCase({
      team: "order",
      title: "Low, needs a call",
      severity: "low",
      openedAt: "2026-11-03T09:00:00Z",
    });
    await needsCall(call);
    const page = await signIn("adv-order");
    expect(await titles(page)).toEqual([
      "Low, needs a call",
      "High, older",
      "High, newer",
      "Medium, old",
      "Low",
    ]);
    expect(describeViolations("queue", await seriousViolations(page))).toBe("");
    await page.close();
  });

  it("orders every open case, not only the newest 200: older cases that need someone or are high come first", async () => {
    await advocate("adv-many", "Max Many", "many");
    const call = await openCase({
      team: "many",
      title: "Low, needs a call, oldest",
      severity: "low",
      openedAt: "2025-12-01T09:00:00Z",
      advocateId: "adv-many",
    });
    await needsCall(call);
    await openCase({ team: "many", title: "High, old", severity: "high", openedAt: "2026-01-01T09:00:00Z" });
    // 250 medium cases, every one newer than both.
    const rows = Array.from({ length: 250 }, (_, i) => ({
      id: `case-many-${i}`,
      customer_id: `cust-many-${i}`,
      severity: "medium",
      team: "many",
      title: `Medium ${i}`,
      opened_at: new Date(Date.UTC(2026, 10, 1, 0, i)),
    }));
    const sql = t.tp.db.sql;
    await sql`insert into cases ${sql(rows, "id", "customer_id", "severity", "team", "title", "opened_at")}`;
    const page = await signIn("adv-many");
    // Hers first, then the team's: the high one, then the mediums oldest first, 200 at most.
    const shown = await titles(page);
    expect(shown.slice(0, 4)).toEqual(["Low, needs a call, oldest", "High, old", "Medium 0", "Medium 1"]);
    expect(shown).toHaveLength(1 + 200);
    await page.goto(`${base}/desk?show=needs-me`);
    expect(await titles(page)).toEqual(["Low, needs a call, oldest"]);
    await page.goto(`${base}/desk?show=team`);
    expect((await titles(page)).slice(0, 3)).toEqual(["Low, needs a call, oldest", "High, old", "Medium 0"]);
    await page.close();
  });

  it("filters to what needs me, what waits on the customer, mine and my team; a filtered list stays live", async () => {
    await advocate("adv-me", "Mia Me", "filters");
    await advocate("adv-col", "Col League", "filters");
    const at = "2026-11-10T09:00:00Z";
    const call = await openCase({
      team: "filters",
      title: "Mine, call them",
      severity: "high",
      openedAt: at,
      advocateId: "adv-me",
    });
    await needsCall(call);
    const texted = await openCase({
      team: "filters",
      title: "Mine, texted",
      severity: "high",
      openedAt: at,
      advocateId: "adv-me",
    });
    await addTimeline(t.tp.db.sql, texted, "message.sent", `sent:${texted}`, { kind: "fraud_check" });
    const answered = await openCase({
      team: "filters",
      title: "Mine, answered",
      severity: "medium",
      openedAt: at,
      advocateId: "adv-me",
    });
    await addTimeline(t.tp.db.sql, answered, "message.sent", `sent:${answered}`, { kind: "fraud_check" });
    await addTimeline(t.tp.db.sql, answered, "reply.received", `reply:${answered}`, {
      text: "YES",
      kind: "yes",
    });
    const theirs = await openCase({
      team: "filters",
      title: "Theirs, call them",
      severity: "high",
      openedAt: at,
      advocateId: "adv-col",
    });
    await needsCall(theirs);
    const theirsTexted = await openCase({
      team: "filters",
      title: "Theirs, texted",
      severity: "low",
      openedAt: at,
      advocateId: "adv-col",
    });
    await addTimeline(t.tp.db.sql, theirsTexted, "message.sent", `sent:${theirsTexted}`, {
      kind: "fraud_check",
    });
    await openCase({ team: "filters", title: "Nobody's", severity: "low", openedAt: at });

    const page = await signIn("adv-me");
    const shown = async (label: string) => {
      const link = page.locator("nav.filters a", { hasText: label });
      const href = await link.getAttribute("href");
      await link.click();
      await page.waitForURL(`${base}${href}`);
      expect(await page.locator("nav.filters a[aria-current=page]").textContent()).toBe(label);
      return (await titles(page)).sort();
    };
    expect(await shown("Needs me")).toEqual(["Mine, call them"]);
    expect(describeViolations("needs me", await seriousViolations(page))).toBe("");
    expect(await shown("Waiting on the customer")).toEqual(["Mine, texted", "Theirs, texted"]);
    expect(await shown("Mine")).toEqual(["Mine, answered", "Mine, call them", "Mine, texted"]);
    expect(await shown("My team")).toEqual([
      "Mine, answered",
      "Mine, call them",
      "Mine, texted",
      "Nobody's",
      "Theirs, call them",
      "Theirs, texted",
    ]);

    // Live: a call task on one of mine joins "Needs me" without a reload.
    await shown("Needs me");
    expect(page.url()).toBe(`${base}/desk?show=needs-me`);
    await needsCall(answered);
    await page.waitForFunction(() => document.querySelectorAll("#queue td a").length === 2, null, {
      timeout: 15_000,
    });
    expect((await titles(page)).sort()).toEqual(["Mine, answered", "Mine, call them"]);
    await page.close();
  });

  it("shows the queue as cards on a 390 px phone, nothing wider than the screen", async () => {
    await advocate("adv-phone", "Pia Phone", "phone");
    const long = await openCase({
      team: "phone",
      title: "Card used in Phnom Penh an hour after a login from Paris, then again at a fuel station",
      severity: "high",
      openedAt: "2026-11-10T09:00:00Z",
      advocateId: "adv-phone",
    });
    await needsCall(long);
    await openCase({
      team: "phone",
      title: "Nobody's yet",
      severity: "low",
      openedAt: "2026-11-10T10:00:00Z",
    });
    const page = await signIn("adv-phone", 390);
    // The advocates page too: its table scrolled sideways in its card (axe: scrollable-region-focusable).
    for (const at of ["/desk", "/desk?show=needs-me", "/desk/advocates"]) {
      await page.goto(`${base}${at}`);
      const widths = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        tables: [...document.querySelectorAll("main table")].map((t) => t.scrollWidth - t.clientWidth),
      }));
      expect(widths.page, at).toBeLessThanOrEqual(390);
      expect(
        widths.tables.every((over) => over <= 0),
        at,
      ).toBe(true);
      expect(describeViolations(at, await seriousViolations(page))).toBe("");
    }
    await page.close();
  });

  it("names the signed-in advocate in the header; anyone else by their token and role, as before", async () => {
    await advocate("adv-named", "Amara Okafor", "named");
    const page = await signIn("adv-named");
    expect(await page.locator("header.top .who").textContent()).toMatch(/^Amara Okafor \(advocate, named\)/);
    await page.close();
    const admin = await browser.newPage();
    await admin.goto(`${base}/desk`);
    const token = await t.token("supervisor", { team: "named", label: "night shift" });
    await admin.fill("input[name=token]", token);
    await admin.click("button[type=submit]");
    await admin.waitForURL(`${base}/desk`);
    expect(await admin.locator("header.top .who").textContent()).toMatch(/^tok-\S+ \(supervisor, named\)/);
    await admin.close();
  });

  it("opens every desk page with a skip link as the first Tab stop, shown when focused, landing in the main content", async () => {
    await advocate("adv-keys", "Kai Keys", "keys");
    const kase = await openCase({
      team: "keys",
      title: "By keyboard",
      severity: "low",
      openedAt: "2026-11-10T09:00:00Z",
      advocateId: "adv-keys",
    });
    const page = await signIn("adv-keys");
    for (const at of ["/desk", `/desk/cases/${kase}`, "/desk/advocates"]) {
      await page.goto(`${base}${at}`);
      await page.keyboard.press("Tab");
      const first = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const box = el.getBoundingClientRect();
        return { text: el.textContent, href: el.getAttribute("href"), top: box.top, width: box.width };
      });
      expect(first, at).toMatchObject({ text: "Skip to main content", href: "#main" });
      expect(first.top, at).toBeGreaterThanOrEqual(0);
      expect(first.width, at).toBeGreaterThan(50);
      expect(describeViolations(at, await seriousViolations(page))).toBe("");
      await page.keyboard.press("Enter");
      expect(await page.evaluate(() => document.activeElement?.id), at).toBe("main");
    }
    await page.close();
  });

  it("leads the tab's title with how many cases need the advocate, and keeps it current without a reload", async () => {
    await advocate("adv-tab", "Tia Tab", "tab");
    const mine = {
      team: "tab",
      severity: "low",
      openedAt: "2026-11-10T09:00:00Z",
      advocateId: "adv-tab",
    } as const;
    await needsCall(await openCase({ ...mine, title: "One" }));
    const second = await openCase({ ...mine, title: "Two" });
    const page = await signIn("adv-tab");
    expect(await page.title()).toBe("(1) Cases · touchpoint desk");
    await needsCall(second);
    await page.waitForFunction(() => document.title === "(2) Cases · touchpoint desk", null, {
      timeout: 15_000,
    });
    await page.close();
  });
});
