import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STREAMS_PER_SESSION } from "../api/desk/streams.ts";
import { signVonageWebhook } from "../engine/outreach/signature.ts";
import { createToken } from "../engine/store/tokens.ts";
import { eventually, loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { type FakeVonage, startFakeVonage } from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { PARIS, PHNOM_PENH, tx } from "./support/payments.ts";
import { REPO } from "./support/processes.ts";
import { readSse, type SseReader } from "./support/sse.ts";

/** Screenshots the run writes for people to look at (not committed). */
function artefact(name: string): string {
  const dir = join(REPO, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** A desk on a touchpoint of its own, with Sophie's Phnom Penh → Paris case played, and a browser. */
async function sophiesDesk(env: Record<string, string> = {}) {
  const browser = await launchBrowser();
  const t = await startTestTouchpoint({ listen: true, env });
  await loadPeopleVia(t.api);
  const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
  await t.drained();
  return {
    t,
    base: `http://127.0.0.1:${t.tp.port}`,
    caseId: kase.id as string,
    browser,
  };
}

describe("the advocate desk, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    ({ t, base, caseId, browser } = await sophiesDesk());
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(token: string, landing = "/desk"): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    expect(page.url()).toContain("/desk/login");
    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}${landing}`);
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
    // The story in words: both places with their own local times and offsets, how long after, the
    // distance and the speed.
    expect(text).toMatch(
      /Phnom Penh \d\d:\d\d \(UTC\+7\) → Paris \d\d:\d\d \(UTC\+1\), 1 h 55 min later: 9,9\d\d(\.\d)? km, 5,1\d\d(\.\d)? km\/h — faster than any flight\./,
    );
    // The map draws the two places, joined, and the customer's other located events.
    const map = page.locator("svg.map");
    await expect(map.locator("path.land").count()).resolves.toBe(1);
    await expect(map.locator("path.route").count()).resolves.toBe(1);
    await expect(map.locator("g.pt.here text").textContent()).resolves.toMatch(
      /^Paris \d\d:\d\d \(UTC\+1\)$/,
    );
    await expect(map.locator("g.pt.there text").textContent()).resolves.toMatch(
      /^Phnom Penh \d\d:\d\d \(UTC\+7\)$/,
    );
    await expect(map.getAttribute("aria-label")).resolves.toMatch(
      /^Phnom Penh \d\d:\d\d \(UTC\+7\) → Paris \d\d:\d\d \(UTC\+1\), 1 h 55 min later$/,
    );
    // Her recent activity: the travel notice and the login from Cambodia, the flagged payment marked.
    const activity = await page.locator("ol.activity").innerText();
    expect(activity).toContain("Travel notice: KH, TH, 15 Nov – 30 Nov");
    expect(activity).toMatch(/Login from Phnom Penh, KH/);
    // Each local clock with its offset: Paris's reads earlier than Phnom Penh's though it came after.
    expect(activity).toMatch(/their \d\d:\d\d \(UTC\+1\)/);
    expect(activity).toMatch(/their \d\d:\d\d \(UTC\+7\)/);
    expect(await page.locator("ol.activity li.flagged").count()).toBeGreaterThan(0);
    await page.screenshot({ path: artefact("case-page.png"), fullPage: true });
    expect(text).toContain("no previous advocate");
    // No Vonage credentials in this suite: the text is in the outbox and says so.
    expect(text).toContain("OUTBOX — NOT SENT");
    expect(text).toContain("Amara Okafor is looking after this.");

    // The number is there to call, on request, and the request is audited.
    await page.click("text=Show number to call");
    // Post/Redirect/Get: the browser is on the case's own address, and a reload posts nothing.
    await page.waitForURL(`${base}/desk/cases/${caseId}`);
    expect(await page.locator("main").innerText()).toContain("+447911123042");
    await page.reload();
    expect(await page.locator("main").innerText()).toContain("+447911123042");
    const [reveals] = await t.tp.db
      .sql`select count(*)::int as n from audit_log where action = 'customer.phone_revealed'`;
    expect(reveals?.n).toBe(1);
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
    expect(await page.locator("main").innerText()).toContain("resolved: confirmed fraud");
    const api = await t.api("GET", `/v1/cases/${caseId}`);
    expect(api.body).toMatchObject({ status: "resolved", outcome: "confirmed_fraud" });
    expect(api.body.timeline.at(-1)).toMatchObject({ kind: "case.resolved", actor: "adv-amara" });
  });

  it("lets Amara replace Sophie's card to a branch after the fraud is confirmed, and tells Sophie where", async () => {
    const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    await page.goto(`${base}/desk/cases/${caseId}`);
    await page.check("input[name=kind][value=branch]");
    await page.fill("input[name=branch]", "Lyon Part-Dieu");
    await page.click("#replace-card button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${caseId}#replace-card`);
    expect(await page.locator("#replace-card").innerText()).toMatch(
      /Requested: new card to our Lyon Part-Dieu branch, due by \d{4}-\d\d-\d\d/,
    );
    const job = await t.tp.queues.actions.getJob(`replace-${caseId}-card-42a`);
    expect(job?.data).toMatchObject({
      type: "card.replace",
      deliverTo: { kind: "branch", branch: "Lyon Part-Dieu" },
    });
    await t.drained();
    const thread = await page.locator("#thread").innerText();
    expect(thread).toMatch(/is on its way to our Lyon Part-Dieu branch and should be there by/);
  });

  it("finds Sophie's case by phone in any format, by name, by card and by case id, and opens it from a call", async () => {
    const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    for (const q of ["+44 7911 123042", "07911 123042", "00447911123042", "Sophie", "4242", caseId]) {
      await page.fill("header input[name=q]", q);
      await page.press("header input[name=q]", "Enter");
      await page.waitForURL(/\/desk\/search\?q=/);
      const text = await page.locator("main").innerText();
      expect(text, q).toMatch(/1 case for/);
      expect(text, q).toContain("Sophie Martin");
      await expect(page.locator(`main a[href='/desk/cases/${caseId}']`).count(), q).resolves.toBe(1);
    }
    // The number searched for is shown masked, never in full.
    await page.goto(`${base}/desk/search?q=${encodeURIComponent("+447911123042")}`);
    expect(await page.locator("main").innerText()).not.toContain("7911123042");
    // The screen pop: a telephony system opens /desk/lookup with the caller's number.
    await page.goto(`${base}/desk/lookup?phone=${encodeURIComponent("+447911123042")}`);
    expect(page.url()).toBe(`${base}/desk/cases/${caseId}`);
    await page.goto(`${base}/desk/lookup?phone=${encodeURIComponent("+33612349999")}`);
    expect(await page.locator("main").innerText()).toMatch(/No case for this number, \+33•+9999\./);
    await page.goto(`${base}/desk/search?q=${encodeURIComponent("+1 555")}`);
    expect(await page.locator("main").innerText()).toMatch(
      /not a name, phone number, case id or card's last four/,
    );
  });

  it("fits a phone: at 390 px the case page and the queue stack, nothing cut off, times in the reader's own zone", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      timezoneId: "Asia/Tokyo",
    });
    const page = await context.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    for (const path of ["/desk", `/desk/cases/${caseId}`]) {
      await page.goto(`${base}${path}`);
      const { scroll, columns } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        columns: getComputedStyle(document.querySelector(".grid") ?? document.body).gridTemplateColumns,
      }));
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > 392)
          .slice(0, 8)
          .map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`),
      );
      expect(scroll, `${path} ${wide.join(", ")}`).toBeLessThanOrEqual(390);
      if (path !== "/desk") expect(columns.split(" ")).toHaveLength(1);
    }
    // The Paris payment (11:05 UTC) read in Tokyo: 20:05 there, the zone named.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("time")].some((t) => /20:05/.test(t.textContent ?? "")),
    );
    expect(await page.locator("ol.activity time").first().getAttribute("title")).toBe("2026-11-22 11:05 UTC");
    await page.screenshot({ path: artefact("case-page-390.png"), fullPage: true });
    await context.close();
  });

  it("shows each advocate's load and how many cases wait for someone", async () => {
    const page = await signIn(await t.token("supervisor"));
    await page.click("text=Advocates");
    const text = await page.locator("main").innerText();
    expect(text).toMatch(/Amara Okafor\s+fraud\s+online\s+\d+ of 8/);
    expect(text).toMatch(/Priya Shah\s+fraud\s+offline/);
    expect(text).toContain("0 open cases waiting for an advocate");
    await page.screenshot({ path: artefact("advocates.png"), fullPage: true });
  });

  it("keeps the advocates page current without reloading it: a new advocate, then their status", async () => {
    const page = await signIn(await t.token("supervisor"));
    await page.goto(`${base}/desk/advocates`);
    await page.evaluate(() => Object.assign(window, { stillHere: true }));
    const shows = (line: string) =>
      page.waitForFunction(
        (re) => new RegExp(re).test(document.querySelector("#advocates")?.textContent ?? ""),
        line,
        { timeout: 15_000 },
      );
    // Neither is online: no case moves to them, the rest of the suite is unchanged.
    await t.api("PUT", "/v1/advocates/adv-nia", { name: "Nia Newcomb", team: "fraud", status: "offline" });
    await shows("Nia Newcomb\\s*fraud\\s*offline");
    await t.api("PUT", "/v1/advocates/adv-nia/status", { status: "away" });
    await shows("Nia Newcomb\\s*fraud\\s*away");
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    expect(await page.locator("meta[http-equiv=refresh]").count()).toBe(0);
  });

  it("stops the live updates of every tab of a session signed out in one of them, and says so", async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(`${base}/desk`);
    await first.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await first.click("button[type=submit]");
    await first.waitForURL(`${base}/desk`);
    const second = await context.newPage();
    await second.goto(`${base}/desk`);
    await second.click("text=Sign out");
    await second.waitForURL(`${base}/desk/login`);
    await first.waitForFunction(
      () => document.querySelector("#live-note")?.textContent === "Signed out: live updates stopped.",
      undefined,
      { timeout: 15_000 },
    );
    expect(await first.locator("#live-note").isVisible()).toBe(true);
    await context.close();
  });

  it("keeps another team's advocate out of the case", async () => {
    await t.api("PUT", "/v1/advocates/adv-other", { name: "Olu Other", team: "disputes", status: "online" });
    const page = await signIn(await t.token("advocate", { advocateId: "adv-other" }));
    expect(await page.locator("main").innerText()).not.toContain("Card used in two places");
    const res = await page.goto(`${base}/desk/cases/${caseId}`);
    expect(res?.status()).toBe(404);
    // Nor by search, nor from a call.
    await page.goto(`${base}/desk/search?q=Sophie`);
    expect(await page.locator("main").innerText()).toMatch(/No case found/);
    await page.goto(`${base}/desk/lookup?phone=${encodeURIComponent("+447911123042")}`);
    expect(page.url()).not.toContain(caseId);
  });

  it("gives the risk team its Rules page: each rule's mode, owner, figures, file, cases and history", async () => {
    const risk = t.as(await t.token("risk", { label: "Priya (fraud strategy)" }));
    const shadow = {
      rule: {
        name: "night-atm",
        owner: "cash-team",
        mode: "shadow",
        conditions: {
          all: [
            { fact: "event.channel", operator: "equal", value: "atm" },
            { fact: "event.localHour", operator: "in", value: [0, 1, 2, 3, 4, 5] },
          ],
        },
        event: { type: "fraud.suspected", params: { severity: "medium", title: "Cash at night" } },
      },
      tests: [
        { name: "3 a.m. at an ATM", facts: { "event.channel": "atm", "event.localHour": 3 }, fires: true },
      ],
    };
    expect(
      (await risk("PUT", "/v1/rules/night-atm", { ...shadow, note: "watch before going live" })).status,
    ).toBe(201);
    shadow.rule.conditions.all[1]!.value = [0, 1, 2, 3, 4];
    expect((await risk("PUT", "/v1/rules/night-atm", shadow)).status).toBe(201);

    const page = await signIn(await t.token("risk", { label: "Priya" }), "/desk/rules");
    const text = await page.locator("main").innerText();
    expect(text).toMatch(/impossible-location-spend\s+fraud-strategy\s+high\s+v1\s+\d+/);
    expect(text).toMatch(/shadow: what they would have done/i);
    expect(text).toMatch(/night-atm\s+cash-team\s+v3/);
    await page.screenshot({ path: artefact("rules.png"), fullPage: true });
    // A risk token has no business with cases on the desk: it is sent back to its rules.
    await page.goto(`${base}/desk/cases/${caseId}`);
    expect(page.url()).toBe(`${base}/desk/rules`);

    await page.click("a[href='/desk/rules/night-atm']");
    await page.waitForURL(`${base}/desk/rules/night-atm`);
    const rule = await page.locator("main").innerText();
    expect(rule).toContain("3 a.m. at an ATM — fires");
    expect(rule).toMatch(/v3 · .*changed by Priya \(fraud strategy\)/);
    expect(rule).toMatch(/rule\.conditions\.all\[1\]\.value\[5\]: 5 → \(none\)/);
    expect(rule).toMatch(/v2 · .*added by Priya \(fraud strategy\) — watch before going live/);
    expect(rule).toContain('"mode": "shadow"');
    await page.screenshot({ path: artefact("rule.png"), fullPage: true });
  });

  it("keeps advocates off the Rules page", async () => {
    const page = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    expect(await page.locator("header nav").innerText()).not.toContain("Rules");
    const res = await page.goto(`${base}/desk/rules`);
    expect(res?.status()).toBe(403);
    expect(await page.locator("main").innerText()).not.toContain("impossible-location-spend");
  });

  it("refuses a bad token and an ingest token, and sets no session for them", async () => {
    const page = await browser.newPage();
    for (const token of ["not-a-token", await t.token("ingest")]) {
      await page.goto(`${base}/desk/login`);
      await page.fill("input[name=token]", token);
      await page.click("button[type=submit]");
      await page.waitForURL(/failed=1/);
      expect((await page.context().cookies()).filter((c) => c.name === "tp_desk")).toEqual([]);
    }
  });

  it("has no critical or serious accessibility violation (axe-core) on any page of the desk, for any role", async () => {
    // An open case as well as Sophie's resolved one: the case page's forms differ between them.
    await t.api("POST", "/v1/events", [
      tx("axe-1", "cus-42", "2026-11-30T09:10:00Z", PARIS),
      tx("axe-2", "cus-42", "2026-11-30T10:10:00Z", PHNOM_PENH),
    ]);
    await t.drained();
    const open = await t.api("GET", "/v1/cases?customerId=cus-42&status=open");
    const openId = open.body.items[0].id as string;
    const found: string[] = [];
    const check = async (page: Page, paths: readonly string[]) => {
      for (const path of paths) {
        await page.goto(`${base}${path}`);
        const violations = await seriousViolations(page);
        if (violations.length > 0) found.push(describeViolations(path, violations));
      }
    };
    await check(await browser.newPage(), ["/desk/login", "/desk/login?failed=1"]);
    await check(await signIn(await t.token("advocate", { advocateId: "adv-amara" })), [
      "/desk",
      "/desk?status=resolved",
      `/desk/cases/${openId}`,
      `/desk/cases/${caseId}`,
      "/desk/cases/case-no-such-case",
      "/desk/advocates",
      "/desk/search",
      "/desk/search?q=Sophie",
      "/desk/search?q=Nobody",
      `/desk/search?q=${encodeURIComponent("+1 555")}`,
      `/desk/lookup?phone=${encodeURIComponent("+33612349999")}`,
      "/desk/rules",
    ]);
    await check(await signIn(await t.token("supervisor")), [
      "/desk",
      `/desk/cases/${openId}`,
      "/desk/advocates",
      "/desk/rules",
      "/desk/rules?window=all",
      "/desk/rules/impossible-location-spend",
      "/desk/rules/night-atm",
      "/desk/rules/no-such-rule",
    ]);
    await check(await signIn(await t.token("risk", { label: "Priya" }), "/desk/rules"), ["/desk/rules"]);
    expect(found.join("\n")).toBe("");
  });
});

describe("the conversation on the desk, texting through a fake Vonage", () => {
  const secret = "desk-webhook-secret";
  let t: TestTouchpoint;
  let fake: FakeVonage;
  let browser: Browser;
  let base: string;
  let caseId: string;

  beforeAll(async () => {
    fake = await startFakeVonage();
    ({ t, base, caseId, browser } = await sophiesDesk({
      VONAGE_API_KEY: "desk-key",
      VONAGE_API_SECRET: "desk-secret",
      VONAGE_API_HOST: fake.url,
      VONAGE_REST_HOST: fake.url,
      VONAGE_SIGNATURE_SECRET: secret,
      VONAGE_FROM: "TPBank",
    }));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });

  /** Sophie's reply, signed as Vonage signs it. */
  async function sophieWrites(text: string) {
    const raw = JSON.stringify({
      channel: "sms",
      message_uuid: crypto.randomUUID(),
      to: "TPBank",
      from: "447911123042",
      timestamp: new Date().toISOString(),
      text,
      message_type: "text",
    });
    const authorization = await signVonageWebhook({ rawBody: raw, secret, now: new Date() });
    const res = await fetch(`${base}/webhooks/vonage/inbound`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: raw,
    });
    expect(res.status).toBe(200);
    await t.drained();
  }

  it("lets Amara answer Sophie's question from the case page, and Vonage gets her text", async () => {
    await sophieWrites("Who is this? <script>alert('x')</script>");
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.goto(`${base}/desk/cases/${caseId}`);
    const thread = page.locator("#conversation ol.thread");
    // Her message is shown as she wrote it, markup and all, as text.
    await expect(thread.innerText()).resolves.toContain("Who is this? <script>alert('x')</script>");
    await expect(page.locator("#conversation script").count()).resolves.toBe(0);

    await expect(page.locator(".attention").innerText()).resolves.toMatch(
      /Needs you: the customer wrote something other than YES or NO/,
    );
    const answer = "It's Amara from Touchpoint Bank: we saw a payment in Paris while you are in Phnom Penh.";
    await page.fill("#reply-text", answer);
    await page.click("#conversation button[type=submit]");
    // Post/Redirect/Get: the browser lands on the case page, not on the form's address.
    await page.waitForURL(`${base}/desk/cases/${caseId}#conversation`);
    await eventually(async () => (fake.messages.some((m) => m.text === answer) ? true : undefined));
    const toSophie = fake.messages.filter((m) => m.to === "447911123042").map((m) => m.text);
    expect(toSophie.at(-1)).toBe(answer);
    expect(toSophie.filter((m) => m === answer)).toHaveLength(1);
    await page.reload();
    // Her answer is what the alert asked for: the case no longer says it needs her.
    await expect(page.locator(".attention").count()).resolves.toBe(0);
    const text = await thread.innerText();
    expect(text).toMatch(/Amara Okafor wrote · .* · sent\n+It's Amara from Touchpoint Bank/);

    // A link is refused, saying why, and nothing is sent.
    const before = fake.messages.length;
    await page.fill("#reply-text", "Please log in at www.touchpoint-secure.com");
    await page.click("#conversation button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${caseId}?refused=link#conversation`);
    expect(await page.locator("#conversation").innerText()).toContain("never carry links");
    // So is a phone number other than the bank's own.
    await page.fill("#reply-text", "Call me back on 07911 555123");
    await page.click("#conversation button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${caseId}?refused=phone#conversation`);
    expect(await page.locator("#conversation").textContent()).toContain("the bank's own");
    expect(fake.messages.length).toBe(before);
    await page.screenshot({ path: artefact("conversation.png"), fullPage: true });
  });

  it("works with the keyboard alone: Tab to the reply box, type, Tab to Send, Enter", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/desk`);
    await page.goto(`${base}/desk/cases/${caseId}`);
    const focused = () =>
      page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || "");
    for (let i = 0; i < 80 && (await focused()) !== "reply-text"; i++) await page.keyboard.press("Tab");
    expect(await focused()).toBe("reply-text");
    const words = "Thank you, Sophie. Your card is blocked; a new one is on its way.";
    await page.keyboard.type(words);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Send text");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/desk/cases/${caseId}#conversation`);
    await eventually(async () => (fake.messages.some((m) => m.text === words) ? true : undefined));
  });

  it("shows Sophie's next reply on the open case page without a reload", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.goto(`${base}/desk/cases/${caseId}`);
    // Something typed in the reply box survives the update; a reload would lose it.
    await page.fill("#reply-text", "half-written");
    await page.evaluate(() => Object.assign(window, { stillHere: true }));
    await sophieWrites("I am still in Phnom Penh, the Paris one is not me");
    await page.waitForFunction(
      () => document.querySelector("#thread")?.textContent?.includes("the Paris one is not me"),
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    expect(await page.inputValue("#reply-text")).toBe("half-written");
    // The header counts what needs her: this case, with a reply nobody has answered.
    await page.waitForFunction(
      () => document.querySelector("#needs-you")?.textContent === "needs you: 1",
      undefined,
      {
        timeout: 15_000,
      },
    );
  });

  it("puts a case routed to Amara in her open queue without a reload", async () => {
    await t.api("POST", `/v1/cases/${caseId}/resolve`, { outcome: "false_alarm" });
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId: "adv-amara" }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    await page.evaluate(() => Object.assign(window, { stillHere: true }));
    expect(await page.locator("#queue").innerText()).not.toContain("Sophie Martin");
    // Sophie's card again, in two places at once: a new case, for the advocate she knows.
    await t.api("POST", "/v1/events", [
      tx("live-1", "cus-42", "2026-11-29T09:10:00Z", PARIS),
      tx("live-2", "cus-42", "2026-11-29T10:10:00Z", PHNOM_PENH),
    ]);
    await page.waitForFunction(
      () => document.querySelector("#queue")?.textContent?.includes("Sophie Martin"),
      undefined,
      {
        timeout: 15_000,
      },
    );
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    const yours = page.locator(".card", { has: page.locator("h2", { hasText: "Yours" }) });
    expect(await yours.innerText()).toContain("Sophie Martin");
    await page.screenshot({ path: artefact("queue.png"), fullPage: true });
  });
});

describe("desk sessions", () => {
  let t: TestTouchpoint;
  let caseId: string;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    caseId = kase.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const desk = (path: string, init: RequestInit = {}) => t.tp.app!.request(`http://desk.test${path}`, init);
  async function signIn(token: string): Promise<string> {
    const res = await desk("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c)) ?? "";
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    return cookie.split(";")[0]!;
  }

  /** A desk page's live stream, as the page's EventSource opens it; read past its greeting. */
  async function liveStream(cookie: string, app = t.tp.app!): Promise<SseReader> {
    const res = await app.request("http://desk.test/desk/live", { headers: { cookie } });
    expect(res.status).toBe(200);
    const stream = readSse(res);
    // Listening by then: `hello`, and the header's count right after it.
    await stream.until("hello");
    await stream.until("counts");
    return stream;
  }
  const signOut = async (cookie: string) =>
    expect(
      (await desk("/desk/logout", { method: "POST", headers: { cookie, "sec-fetch-site": "same-origin" } }))
        .status,
    ).toBe(303);
  /** A change on Sophie's case (team fraud), which every fraud stream still open hears of. */
  const changeTheCase = async () =>
    expect((await t.api("POST", `/v1/cases/${caseId}/notes`, { text: "a change" })).status).toBe(200);

  it("ends a session's live stream at sign-out: it says goodbye and hears of no later change", async () => {
    const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    const stream = await liveStream(cookie);
    await signOut(cookie);
    await changeTheCase();
    const after = await stream.rest();
    expect(after).toEqual([{ event: "bye", data: JSON.stringify({ reason: "signed-out" }) }]);
  });

  it("ends a session's live streams when its token is revoked, and the session with them", async () => {
    const made = await t.api("POST", "/v1/tokens", { role: "supervisor", label: "leaves today" });
    const cookie = await signIn(made.body.token as string);
    const stream = await liveStream(cookie);
    expect((await t.api("DELETE", `/v1/tokens/${made.body.id}`)).status).toBe(204);
    await changeTheCase();
    expect(await stream.rest()).toEqual([{ event: "bye", data: JSON.stringify({ reason: "signed-out" }) }]);
    expect((await desk("/desk", { headers: { cookie } })).status).toBe(303);
    expect((await t.api("DELETE", `/v1/tokens/${made.body.id}`)).status).toBe(404);
  });

  it("ends a stream held by another API process when the session signs out here", async () => {
    // A second process on the same Postgres and Redis, serving the API only, as behind a balancer.
    const other = await startTestTouchpoint({
      database: { url: t.databaseUrl!, drop: async () => {} },
      prefix: t.prefix,
      env: { ROLE: "api", ADMIN_TOKEN: t.tp.config.ADMIN_TOKEN! },
    });
    try {
      const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
      const there = await liveStream(cookie, other.tp.app!);
      await signOut(cookie);
      await changeTheCase();
      expect(await there.rest()).toEqual([{ event: "bye", data: JSON.stringify({ reason: "signed-out" }) }]);
    } finally {
      // Not other.close(): it would delete the keys both processes share.
      await other.tp.close();
      rmSync(other.tp.config.DATA_DIR, { recursive: true, force: true });
    }
  });

  it(`lets a session hold ${STREAMS_PER_SESSION} live streams: one more ends the oldest, which is told not to come back`, async () => {
    const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    const open: SseReader[] = [];
    for (let i = 0; i < STREAMS_PER_SESSION; i++) open.push(await liveStream(cookie));
    const newest = await liveStream(cookie);
    const [oldest, ...kept] = open;
    expect(await oldest!.rest()).toEqual([{ event: "bye", data: JSON.stringify({ reason: "superseded" }) }]);
    // The others are still live: each hears of the next change.
    await changeTheCase();
    for (const s of [...kept, newest]) expect((await s.until("case")).data).toContain(caseId);
    for (const s of [...kept, newest]) await s.cancel();
  });

  it("keeps a session id in the cookie, never the token, and ends it at logout even if the cookie is replayed", async () => {
    const token = await t.token("advocate", { advocateId: "adv-amara" });
    const cookie = await signIn(token);
    expect(cookie).not.toContain(token);
    expect((await desk("/desk", { headers: { cookie } })).status).toBe(200);
    const out = await desk("/desk/logout", {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "same-origin" },
    });
    expect(out.status).toBe(303);
    const replay = await desk("/desk", { headers: { cookie } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/desk/login");
  });

  it("ends the sessions of a token made again under its id (ADMIN_TOKEN changed, the CLI's token renewed)", async () => {
    await createToken(t.tp.db.sql, {
      id: "rotated",
      role: "supervisor",
      token: "rotated-secret-one-0123456789",
    });
    const cookie = await signIn("rotated-secret-one-0123456789");
    expect((await desk("/desk", { headers: { cookie } })).status).toBe(200);
    await createToken(t.tp.db.sql, {
      id: "rotated",
      role: "supervisor",
      token: "rotated-secret-two-0123456789",
    });
    expect((await desk("/desk", { headers: { cookie } })).status).toBe(303);
  });

  it("reads an advocate's team from the advocate, so a move takes their token and session along", async () => {
    await t.api("PUT", "/v1/advocates/adv-mover", { name: "Mo Ver", team: "fraud", status: "online" });
    await t.api("PUT", "/v1/advocates/adv-stayer", { name: "St Ayer", team: "fraud", status: "online" });
    const token = await t.token("advocate", { advocateId: "adv-mover", team: "fraud" });
    const cookie = await signIn(token);
    await t.api("PUT", "/v1/advocates/adv-mover", { name: "Mo Ver", team: "disputes", status: "online" });
    const listed = await t.as(token)("GET", "/v1/advocates");
    expect(listed.body.items.map((a: { id: string }) => a.id)).not.toContain("adv-stayer");
    const page = await (await desk(`/desk/cases/${caseId}`, { headers: { cookie } })).text();
    expect(page).not.toContain("Sophie Martin");
  });

  it("clears a cookie an earlier version left on /desk, which the browser would send first", async () => {
    const res = await desk("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token: await t.token("supervisor") }).toString(),
    });
    const cookies = res.headers.getSetCookie();
    expect(
      cookies.some((c) => /^tp_desk=;/.test(c) && /Path=\/desk(;|$)/.test(c) && /Max-Age=0/.test(c)),
    ).toBe(true);
    expect(cookies.some((c) => /^tp_desk=[^;]+;/.test(c) && /Path=\/(;|$)/.test(c))).toBe(true);
  });

  it("marks the cookie Secure behind HTTPS, and sends a CSP that forbids framing", async () => {
    const token = await t.token("supervisor");
    const res = await desk("/desk/login", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "same-origin",
        "x-forwarded-proto": "https",
      },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.headers.getSetCookie().find((c) => /^tp_desk=[^;]+;/.test(c))).toMatch(/Secure/);
    const page = await desk("/desk/login");
    expect(page.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
  });

  it("refuses a POST from another site whatever its content type, and one that says nothing of its origin", async () => {
    const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    for (const headers of <Array<Record<string, string>>>[
      { cookie, "content-type": "application/json", "sec-fetch-site": "cross-site" },
      { cookie, "content-type": "application/json", origin: "https://evil.example" },
      // X-Forwarded-Host is the client's to choose: it says nothing of where the page came from.
      {
        cookie,
        "content-type": "application/json",
        origin: "https://evil.example",
        "x-forwarded-host": "evil.example",
      },
      { cookie, "content-type": "application/json" },
    ]) {
      const res = await desk(`/desk/cases/${caseId}/phone`, { method: "POST", headers, body: "{}" });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    const [revealed] = await t.tp.db
      .sql`select count(*)::int as n from audit_log where action = 'customer.phone_revealed'`;
    expect(revealed?.n).toBe(0);
  });

  it("takes an Origin naming the request's own Host, or DESK_PUBLIC_URL when one is set, and no other", async () => {
    const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    const note = (headers: Record<string, string>) =>
      desk(`/desk/cases/${caseId}/notes`, {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams({ text: "origin check" }).toString(),
      });
    // app.request sends no Host of its own: the header is set as a server would receive it.
    expect((await note({ host: "desk.test", origin: "http://desk.test" })).status).toBe(303);
    expect(
      (await note({ host: "desk.test", origin: "https://evil.example", "x-forwarded-host": "evil.example" }))
        .status,
    ).toBe(403);
    const behindProxy = await startTestTouchpoint({ env: { DESK_PUBLIC_URL: "https://desk.example.com" } });
    try {
      const app = behindProxy.tp.app!;
      const login = await app.request("http://10.0.0.5:3000/desk/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
        body: new URLSearchParams({ token: await behindProxy.token("supervisor") }).toString(),
      });
      const session = login.headers
        .getSetCookie()
        .find((c) => /^tp_desk=[^;]+;/.test(c))!
        .split(";")[0]!;
      const logout = (origin: string) =>
        app.request("http://10.0.0.5:3000/desk/logout", {
          method: "POST",
          headers: { cookie: session, origin },
        });
      // The proxy rewrote Host: only the configured origin counts, not the Host the request arrived with.
      expect((await logout("http://10.0.0.5:3000")).status).toBe(403);
      expect((await logout("https://evil.example")).status).toBe(403);
      expect((await logout("https://desk.example.com")).status).toBe(303);
    } finally {
      await behindProxy.close();
    }
  });

  it("answers a number no case has with 'no case for this number', and never repeats a number in full", async () => {
    const cookie = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    const main = async (path: string) => {
      const html = await (await desk(path, { headers: { cookie } })).text();
      return html.slice(html.indexOf("<main"));
    };
    // Well-formed numbers nobody has: the documentation's own example (a range kept for drama),
    // a national number written with its area code in brackets, and the same from a telephony system.
    for (const [path, digits] of [
      [`/desk/search?q=${encodeURIComponent("+447700900123")}`, "7700900123"],
      [`/desk/search?q=${encodeURIComponent("+44 7700 900123")}`, "7700900123"],
      [`/desk/search?q=${encodeURIComponent("(020) 7946 0000")}`, "79460000"],
      [`/desk/lookup?phone=${encodeURIComponent("+447700900123")}`, "7700900123"],
      [`/desk/lookup?phone=${encodeURIComponent("+33612349999")}`, "612349999"],
    ] as const) {
      const text = await main(path);
      expect(text, path).toContain("No case for this number");
      expect(text, path).not.toContain("is not a name");
      expect(text.replace(/[\s()-]/g, ""), path).not.toContain(digits);
    }
    // What is not read as a number is said so, its digits masked all the same.
    for (const q of ["+1 555", "call 07700 900123 please"]) {
      const text = await main(`/desk/search?q=${encodeURIComponent(q)}`);
      if (q === "+1 555") expect(text).toContain("is not a name, phone number");
      expect(text.replace(/\s/g, ""), q).not.toContain("07700900123");
    }
  });

  it("shows admins, and only admins, the queue dashboard with every queue's jobs", async () => {
    const admin = await t.token("admin");
    const supervisor = await t.token("supervisor");
    expect((await desk("/admin/queues")).status).toBe(303);
    expect((await desk("/admin/queues", { headers: { authorization: `Bearer ${supervisor}` } })).status).toBe(
      403,
    );
    const page = await desk("/admin/queues", { headers: { authorization: `Bearer ${admin}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    // An admin signed in at the desk gets there too, with the session cookie.
    const cookie = await signIn(admin);
    const api = await desk("/admin/queues/api/queues", { headers: { cookie } });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: Array<{ name: string }> }).queues
      .map((q) => q.name)
      .sort();
    expect(names).toEqual(["actions", "cases", "outreach", "replies"]);
    // Its actions are POSTs from its own page only.
    const clean = await desk("/admin/queues/api/queues/evaluate/clean/failed", {
      method: "PUT",
      headers: { cookie, "sec-fetch-site": "cross-site" },
    });
    expect(clean.status).toBe(403);
  });
});
