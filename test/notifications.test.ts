/**
 * Browser notifications (issue 25): an advocate who opted in hears of a customer's answer that
 * needs them while the desk is open in the background. Chromium with the permission granted; the
 * page's Notification is wrapped, before any script of the desk runs, to record each one made.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { customerTexts, type FakeVonage, startFakeVonage, vonageEnv } from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const SECRET = "notifications-secret";
const SOPHIE = "447911123042";

/** Records `new Notification(title, options)`, then makes the real one. */
function recordNotifications() {
  const Real = window.Notification;
  const made: Array<{ title: string; body?: string; tag?: string }> = [];
  function Recording(title: string, options?: NotificationOptions) {
    made.push({
      title,
      ...(options?.body ? { body: options.body } : {}),
      ...(options?.tag ? { tag: options.tag } : {}),
    });
    return new Real(title, options);
  }
  Object.defineProperty(Recording, "permission", { get: () => Real.permission });
  Object.defineProperty(Recording, "requestPermission", { value: () => Real.requestPermission() });
  Object.assign(window, { Notification: Recording, notificationsMade: made });
}

describe("browser notifications", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    fake = await startFakeVonage();
    t = await startTestTouchpoint({ listen: true, env: vonageEnv(fake, SECRET) });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    await playStory(t.api, loadStory("phnom-penh-paris"));
    await t.drained();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });

  async function amarasQueue(context: BrowserContext): Promise<Page> {
    await context.addInitScript(recordNotifications);
    const page = await context.newPage();
    await page.goto(`${base}/desk/login`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    // Listening: the stream said hello.
    await page.waitForFunction(() => document.body.dataset.live === "on", undefined, { timeout: 15_000 });
    return page;
  }

  it("offers the opt-in only while the browser has not been asked", async () => {
    const asking = await browser.newContext();
    const page = await amarasQueue(asking);
    expect(await page.locator("#notify-optin").isVisible()).toBe(true);
    expect(describeViolations("queue with the opt-in", await seriousViolations(page))).toBe("");
    await asking.close();

    const granted = await browser.newContext();
    await granted.grantPermissions(["notifications"], { origin: base });
    const again = await amarasQueue(granted);
    expect(await again.locator("#notify-optin").isVisible()).toBe(false);
    await granted.close();
  });

  it("a NO on a case assigned to Amara raises a notification saying she is needed", async () => {
    const context = await browser.newContext();
    await context.grantPermissions(["notifications"], { origin: base });
    const page = await amarasQueue(context);
    expect((await customerTexts(t.tp.app!, SECRET, SOPHIE, "NO")).status).toBe(200);
    await page.waitForFunction(
      () => (window as unknown as { notificationsMade: unknown[] }).notificationsMade.length > 0,
      undefined,
      { timeout: 15_000 },
    );
    const made = await page.evaluate(
      () =>
        (window as unknown as { notificationsMade: Array<{ title: string; body: string }> })
          .notificationsMade,
    );
    expect(made).toEqual([
      {
        title: "Sophie Martin needs you",
        body: expect.stringMatching(/customer confirmed fraud by text: call them/),
        tag: expect.stringMatching(/:advocate\.alerted$/),
      },
    ]);
    // The tab's title counts it too.
    await page.waitForFunction(() => document.title.startsWith("(1) "), undefined, { timeout: 15_000 });
    await context.close();
  });
});
