import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duration, ExperienceBody, windowOf, windowWords } from "../api/desk/experience.tsx";
import type { ExperienceWindow } from "../engine/experience/figures.ts";
import type { ExperienceReport } from "../engine/experience/report.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser, signInWatching } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { REPO } from "./support/processes.ts";

/** Screenshots the run writes for people to look at (not committed). */
function artefact(name: string): string {
  const dir = join(REPO, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

const NOW = new Date("2026-12-07T15:00:00Z");
const WEEK = { since: new Date("2026-12-01T00:00:00Z"), until: new Date("2026-12-08T00:00:00Z") };

/** Nothing happened: the report of a quiet window. */
function emptyReport(w: ExperienceWindow = WEEK): ExperienceReport {
  return {
    window: { since: w.since.toISOString(), until: w.until.toISOString(), team: w.team ?? null },
    cases: 0,
    timeToFirstContact: { count: 0, p50: null, p90: null, p99: null, deferredByQuietHours: 0 },
    timeToFirstAnswer: { count: 0, p50: null, p90: null, p99: null },
    resolvedByCustomer: { count: 0, of: 0, share: null },
    contactsPerCase: { mean: null, max: 0, casesAtCap: 0 },
    customersWithEvents: 0,
    perRule: [],
    sameAdvocate: { count: 0, of: 0, share: null },
    timeToResolution: { count: 0, p50: null, p90: null, p99: null },
    waitingOnBank: [],
    optOutsAfterContact: 0,
    feedback: { asked: 0, answered: 0, mean: null, byTeam: [], byAdvocate: [], byRule: [] },
    days: [],
  };
}

const DAYS = ["01", "02", "03", "04", "05", "06", "07"].map((d) => `2026-12-${d}`);

/** A week of 37 cases, 1–7 Dec: every figure has something to draw. */
function weekReport(w: ExperienceWindow = WEEK): ExperienceReport {
  return {
    ...emptyReport(w),
    cases: 37,
    timeToFirstContact: { count: 37, p50: 240, p90: 1_500, p99: 5_400, deferredByQuietHours: 4 },
    timeToFirstAnswer: { count: 30, p50: 600, p90: 3_600, p99: 7_200 },
    resolvedByCustomer: { count: 20, of: 32, share: 20 / 32 },
    contactsPerCase: { mean: 2.4, max: 5, casesAtCap: 1 },
    customersWithEvents: 1_250,
    perRule: [
      {
        rule: "impossible-location-spend",
        customersContactedForNothing: 3,
        per1000Customers: 2.4,
        precision: 0.8,
        confirmed: 12,
        falseAlarms: 3,
      },
      {
        rule: "new-device-payee",
        customersContactedForNothing: 7,
        per1000Customers: 5.6,
        precision: 0.3,
        confirmed: 3,
        falseAlarms: 7,
      },
    ],
    sameAdvocate: { count: 9, of: 10, share: 0.9 },
    timeToResolution: { count: 32, p50: 5_400, p90: 90_000, p99: 200_000 },
    waitingOnBank: [
      {
        caseId: "case-w1",
        customerId: "cus-7",
        advocateId: "adv-amara",
        since: "2026-12-07T11:00:00Z",
        seconds: 14_400,
      },
      {
        caseId: "case-w2",
        customerId: "cus-8",
        advocateId: null,
        since: "2026-12-07T14:00:00Z",
        seconds: 3_600,
      },
    ],
    optOutsAfterContact: 2,
    feedback: {
      asked: 30,
      answered: 18,
      mean: 4.2,
      byTeam: [
        { key: "fraud", answered: 12, mean: 4.4 },
        { key: "disputes", answered: 6, mean: 3.8 },
      ],
      byAdvocate: [
        { key: "adv-amara", name: "Amara Okafor", answered: 10, mean: 4.6 },
        { key: "adv-priya", name: "Priya Shah", answered: 8, mean: 3.7 },
      ],
      byRule: [],
    },
    days: DAYS.map((day, i) => ({
      day,
      casesOpened: 5 + (i % 3),
      casesResolved: 4 + (i % 2),
      resolvedByCustomer: 2 + (i % 2),
      firstContactP50: 180 + i * 20,
    })),
  };
}

function render(report: ExperienceReport, extra: { teams?: string[]; linkCases?: boolean } = {}): string {
  return String(
    ExperienceBody({
      report,
      asked: WEEK,
      now: NOW,
      teams: extra.teams ?? ["disputes", "fraud"],
      linkCases: extra.linkCases ?? true,
    }),
  );
}

const count = (html: string, re: RegExp) => [...html.matchAll(new RegExp(re, "g"))].length;
const svgs = (html: string) => [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
/** The text a reader sees, tags dropped, entities of the page's own text undone. */
const words = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/&amp;/g, "&")
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, " ");

describe("the experience page, drawn from a report", () => {
  it("draws a week: a dot per day's first contact, two bars a day, a bar per team, advocate and rule", () => {
    const html = render(weekReport());
    const plots = svgs(html);
    expect(plots).toHaveLength(5);
    for (const svg of plots) {
      expect(svg).toMatch(/^<svg class="plot" viewBox="0 0 \d+ \d+" role="img" aria-label="[^"]+"><title>/);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    }
    const [firstContact, resolved, byTeam, byAdvocate, perRule] = plots as [
      string,
      string,
      string,
      string,
      string,
    ];
    expect(count(firstContact, /<circle /)).toBe(7);
    expect(count(firstContact, /<path d="M[\d.,L]+" class="line"/)).toBe(1);
    expect(count(resolved, /class="bar total"/)).toBe(7);
    expect(count(resolved, /class="bar part"/)).toBe(7);
    expect(count(byTeam, /class="bar part"/)).toBe(2);
    expect(count(byAdvocate, /class="bar part"/)).toBe(2);
    expect(count(perRule, /class="bar part"/)).toBe(2);
    // The costliest rule first.
    expect(perRule.indexOf("new-device-payee")).toBeLessThan(perRule.indexOf("impossible-location-spend"));
    expect(byAdvocate).toContain("Amara Okafor");
  });

  it("says each figure in words, with its count and window", () => {
    const text = words(render(weekReport()));
    expect(text).toContain("p50 4 min over 37 cases, 1–7 Dec");
    expect(text).toContain("63% of 32 resolved cases settled by the customer alone, 1–7 Dec");
    expect(text).toContain("Mean score (1–5) of 2 teams over 18 answers, 1–7 Dec");
    expect(text).toContain("Mean score (1–5) of 2 advocates over 18 answers, 1–7 Dec");
    expect(text).toContain("10 customers contacted for nothing by 2 rules, 1–7 Dec");
    expect(text).toMatch(/new-device-payee 7 5\.6 30% 3 7/); // its row of numbers
    expect(text).toMatch(/new-device-payee · precision 30% 7 \(5\.6 per 1,000\)/); // its bar
    // The headline.
    expect(text).toMatch(/Cases 37 opened/);
    expect(text).toMatch(
      /Time to first contact 4 min p50 over 37 cases; p90 25 min · p99 1 h 30 min; 4 deferred/,
    );
    expect(text).toMatch(/Resolved by the customer 63% 20 of 32 resolved cases/);
    expect(text).toMatch(/Contacts per case 2\.4 mean; at most 5, 1 case at the cap/);
    expect(text).toMatch(/Same advocate as before 90% 9 of 10 returning customers' cases/);
    expect(text).toMatch(/Satisfaction 4\.2 \/ 5 18 answers of 30 asked/);
    expect(text).toMatch(/Time to resolution 1 h 30 min p50 over 32 cases; p90 1 d 1 h/);
    expect(text).toMatch(/Opt-outs after contact 2/);
    expect(text).toMatch(/case-w1 — customer cus-7, with adv-amara, waiting 4 h/);
    expect(text).toMatch(/case-w2 — customer cus-8, no advocate, waiting 1 h/);
  });

  it("links the cases waiting on the bank for those who may open them, and not for the risk team", () => {
    expect(render(weekReport())).toContain('<a href="/desk/cases/case-w1">case-w1</a>');
    const risk = render(weekReport(), { linkCases: false });
    expect(risk).not.toContain("/desk/cases/");
    expect(risk).toContain("<code>case-w1</code>");
  });

  it("offers today, 7 days and 30 days, keeps the team chosen, and marks the window shown", () => {
    const html = render(weekReport({ ...WEEK, team: "fraud" }));
    expect(html).toContain('href="/desk/experience?since=2026-12-07&amp;until=2026-12-08&amp;team=fraud"');
    expect(html).toContain(
      'href="/desk/experience?since=2026-12-01&amp;until=2026-12-08&amp;team=fraud" class="on"',
    );
    expect(html).toContain('href="/desk/experience?since=2026-11-08&amp;until=2026-12-08&amp;team=fraud"');
    expect(html).toMatch(/<option value="fraud" selected="">fraud<\/option>/);
    expect(html).toMatch(/<label for="team">Team<\/label><select id="team" name="team">/);
    // A supervisor bound to a team has no choice to make.
    expect(render(weekReport(), { teams: [] })).not.toContain("<select");
  });

  it("reads an empty window in words: no cases, no plot, no NaN", () => {
    const html = render(emptyReport());
    expect(svgs(html)).toEqual([]);
    expect(html).not.toMatch(/NaN|undefined|Infinity|<table/);
    const text = words(html);
    expect(text).toContain("No cases in this window (1–7 Dec).");
    expect(text).toContain("No case contacted, 1–7 Dec.");
    expect(text).toContain("No case resolved, 1–7 Dec.");
    expect(text).toContain("No customer answered the feedback question, 1–7 Dec.");
    expect(text).toContain("No rule's case ended a false alarm, 1–7 Dec.");
    expect(text).toContain("No open case waits on the bank.");
    expect(text).toMatch(/Time to first contact — p50 over 0 cases; p90 — · p99 —/);
  });

  it("breaks the line at a day with no first contact, and leaves out a group no one scored", () => {
    const r = weekReport();
    r.days[2]!.firstContactP50 = null;
    r.days[3]!.firstContactP50 = null;
    r.days.push({
      day: "2026-12-08",
      casesOpened: 0,
      casesResolved: 0,
      resolvedByCustomer: 0,
      firstContactP50: null,
    });
    r.feedback.byTeam.push({ key: "cards", answered: 0, mean: null });
    r.perRule.push({
      rule: "quiet-rule",
      customersContactedForNothing: 0,
      per1000Customers: null,
      precision: null,
      confirmed: 0,
      falseAlarms: 0,
    });
    r.timeToResolution = { count: 0, p50: null, p90: null, p99: null };
    const html = render(r);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
    const [firstContact, , byTeam, , perRule] = svgs(html) as [string, string, string, string, string];
    expect(count(firstContact, /<circle /)).toBe(5);
    // Two runs of days: two moves of the pen.
    expect(firstContact.match(/<path d="([^"]+)" class="line"/)?.[1]?.match(/M/g)).toHaveLength(2);
    expect(count(byTeam, /class="bar part"/)).toBe(2);
    expect(byTeam).not.toContain("cards");
    expect(perRule).toContain("quiet-rule");
    expect(words(perRule)).toContain("quiet-rule · precision — 0");
    expect(words(html)).toContain("10 customers contacted for nothing by 2 rules, 1–7 Dec");
    expect(words(html)).toMatch(/Time to resolution — p50 over 0 cases; p90 —/);
  });

  it("labels a month's days sparingly, every plot whole", () => {
    const month = { since: new Date("2026-11-08T00:00:00Z"), until: new Date("2026-12-08T00:00:00Z") };
    const r = weekReport(month);
    r.days = Array.from({ length: 30 }, (_, i) => ({
      day: new Date(month.since.getTime() + i * 86_400_000).toISOString().slice(0, 10),
      casesOpened: i % 4,
      casesResolved: i % 3,
      resolvedByCustomer: i % 2,
      firstContactP50: i % 5 === 0 ? null : 3_600 + i * 600,
    }));
    const html = render(r);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
    const [firstContact, resolved] = svgs(html) as [string, string];
    expect(count(firstContact, /<circle /)).toBe(24);
    expect(count(firstContact, /text-anchor="middle">\d+ \w{3}</)).toBeLessThanOrEqual(6);
    expect(firstContact).toMatch(/>\d+ h</); // an axis in hours for hours of waiting
    expect(count(resolved, /class="bar total"/)).toBe(30);
    expect(words(html)).toContain("8 Nov – 7 Dec");
  });

  it("draws one day alone (today) without a broken line", () => {
    const today = { since: new Date("2026-12-07T00:00:00Z"), until: new Date("2026-12-08T00:00:00Z") };
    const r = weekReport(today);
    r.days = r.days.slice(-1);
    const html = render(r);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
    expect(words(html)).toContain("p50 4 min over 37 cases, 7 Dec");
    expect(count(svgs(html)[0]!, /<circle /)).toBe(1);
  });
});

describe("the experience page's words", () => {
  it("says a window as people do, its end exclusive", () => {
    expect(windowWords("2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z")).toBe("1–7 Dec");
    expect(windowWords("2026-11-28T00:00:00Z", "2026-12-05T00:00:00Z")).toBe("28 Nov – 4 Dec");
    expect(windowWords("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")).toBe("7 Dec");
    expect(windowWords("2026-12-07T00:00:00Z", "2026-12-07T15:00:00Z")).toBe("7 Dec");
    expect(windowWords("2025-12-28T00:00:00Z", "2026-01-04T00:00:00Z")).toBe("28 Dec 2025 – 3 Jan 2026");
    expect(windowWords("nonsense", "2026-01-04T00:00:00Z")).toBe("this window");
  });

  it("says a duration in the unit that reads best", () => {
    expect([null, 0, 0.381, 45, 240, 4_800, 7_200, 90_000, 172_800].map(duration)).toEqual([
      "—",
      "0 s",
      "under 1 s",
      "45 s",
      "4 min",
      "1 h 20 min",
      "2 h",
      "1 d 1 h",
      "2 d",
    ]);
  });

  it("reads the window a query asks for, and falls back to the last 7 days with a word on why", () => {
    expect(windowOf({}, NOW)).toEqual(WEEK);
    expect(windowOf({ since: "2026-11-01", until: "2026-12-01" }, NOW)).toEqual({
      since: new Date("2026-11-01T00:00:00Z"),
      until: new Date("2026-12-01T00:00:00Z"),
    });
    expect(windowOf({ since: "2026-12-07T09:30:00Z", until: "2026-12-07T10:00:00Z" }, NOW).since).toEqual(
      new Date("2026-12-07T09:30:00Z"),
    );
    for (const bad of [
      { since: "yesterday", until: "2026-12-01" },
      { since: "2026-12-05", until: "2026-12-01" },
      { since: "2020-01-01", until: "2026-12-01" },
      { since: "2026-12-01" },
    ])
      expect(windowOf(bad, NOW), JSON.stringify(bad)).toMatchObject({ ...WEEK, note: expect.any(String) });
  });
});

describe("the experience page, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  const asked: ExperienceWindow[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await startTestTouchpoint({
      listen: true,
      experienceReport: async (w) => {
        asked.push(w);
        return weekReport(w);
      },
    });
    base = `http://127.0.0.1:${t.tp.port}`;
    // Two teams to choose from.
    await t.api("PUT", "/v1/advocates/adv-amara", { name: "Amara Okafor", team: "fraud", status: "offline" });
    await t.api("PUT", "/v1/advocates/adv-dara", {
      name: "Dara Disputes",
      team: "disputes",
      status: "offline",
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const signIn = (token: string, width = 1280) => signInWatching(browser, base, token, width);

  it("shows a supervisor the plots, with no console error and no serious axe violation, and filters by team", async () => {
    const { page, errors } = await signIn(await t.token("supervisor"));
    await page.click("header nav >> text=Experience");
    await page.waitForURL(`${base}/desk/experience`);
    expect(await page.locator("svg.plot[role=img]").count()).toBe(5);
    expect(await page.locator("svg.plot circle").count()).toBe(7);
    expect(await page.locator("svg.plot rect.bar").count()).toBe(14 + 2 + 2 + 2);
    // Drawn, not empty: each plot has a size on the page.
    for (const box of await page
      .locator("svg.plot")
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect())))
      expect(box.height).toBeGreaterThan(40);
    expect(await page.locator("main").textContent()).toContain("p50 4 min over 37 cases");
    const violations = await seriousViolations(page);
    expect(violations, describeViolations("/desk/experience", violations)).toEqual([]);
    await page.screenshot({ path: artefact("experience.png"), fullPage: true });

    await page.selectOption("select#team", "disputes");
    await page.click("form.picker button[type=submit]");
    await page.waitForURL(/team=disputes/);
    expect(asked.at(-1)?.team).toBe("disputes");
    expect(await page.locator("h1").textContent()).toBe("Customer experience, team disputes");
    await page.click("nav.picker >> text=30 days");
    await page.waitForURL(/team=disputes/);
    const last = asked.at(-1)!;
    expect(last.team).toBe("disputes");
    expect((last.until.getTime() - last.since.getTime()) / 86_400_000).toBe(30);
    expect(errors).toEqual([]);
  });

  it("fits a phone: at 390 px nothing is wider than the screen, and the plots shrink to fit", async () => {
    const { page, errors } = await signIn(await t.token("supervisor"), 390);
    await page.goto(`${base}/desk/experience`);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 391)
        .slice(0, 8)
        .map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`),
    );
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth),
      wide.join(", "),
    ).toBeLessThanOrEqual(390);
    expect(await page.locator("svg.plot").count()).toBe(5);
    await page.screenshot({ path: artefact("experience-390.png"), fullPage: true });
    const violations = await seriousViolations(page);
    expect(violations, describeViolations("/desk/experience at 390 px", violations)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("gives the risk team the page (case ids unlinked) and keeps advocates off it", async () => {
    const risk = await signIn(await t.token("risk"));
    expect(await risk.page.locator("header nav").textContent()).toContain("Experience");
    const res = await risk.page.goto(`${base}/desk/experience`);
    expect(res?.status()).toBe(200);
    expect(risk.page.url()).toBe(`${base}/desk/experience`);
    expect(await risk.page.locator("main a[href^='/desk/cases/']").count()).toBe(0);
    const violations = await seriousViolations(risk.page);
    expect(violations, describeViolations("/desk/experience (risk)", violations)).toEqual([]);
    expect(risk.errors).toEqual([]);

    await t.api("PUT", "/v1/advocates/adv-amara", { name: "Amara Okafor", team: "fraud", status: "offline" });
    const advocate = await signIn(await t.token("advocate", { advocateId: "adv-amara" }));
    expect(await advocate.page.locator("header nav").textContent()).not.toContain("Experience");
    const refused = await advocate.page.goto(`${base}/desk/experience`);
    expect(refused?.status()).toBe(403);
    expect(await advocate.page.locator("svg").count()).toBe(0);
  });

  it("shows a supervisor bound to a team that team's figures only, with no team to choose", async () => {
    const { page, errors } = await signIn(await t.token("supervisor", { team: "fraud" }));
    await page.goto(`${base}/desk/experience?team=disputes`);
    expect(asked.at(-1)?.team).toBe("fraud");
    expect(await page.locator("h1").textContent()).toBe("Customer experience, team fraud");
    expect(await page.locator("select#team").count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("puts each rule's customers contacted for nothing beside its precision on the Rules page, 0 when it cost none", async () => {
    const { page } = await signIn(await t.token("risk"));
    await page.goto(`${base}/desk/rules`);
    const live = page.locator("table").first();
    const headers = await live.locator("th").allTextContents();
    expect(headers.slice(-2)).toEqual(["Precision", "Contacted for nothing"]);
    const rows = await live
      .locator("tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );
    const costly = rows.find((r) => r[0] === "impossible-location-spend");
    expect(costly?.at(-1)).toBe("3 (2.4 per 1,000)");
    // A shipped live rule the report does not name cost no one.
    const others = rows.filter((r) => r[0] !== "impossible-location-spend");
    expect(others.length).toBeGreaterThan(0);
    for (const row of others) expect(row.at(-1), row[0]).toBe("0");
  });
});
