/** A hit in plain words: the story's places in local time, the rule's summary, and its checks. */
import { describe, expect, it } from "vitest";
import { defaultRuleFiles } from "../../rules/index.ts";
import { PARIS, PHNOM_PENH, tx } from "../../test/support/payments.ts";
import type { ValidationError } from "../errors.ts";
import type { TouchpointEvent } from "../events.ts";
import type { CustomerSnapshot } from "../features/state.ts";
import { computeFacts } from "./facts.ts";
import { parseRuleFile } from "./schema.ts";
import { storyOf, summarise, summaryIssues } from "./summary.ts";

const snapshot = (over: Partial<CustomerSnapshot> = {}): CustomerSnapshot => ({
  txCount1h: 1,
  txSum1h: 25,
  txCount24h: 1,
  txSum24h: 25,
  devicesBeforeLatest: 0,
  notices: [],
  recent: [],
  ...over,
});

// 09:10 in Phnom Penh (UTC+7), then 1 h 55 min later in Paris: 04:05 there (UTC+1 in November).
const paris = tx("e2", "c1", "2026-11-22T03:05:00Z", PARIS) as TouchpointEvent;
const beforeIt = snapshot({
  previousLocation: { id: "x", ...PHNOM_PENH, at: Date.parse("2026-11-22T02:10:00Z") },
});
const sophie = { id: "c1", homeCountry: "GB" };
const shipped = defaultRuleFiles().find((f) => f.rule.name === "impossible-location-spend")!.rule;
const impossible = { summary: shipped.summary, title: shipped.event.params.title };

describe("the story of a hit", () => {
  it("names both places with their own local times", () => {
    const story = storyOf(paris, beforeIt);
    expect(story.here).toMatchObject({ city: "Paris", zone: "Europe/Paris", localTime: "04:05" });
    expect(story.there).toMatchObject({ city: "Phnom Penh", zone: "Asia/Phnom_Penh", localTime: "09:10" });
  });

  it("tells the impossible journey in the rule's own words, earlier place first", () => {
    const facts = computeFacts(paris, sophie, beforeIt);
    const text = summarise(impossible, facts, storyOf(paris, beforeIt), []);
    expect(text).toBe(
      "Phnom Penh 09:10 → Paris 04:05: 9,951.7 km in 55 min, 10,856.4 km/h — faster than any flight.",
    );
  });

  it("puts the earlier place first when the neighbour came after", () => {
    const phnomPenh = tx("e1", "c1", "2026-11-22T02:10:00Z", PHNOM_PENH) as TouchpointEvent;
    const afterIt = snapshot({ nextLocation: { id: "y", ...PARIS, at: Date.parse("2026-11-22T04:05:00Z") } });
    const text = summarise(
      impossible,
      computeFacts(phnomPenh, sophie, afterIt),
      storyOf(phnomPenh, afterIt),
      [],
    );
    expect(text).toBe(
      "Phnom Penh 09:10 → Paris 05:05: 9,951.7 km in 1 h 55 min, 5,192.2 km/h — faster than any flight.",
    );
  });

  it("without a summary, says which conditions held, in words", () => {
    const facts = computeFacts(paris, sophie, beforeIt);
    const text = summarise({ title: "Far and fast" }, facts, storyOf(paris, beforeIt), [
      { fact: "event.type", operator: "equal", value: "card.transaction", factValue: "card.transaction" },
      { fact: "travel.speedKmh", operator: "greaterThan", value: 900, factValue: 10920.4 },
      { fact: "event.channel", operator: "in", value: ["card_present", "atm"], factValue: "card_present" },
    ]);
    expect(text).toBe(
      "Phnom Penh 09:10 → Paris 04:05: travel.speedKmh 10,920.4 (over 900); event.channel card_present (one of card_present, atm)",
    );
  });

  it("falls back to the title when nothing else can be said", () => {
    const login = {
      id: "l1",
      type: "login",
      occurredAt: "2026-11-22T02:10:00Z",
      customerId: "c1",
    } as TouchpointEvent;
    expect(summarise({ title: "Odd login" }, computeFacts(login, sophie, snapshot()), {}, [])).toBe(
      "Odd login",
    );
  });
});

describe("the shipped rules' sentences", () => {
  it("render every name they use: a grouped fact is never hidden by a story word", () => {
    const bangkok = tx(
      "v1",
      "c1",
      "2026-11-22T03:05:00Z",
      { city: "Bangkok", country: "TH", lat: 13.75, lon: 100.5 },
      {
        amount: { value: 99.99, currency: "THB" },
      },
    ) as TouchpointEvent;
    const s = snapshot({ txCount1h: 6, txSum24h: 5400.5 });
    const facts = computeFacts(bangkok, { id: "c1", homeCountry: "FR" }, s);
    const velocity = defaultRuleFiles().find((f) => f.rule.name === "card-velocity-burst")!.rule;
    const text = summarise({ summary: velocity.summary, title: "x" }, facts, storyOf(bangkok, s), []);
    expect(text).toMatch(
      /^6 card payments within an hour and 5,400\.5 EUR within a day; this one 99\.99 THB at Shop\.$/,
    );
  });

  it("leave out the local time when the payment has no place", () => {
    const noPlace = {
      ...(tx("v2", "c1", "2026-11-22T03:05:00Z", PARIS) as TouchpointEvent & { merchant: object }),
      merchant: { name: "Kiosk", country: "TH" },
    } as TouchpointEvent;
    const foreign = defaultRuleFiles().find(
      (f) => f.rule.name === "foreign-spend-without-travel-notice",
    )!.rule;
    const facts = computeFacts(noPlace, { id: "c1", homeCountry: "FR" }, snapshot());
    expect(summarise({ summary: foreign.summary, title: "x" }, facts, storyOf(noPlace, snapshot()), [])).toBe(
      "25 EUR at Kiosk in TH, away from home (FR) with no travel notice covering it.",
    );
  });
});

describe("checking a summary", () => {
  const guess = (n: string) => (n === "travel.speedkmh" ? "travel.speedKmh" : undefined);

  it("accepts facts and story words, in sections too", () => {
    expect(
      summaryIssues("{{route}} {{#travel.otherCity}}from {{travel.otherCity}}{{/travel.otherCity}}", guess),
    ).toEqual([]);
  });

  it("names an unknown name, with a guess when there is one", () => {
    expect(summaryIssues("{{travel.speedkmh}} and {{nonsense}}", guess)).toEqual([
      'unknown name "travel.speedkmh" in the summary; did you mean "travel.speedKmh"?',
      'unknown name "nonsense" in the summary; use a fact or one of here, there, route, gap, payment, shop, title',
    ]);
  });

  it("reports a template Mustache cannot read, and refuses partials", () => {
    expect(summaryIssues("{{#route}} never closed", guess)[0]).toMatch(/Unclosed section "route"/);
    expect(summaryIssues("{{> other}}", guess)).toEqual([
      'partials ("{{> other}}") are not available in a summary',
    ]);
  });

  it("is checked with the rule file, naming the path", () => {
    const file = { rule: { ...shipped, summary: "{{travel.speedkmh}} km/h" }, tests: [] };
    let issues: unknown;
    try {
      parseRuleFile(file);
    } catch (err) {
      issues = (err as ValidationError).issues;
    }
    expect(issues).toEqual([
      expect.objectContaining({
        path: "rule.summary",
        message: 'unknown name "travel.speedkmh" in the summary; did you mean "travel.speedKmh"?',
      }),
    ]);
  });
});
