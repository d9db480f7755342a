/**
 * Canned replies (issue 25): supervisors keep the bank's short answers per language, checked as an
 * advocate's own text is; advocates read them, and on the case page one click puts one in the
 * reply box (with the desk's script, or without it through the page itself).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const ON_ITS_WAY = {
  title: "New card on its way",
  language: "en",
  text: "Your new card is on its way and should arrive within 5 working days. Call us on +44 20 7946 0000 with any question.",
};

describe("canned replies", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
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
  });

  describe("through the API", () => {
    it("supervisors keep them; advocates read them; nobody else does either", async () => {
      const supervisor = t.as(await t.token("supervisor"));
      const advocate = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
      const risk = t.as(await t.token("risk"));

      const made = await supervisor("PUT", "/v1/canned-replies/card-on-its-way", ON_ITS_WAY);
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({ id: "card-on-its-way", ...ON_ITS_WAY });
      const changed = await supervisor("PUT", "/v1/canned-replies/card-on-its-way", {
        ...ON_ITS_WAY,
        title: "Card on its way",
      });
      expect(changed.status).toBe(200);

      expect((await advocate("PUT", "/v1/canned-replies/mine", ON_ITS_WAY)).status).toBe(403);
      expect((await advocate("DELETE", "/v1/canned-replies/card-on-its-way")).status).toBe(403);
      expect((await risk("GET", "/v1/canned-replies")).status).toBe(403);

      const listed = await advocate("GET", "/v1/canned-replies?language=en");
      expect(listed.status).toBe(200);
      expect(listed.body.items.map((r: { id: string; title: string }) => [r.id, r.title])).toEqual([
        ["card-on-its-way", "Card on its way"],
      ]);
      expect((await advocate("GET", "/v1/canned-replies?language=fr")).body.items).toEqual([]);
      expect((await advocate("GET", "/v1/canned-replies/card-on-its-way")).body.text).toBe(ON_ITS_WAY.text);

      expect((await supervisor("PUT", "/v1/canned-replies/to-remove", ON_ITS_WAY)).status).toBe(201);
      expect((await supervisor("DELETE", "/v1/canned-replies/to-remove")).status).toBe(204);
      expect((await supervisor("DELETE", "/v1/canned-replies/to-remove")).status).toBe(404);
      expect((await advocate("GET", "/v1/canned-replies/to-remove")).status).toBe(404);

      const [logged] = await t.tp.db.sql`
        select count(*)::int as n from audit_log where target = 'canned_reply:to-remove'`;
      expect(logged!.n).toBe(2);
    });

    it("refuses what an advocate's text would refuse, naming the field, and saves nothing", async () => {
      const supervisor = t.as(await t.token("supervisor"));
      const refused = async (body: object, id = "bad-one") => {
        const r = await supervisor("PUT", `/v1/canned-replies/${id}`, { ...ON_ITS_WAY, ...body });
        expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        return r.body.error.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`);
      };
      expect(await refused({ text: "Call me back on 07911 555123" })).toEqual([
        expect.stringMatching(/^text: a phone number \(07911 555123\) other than the bank's/),
      ]);
      expect(await refused({ text: "Your card 4242 4242 4242 4242 is blocked" })).toEqual([
        expect.stringMatching(/^text: what looks like a card number/),
      ]);
      expect(await refused({ text: "See www.touchpoint-bank.com" })).toEqual([
        expect.stringMatching(/^text: a link/),
      ]);
      for (const blank of ["   ", "\u200b", "\u3164\u200b"])
        expect(await refused({ text: blank })).toEqual(["text: must not be blank"]);
      expect(await refused({ text: "a".repeat(613) })).toEqual([
        expect.stringMatching(/^text: 613 characters/),
      ]);
      expect(await refused({ title: "\u200b" })).toEqual([
        expect.stringMatching(/^title: must not be blank/),
      ]);
      expect(await refused({ language: "english" })).toEqual([
        expect.stringMatching(/^language: two-letter/),
      ]);
      expect(await refused({}, "Not An Id")).toEqual([expect.stringMatching(/^id: lower-case letters/)]);
      expect((await supervisor("GET", "/v1/canned-replies/bad-one")).status).toBe(404);
    });

    it("are in the OpenAPI document, from the schema that checks them", async () => {
      const doc = (await (await t.tp.app!.request("/openapi.json")).json()) as {
        paths: Record<string, Record<string, unknown>>;
        components: { schemas: Record<string, { required?: string[] }> };
      };
      expect(Object.keys(doc.paths["/v1/canned-replies/{id}"] ?? {})).toEqual(["get", "put", "delete"]);
      expect(doc.components.schemas.CannedReply?.required).toEqual(["title", "language", "text"]);
    });
  });

  describe("on the desk, in Chromium", () => {
    async function signIn(token: string, width = 1280, javaScriptEnabled = true): Promise<Page> {
      const context = await browser.newContext({ viewport: { width, height: 844 }, javaScriptEnabled });
      const page = await context.newPage();
      await page.goto(`${base}/desk/login`);
      await page.fill("input[name=token]", token);
      await page.click("button[type=submit]");
      await page.waitForURL(`${base}/desk`);
      return page;
    }

    it("a click on a canned reply fills the reply box where the caret is, and sends nothing", async () => {
      await t.api("PUT", "/v1/canned-replies/card-on-its-way", ON_ITS_WAY);
      await t.api("PUT", "/v1/canned-replies/fr-only", {
        ...ON_ITS_WAY,
        title: "Carte en route",
        language: "fr",
      });
      const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
      await page.goto(`${base}/desk/cases/${caseId}`);
      const buttons = page.locator("form.canned button");
      // Sophie reads English: only the English replies are offered.
      expect(await buttons.allTextContents()).toEqual(["New card on its way"]);
      await page.evaluate(() => Object.assign(window, { stillHere: true }));
      await buttons.first().click();
      expect(await page.inputValue("#reply-text")).toBe(ON_ITS_WAY.text);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("reply-text");
      expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
      // Typed words stay: the reply goes in after them.
      await page.fill("#reply-text", "Hello Sophie. ");
      await page.locator("#reply-text").press("End");
      await buttons.first().click();
      expect(await page.inputValue("#reply-text")).toBe(`Hello Sophie. ${ON_ITS_WAY.text}`);
      const [sent] = await t.tp.db.sql`
        select count(*)::int as n from messages where case_id = ${caseId} and kind = 'advocate'`;
      expect(sent!.n).toBe(0);
      expect(describeViolations("case page with canned replies", await seriousViolations(page))).toBe("");
      await page.context().close();
    });

    it("without a script the button brings the page back with the reply in the box", async () => {
      const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }), 1280, false);
      await page.goto(`${base}/desk/cases/${caseId}`);
      await page.locator("form.canned button").first().click();
      await page.waitForURL(/\?canned=card-on-its-way#reply-text$/);
      expect(await page.inputValue("#reply-text")).toBe(ON_ITS_WAY.text);
      await page.context().close();
    });

    it("supervisors keep them on their own page, with the API's checks, at 390 px too", async () => {
      const page = await signIn(await t.token("supervisor"), 390);
      await page.click("nav >> text=Canned replies");
      await page.waitForURL(`${base}/desk/canned-replies`);
      await page.fill("#canned-id", "call-us");
      await page.fill("#canned-title", "Call us");
      await page.fill("#canned-text", "Please call me on 07911 555123.");
      await page.click("#canned-form button[type=submit]");
      await expect(page.locator("#text-issue").textContent()).resolves.toMatch(
        /a phone number \(07911 555123\)/,
      );
      // What was typed is still there, to correct.
      expect(await page.inputValue("#canned-title")).toBe("Call us");
      await page.fill(
        "#canned-text",
        "Please call us on +44 20 7946 0000, the number on the back of your card.",
      );
      await page.click("#canned-form button[type=submit]");
      await page.waitForURL(`${base}/desk/canned-replies?saved=call-us`);
      await expect(page.locator("#canned-list").textContent()).resolves.toContain("the number on the back");
      expect((await t.api("GET", "/v1/canned-replies/call-us")).body.title).toBe("Call us");
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(describeViolations("canned replies page", await seriousViolations(page))).toBe("");
      await page.locator("button[aria-label='Remove Call us (en)']").click();
      await page.waitForURL(`${base}/desk/canned-replies`);
      expect((await t.api("GET", "/v1/canned-replies/call-us")).status).toBe(404);
      await page.context().close();

      const advocate = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
      expect((await advocate.goto(`${base}/desk/canned-replies`))?.status()).toBe(403);
      await advocate.context().close();
    });
  });
});
