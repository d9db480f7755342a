/**
 * The case page's order (issue 25): why the case, what needs doing and the conversation come
 * first, on a laptop's first screen and on a phone's; the rarer forms follow. Sophie's Phnom Penh
 * → Paris case, played through the pipeline, with a call task raised on it.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTimeline } from "../engine/store/timeline.ts";
import { loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe("the case page puts what to do next first", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    await t.drained();
    caseId = kase.id as string;
    await addTimeline(t.tp.db.sql, caseId, "task.call_customer", `task:${caseId}:layout`, {
      reason: "call the customer: no reply to the fraud check",
    });
    await t.drained();
    expect((await t.api("GET", `/v1/cases/${caseId}`)).body.attention).toMatch(/call the customer/);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function openCase(width: number, height: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${base}/desk/login`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    await page.goto(`${base}/desk/cases/${caseId}`);
    return page;
  }

  /**
   * The bottom edge of the first element matching `selector`, px from the top of the page. Read in
   * one step inside the page: the live script swaps the case head, so a handle can go stale.
   */
  async function bottomOf(page: Page, selector: string): Promise<number> {
    await page.locator(selector).first().waitFor({ state: "visible" });
    const bottom = await page.evaluate((s) => {
      const el = document.querySelector(s);
      return el ? el.getBoundingClientRect().bottom + window.scrollY : null;
    }, selector);
    expect(bottom, `${selector} is drawn`).not.toBeNull();
    return bottom ?? Number.POSITIVE_INFINITY;
  }

  it("at 1280 × 800 the next step and the reply box are on the first screen", async () => {
    const page = await openCase(1280, 800);
    await expect(page.locator(".attention").textContent()).resolves.toMatch(/Needs you: call the customer/);
    expect(await bottomOf(page, ".attention")).toBeLessThanOrEqual(800);
    expect(await bottomOf(page, "#conversation textarea")).toBeLessThanOrEqual(800);
    expect(describeViolations("case page at 1280", await seriousViolations(page))).toBe("");
    await page.close();
  });

  it("at 390 × 844 why the case is on the first screen and nothing scrolls sideways", async () => {
    const page = await openCase(390, 844);
    // The header in two rows (brand, links and Sign out; search): 196 px of four rows before.
    expect(await bottomOf(page, "header.top")).toBeLessThanOrEqual(120);
    await expect(page.locator("p.story").first().textContent()).resolves.toMatch(/Phnom Penh .* → Paris/);
    expect(await bottomOf(page, "p.story")).toBeLessThanOrEqual(844);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(describeViolations("case page at 390", await seriousViolations(page))).toBe("");
    await page.close();
  });

  it("keeps keyboard order with the page's: reply before call log before the rarer forms", async () => {
    const page = await openCase(1280, 800);
    const order = await page.evaluate(() =>
      ["#reply-text", "#call-note", "#work", "#block-card", "#timeline"].map((s) => {
        const all = [...document.querySelectorAll("*")];
        const el = document.querySelector(s);
        return el ? all.indexOf(el) : -1;
      }),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    await page.close();
  });
});
