import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { chromiumAvailable, launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe.skipIf(!chromiumAvailable())("the advocate desk, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    caseId = kase.id;
    await t.drained();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(token: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    expect(page.url()).toContain("/desk/login");
    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    return page;
  }

  it("shows Amara her case with the whole story and lets her resolve it", async () => {
    const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    await expect(page.locator("h2", { hasText: "Yours" }).count()).resolves.toBe(1);
    await page.click("text=Card used in two places no one could travel between");
    await page.waitForURL(`${base}/desk/cases/${caseId}`);
    const text = await page.locator("main").innerText();
    expect(text).toContain("Sophie Martin");
    expect(text).toContain("+44••••••3042"); // the phone, masked
    expect(text).not.toContain("+447911123042");
    expect(text).toContain("2,300 EUR at Galerie Lumière (Paris, FR), card ••4242");
    expect(text).toMatch(/travel\.speedKmh\s+was\s+5,1\d\d/);
    expect(text).toContain("no previous advocate");
    // No Vonage credentials in this suite: the text is in the outbox and says so.
    expect(text).toContain("OUTBOX — NOT SENT");
    expect(text).toContain("Amara Okafor is looking after this.");

    // The number is there to call, on request, and the request is audited.
    await page.click("text=Show number to call");
    expect(await page.locator("main").innerText()).toContain("+447911123042");
    const [seen] = await t.tp.db
      .sql`select actor, action, target from audit_log where action = 'customer.phone_revealed'`;
    expect(seen).toEqual({
      actor: "adv-amara",
      action: "customer.phone_revealed",
      target: "customer:cus-42",
    });

    await page.fill("textarea[name=note]", "Sophie is in Phnom Penh; the Paris payment is not hers.");
    await page.click("button[value=confirmed_fraud]");
    await page.waitForURL(`${base}/desk/cases/${caseId}`);
    expect(await page.locator("main").innerText()).toContain("resolved: confirmed_fraud");
    const api = await t.api("GET", `/v1/cases/${caseId}`);
    expect(api.body).toMatchObject({ status: "resolved", outcome: "confirmed_fraud" });
    expect(api.body.timeline.at(-1)).toMatchObject({ kind: "case.resolved", actor: "adv-amara" });
  });

  it("shows each advocate's load and how many cases wait for someone", async () => {
    const page = await signIn(await t.token("supervisor"));
    await page.click("text=Advocates");
    const text = await page.locator("main").innerText();
    expect(text).toMatch(/Amara Okafor\s+fraud\s+online\s+\d+ of 8/);
    expect(text).toMatch(/Priya Shah\s+fraud\s+offline/);
    expect(text).toContain("0 open cases waiting for an advocate");
  });

  it("keeps another team's advocate out of the case", async () => {
    await t.api("PUT", "/v1/advocates/adv-other", { name: "Olu Other", team: "disputes", status: "online" });
    const page = await signIn(await t.token("advocate", { advocateId: "adv-other" }));
    expect(await page.locator("main").innerText()).not.toContain("Card used in two places");
    const res = await page.goto(`${base}/desk/cases/${caseId}`);
    expect(res?.status()).toBe(404);
  });

  it("refuses a bad token and an ingest token", async () => {
    const page = await browser.newPage();
    for (const token of ["not-a-token", await t.token("ingest")]) {
      await page.goto(`${base}/desk/login`);
      await page.fill("input[name=token]", token);
      await page.click("button[type=submit]");
      await page.waitForURL(/failed=1/);
    }
  });
});
