/**
 * The case page's next step (issue 25): before Sophie answers it says what the case waits for and
 * what happens next, when; her NO, texted while the page is open, brings "Replace the card" onto
 * it without a reload; a new card on its way answers "needs you".
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { customerTexts, type FakeVonage, startFakeVonage, vonageEnv } from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const SECRET = "next-step-secret";
const SOPHIE = "447911123042";
const MINUTE = 60_000;

describe("the case page's next step", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    fake = await startFakeVonage();
    t = await startTestTouchpoint({
      listen: true,
      env: { ...vonageEnv(fake, SECRET), REPLY_TIMEOUT_MINUTES: "45" },
    });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    caseId = kase.id as string;
    await t.drained();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });

  async function openCase(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${base}/desk/login`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    await page.goto(`${base}/desk/cases/${caseId}`);
    return page;
  }

  it("before Sophie answers: waiting for her answer, the reminder and the call task, with their times", async () => {
    const sent = await eventually(async () => {
      const c = (await t.api("GET", `/v1/cases/${caseId}`)).body;
      return c.timeline.find(
        (s: { kind: string; detail: { kind?: string } }) =>
          s.kind === "message.sent" && s.detail.kind === "fraud_check",
      );
    });
    const page = await openCase();
    const waiting = page.locator("#waiting");
    await expect(waiting.textContent()).resolves.toMatch(
      /^Waiting for Sophie Martin's answer to the text sent .+; without an answer, a call task for the advocate at .+\.$/,
    );
    // The times are the check's own, then (no automated calls configured here, so the high case's
    // call at VOICE_AFTER_MINUTES, 10, is skipped) the call task REPLY_TIMEOUT_MINUTES (45) after it.
    const times = await waiting
      .locator("time")
      .evaluateAll((ts) => ts.map((x) => x.getAttribute("datetime")));
    const asked = new Date(sent.at).getTime();
    expect(times.map((x) => new Date(x!).getTime())).toEqual([asked, asked + 55 * MINUTE]);
    expect(await page.locator(".attention").count()).toBe(0);
    expect(describeViolations("case page, waiting", await seriousViolations(page))).toBe("");
    await page.close();
  });

  it("a NO while the page is open brings the replace panel without a reload; a new card answers it", async () => {
    const page = await openCase();
    await page.locator("#waiting").waitFor();
    expect(await page.locator("#replace-card").count()).toBe(0);
    await page.evaluate(() => Object.assign(window, { stillHere: true }));

    expect((await customerTexts(t.tp.app!, SECRET, SOPHIE, "NO")).status).toBe(200);
    await page.locator("#replace-card button[type=submit]").waitFor({ timeout: 15_000 });
    // The same page, updated in place: no reload lost the marker.
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await page.locator(".attention", { hasText: "customer confirmed fraud" }).waitFor({ timeout: 15_000 });
    expect(await page.locator("#waiting").count()).toBe(0);
    await expect(page.locator("#block-card").textContent()).resolves.toMatch(/Blocking requested/);

    // The new card goes to the address on file: the customer is dealt with, nothing needs Amara.
    await page.click("#replace-card button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${caseId}#replace-card`);
    await expect(page.locator("#replace-card").textContent()).resolves.toMatch(/Requested:/);
    expect(await page.locator(".attention").count()).toBe(0);
    expect((await t.api("GET", `/v1/cases/${caseId}`)).body.attention).toBeNull();
    expect(describeViolations("case page, after NO", await seriousViolations(page))).toBe("");
    await page.close();
  });
});
