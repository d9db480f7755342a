/**
 * The risk analyst's Rules pages in Chromium: a rule file pasted or uploaded on the desk is
 * validated, tested, backtested and published from there, with the API's own errors; and the
 * pages fit a phone's screen.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, loadPeopleVia } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { REPO } from "./support/processes.ts";

/** Screenshots the run writes for people to look at (not committed). */
function artefact(name: string): string {
  const dir = join(REPO, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

const bigAtm = {
  rule: {
    name: "big-atm-withdrawal",
    description: "A cash withdrawal of 1,000 or more.",
    conditions: {
      all: [
        { fact: "event.channel", operator: "equal", value: "atm" },
        { fact: "amount.value", operator: "greaterThanInclusive", value: 1000 },
      ],
    },
    event: { type: "fraud.suspected", params: { severity: "high", title: "Large cash withdrawal" } },
  },
  tests: [
    { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
    { name: "900 at an ATM", facts: { "event.channel": "atm", "amount.value": 900 }, fires: false },
  ],
};

describe("the Rules pages, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  let riskToken: string;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    riskToken = await t.token("risk", { label: "Priya" });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(width = 1280, height = 800): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${base}/desk/login`);
    await page.fill("input[name=token]", riskToken);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk/rules`);
    return page;
  }

  it("shows an invalid file's problems with their JSON paths, as the API words them, and publishes nothing", async () => {
    const page = await signIn();
    const broken = {
      ...bigAtm,
      rule: {
        ...bigAtm.rule,
        conditions: { all: [{ fact: "event.chanel", operator: "equal", value: "atm" }] },
      },
    };
    await page.fill("#rule-file", JSON.stringify(broken, null, 2));
    await page.click("button[value=validate]");
    await page.waitForSelector("#rule-issues");
    const shown = await page.locator("#rule-issues li").allInnerTexts();
    // The API's answer to the same file, word for word.
    const api = await t.as(riskToken)("PUT", "/v1/rules/big-atm-withdrawal", broken);
    expect(api.status).toBe(400);
    expect(api.body.error.issues).toEqual([
      {
        path: "rule.conditions.all[0].fact",
        rule: "big-atm-withdrawal",
        message: 'unknown fact "event.chanel"; did you mean "event.channel"?',
      },
    ]);
    expect(shown).toEqual([
      'rule.conditions.all[0].fact (big-atm-withdrawal): unknown fact "event.chanel"; did you mean "event.channel"?',
    ]);
    // The pasted text stays in the box to be fixed.
    expect(JSON.parse(await page.inputValue("#rule-file"))).toEqual(broken);
    expect(describeViolations("rules form with errors", await seriousViolations(page))).toBe("");

    // Not JSON at all: the line and column, as the CLI says it.
    await page.fill("#rule-file", '{\n  "rule": {,\n}');
    await page.click("button[value=publish]");
    await page.waitForSelector("#rule-issues");
    expect(await page.locator("#rule-issues li").allInnerTexts()).toEqual([
      expect.stringMatching(/^\(file\): malformed JSON at line 2 column \d+/),
    ]);
    // A failing case of its own: the test run says why, and the publish is refused, naming it.
    const failing = { ...bigAtm, tests: [{ ...bigAtm.tests[1]!, fires: true }] };
    await page.fill("#rule-file", JSON.stringify(failing));
    await page.click("button[value=test]");
    await page.waitForSelector("#rule-tests-failed");
    expect(await page.textContent("#rule-tests-failed")).toBe("1 of 1 failed");
    expect(await page.locator("#rule-tests li").allInnerTexts()).toEqual([
      'FAIL 900 at an ATM — "900 at an ATM" expected it to fire; it did not: amount.value was 900; wanted greaterThanInclusive 1000',
    ]);
    await page.fill("#rule-file", JSON.stringify(failing));
    await page.click("button[value=publish]");
    await page.waitForSelector("#rule-issues");
    expect(await page.locator("#rule-issues li").allInnerTexts()).toEqual([
      expect.stringMatching(
        /^tests\[0\] \(big-atm-withdrawal\): "900 at an ATM" expected it to fire; it did not/,
      ),
    ]);
    expect((await t.api("GET", "/v1/rulesets/current")).body.version).toBe(1);
    await page.close();
  });

  it("validates, tests, backtests and publishes a valid file from the page", async () => {
    const page = await signIn();
    await page.fill("#rule-file", JSON.stringify(bigAtm, null, 2));
    await page.click("button[value=validate]");
    await page.waitForSelector("#rule-ok");
    expect(await page.textContent("#rule-ok")).toBe("Valid: big-atm-withdrawal (live).");

    await page.click("button[value=test]");
    await page.waitForSelector("#rule-tests");
    expect(await page.locator("#rule-tests li").allInnerTexts()).toEqual([
      "PASS 1,500 at an ATM",
      "PASS 900 at an ATM",
    ]);

    await page.fill("#bt-from", "2026-11-01");
    await page.fill("#bt-to", "2026-11-30");
    await page.click("button[value=backtest]");
    await page.waitForURL(/\/desk\/rules\/backtests\/bt-[0-9a-f]+#main$/);
    const id = new URL(page.url()).pathname.split("/").at(-1)!;
    const done = await eventually(
      async () => {
        const r = await t.as(riskToken)("GET", `/v1/backtests/${id}`);
        return r.body.status === "done" ? r.body : undefined;
      },
      60_000,
      "the desk's backtest to finish",
    );
    // The backtest tried the file as a change to the published rules: it adds one rule.
    expect(
      done.report.candidate
        .filter((s: { change: string }) => s.change !== "unchanged")
        .map((s: { rule: string }) => s.rule),
    ).toEqual(["big-atm-withdrawal"]);
    await page.reload();
    await page.waitForSelector("text=What changes against the published rules");

    // Publish, from the upload this time.
    await page.goto(`${base}/desk/rules`);
    await page.setInputFiles("#rule-upload", {
      name: "big-atm-withdrawal.json",
      mimeType: "application/json",
      buffer: Buffer.from(JSON.stringify(bigAtm)),
    });
    await page.fill("#publish-note", "cash-out ring, Lyon");
    await page.click("button[value=publish]");
    await page.waitForURL(`${base}/desk/rules/big-atm-withdrawal?published=2#main`);
    expect(await page.textContent("[role=status]")).toBe("Published as version 2.");
    const [latest] = (await t.api("GET", "/v1/rulesets")).body.items;
    expect(latest).toMatchObject({ version: 2, createdBy: "Priya", note: "cash-out ring, Lyon" });
    expect((await t.api("GET", "/v1/rules/big-atm-withdrawal")).body.rule.name).toBe("big-atm-withdrawal");
    await page.close();
  });

  it("fits a phone's screen, 390 px wide, on the Rules page, a rule's page and a backtest's report, and passes axe", async () => {
    const risk = t.as(riskToken);
    // A shadow rule with hits and a long test case, so its page has every part a rule page has.
    const night = {
      rule: {
        ...bigAtm.rule,
        name: "night-atm-withdrawal-with-a-long-name",
        mode: "shadow",
        conditions: { all: [{ fact: "event.channel", operator: "equal", value: "atm" }] },
      },
      tests: [
        {
          name: "a withdrawal at an ATM at night in a country the customer has never been to before",
          facts: {
            "event.channel": "atm",
            "amount.value": 1500,
            "event.country": "KH",
            "event.localHour": 3,
          },
          fires: true,
        },
      ],
    };
    expect((await risk("PUT", `/v1/rules/${night.rule.name}`, night)).status).toBe(201);
    await t.api("PUT", "/v1/customers/rd-nadia", { name: "Nadia", phone: "+33612349001", homeCountry: "FR" });
    await t.api("POST", "/v1/events", [
      {
        id: "rd-atm-with-a-long-event-identifier-0001",
        type: "card.transaction",
        occurredAt: "2026-11-20T03:00:00Z",
        customerId: "rd-nadia",
        card: { id: "rd-card", last4: "4242" },
        amount: { value: 300, currency: "EUR" },
        merchant: {
          name: "Distributeur automatique de billets, Gare de Lyon",
          mcc: "6011",
          city: "Paris",
          country: "FR",
          lat: 48.84,
          lon: 2.37,
        },
        channel: "atm",
      },
    ]);
    await t.drained();
    const started = await risk("POST", "/v1/backtests", {
      rules: [{ ...night, rule: { ...night.rule, mode: "live" } }],
      from: "2026-11-19T00:00:00Z",
      to: "2026-11-21T00:00:00Z",
    });
    await eventually(
      async () =>
        (await risk("GET", `/v1/backtests/${started.body.id}`)).body.status === "done" ? true : undefined,
      60_000,
      "the backtest",
    );
    const page = await signIn(390, 844);
    let shots = 0;
    for (const path of [
      "/desk/rules",
      `/desk/rules/${night.rule.name}`,
      "/desk/rules/big-atm-withdrawal",
      `/desk/rules/backtests/${started.body.id}`,
    ]) {
      await page.goto(`${base}${path}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${path} is ${width} px wide at 390`).toBeLessThanOrEqual(390);
      expect(describeViolations(path, await seriousViolations(page))).toBe("");
      await page.screenshot({ path: artefact(`rules-390-${shots++}.png`), fullPage: true });
    }
    await page.close();
  });

  it("shows a rule file in its author's key order, as published by the API, the CLI's files or the desk", async () => {
    // Written with the name last and the event before the conditions: jsonb would sort them.
    const text = `{
  "tests": [],
  "rule": {
    "event": { "type": "fraud.suspected", "params": { "title": "Ordered", "severity": "low" } },
    "conditions": { "any": [{ "value": 5000, "operator": "greaterThan", "fact": "amount.value" }] },
    "description": "Keys as the author wrote them.",
    "name": "author-order"
  }
}`;
    expect((await t.as(riskToken)("PUT", "/v1/rules/author-order", JSON.parse(text))).status).toBe(201);
    const page = await signIn();
    await page.goto(`${base}/desk/rules/author-order`);
    const shown = JSON.parse((await page.textContent("pre.rule-file")) ?? "");
    expect(Object.keys(shown)).toEqual(["tests", "rule"]);
    expect(Object.keys(shown.rule)).toEqual([
      "event",
      "conditions",
      "description",
      "name",
      "mode",
      "priority",
    ]);
    expect(Object.keys(shown.rule.event.params)).toEqual(["title", "severity", "team"]);
    expect(Object.keys(shown.rule.conditions.any[0])).toEqual(["value", "operator", "fact"]);
    // And the API gives it back in the same order.
    const api = await t.as(riskToken)("GET", "/v1/rules/author-order");
    expect(Object.keys(api.body.rule)).toEqual([
      "event",
      "conditions",
      "description",
      "name",
      "mode",
      "priority",
    ]);

    // Pasted on the desk and published from there: its order too.
    await page.goto(`${base}/desk/rules`);
    await page.fill("#rule-file", text.replace("Keys as the author wrote them.", "Changed on the desk."));
    await page.click("button[value=publish]");
    await page.waitForURL(/\/desk\/rules\/author-order\?published=\d+#main$/);
    const again = JSON.parse((await page.textContent("pre.rule-file")) ?? "");
    expect(Object.keys(again.rule)).toEqual([
      "event",
      "conditions",
      "description",
      "name",
      "mode",
      "priority",
    ]);
    expect(again.rule.description).toBe("Changed on the desk.");
    await page.close();
  });

  it("keeps the form from supervisors, who read the rules but do not change them", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/desk/login`);
    await page.fill("input[name=token]", await t.token("supervisor", { label: "Sam" }));
    await page.click("button[type=submit]");
    await page.goto(`${base}/desk/rules`);
    expect(await page.locator("#rule-file").count()).toBe(0);
    const refused = await page.evaluate(async () => {
      const form = new FormData();
      form.set("file", "{}");
      form.set("do", "publish");
      return (await fetch("/desk/rules", { method: "POST", body: form })).status;
    });
    expect(refused).toBe(403);
    await page.close();
  });
});
