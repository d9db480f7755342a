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

// 09:10 in Phnom Penh (UTC+7), then 55 min later in Paris: 04:05 there (UTC+1 in November).
const paris = tx("e2", "c1", "2026-11-22T03:05:00Z", PARIS) as TouchpointEvent;
const beforeIt = snapshot({
  previousLocation: { id: "x", ...PHNOM_PENH, at: Date.parse("2026-11-22T02:10:00Z") },
});
const sophie = { id: "c1", homeCountry: "GB" };
const shipped = defaultRuleFiles().find((f) => f.rule.name === "impossible-location-spend")!.rule;
const impossible = { summary: shipped.summary, title: shipped.event.params.title };

describe("the story of a hit", () => {
  it("names both places with their own local times and offsets", () => {
    const story = storyOf(paris, beforeIt);
    expect(story.here).toMatchObject({
      city: "Paris",
      zone: "Europe/Paris",
      localTime: "04:05",
      offset: "UTC+1",
    });
    expect(story.there).toMatchObject({
      city: "Phnom Penh",
      zone: "Asia/Phnom_Penh",
      localTime: "09:10",
      offset: "UTC+7",
    });
  });

  it("tells the impossible journey in the rule's own words, earlier place first", () => {
    const facts = computeFacts(paris, sophie, beforeIt);
    const text = summarise(impossible, facts, storyOf(paris, beforeIt), []);
    expect(text).toBe(
      "Phnom Penh 09:10 (UTC+7) → Paris 04:05 (UTC+1), 55 min later: 9,951.7 km, 10,856.4 km/h — faster than any flight.",
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
      "Phnom Penh 09:10 (UTC+7) → Paris 05:05 (UTC+1), 1 h 55 min later: 9,951.7 km, 5,192.2 km/h — faster than any flight.",
    );
  });

  it("gives each place its offset and how long after the second was, when the local clocks read backwards", () => {
    // Paris at 12:05 was 1 h 55 min after Phnom Penh at 16:10: the bare clocks say the opposite.
    const at1205 = tx("e3", "c1", "2026-11-22T11:05:00Z", PARIS) as TouchpointEvent;
    const at1610 = snapshot({
      previousLocation: { id: "x", ...PHNOM_PENH, at: Date.parse("2026-11-22T09:10:00Z") },
    });
    const text = summarise(
      { summary: "{{route}}", title: "x" },
      computeFacts(at1205, sophie, at1610),
      storyOf(at1205, at1610),
      [],
    );
    expect(text).toBe("Phnom Penh 16:10 (UTC+7) → Paris 12:05 (UTC+1), 1 h 55 min later");
  });

  it("counts daylight saving: a clock put back an hour between the two shows the offset it read", () => {
    // Paris and Lyon share Europe/Paris, which went from UTC+2 to UTC+1 at 01:00Z on 25 October 2026.
    const lyon = { city: "Lyon", country: "FR", lat: 45.764, lon: 4.8357 };
    const after = tx("d2", "c1", "2026-10-25T01:20:00Z", PARIS) as TouchpointEvent;
    const before = snapshot({
      previousLocation: { id: "d1", ...lyon, at: Date.parse("2026-10-25T00:40:00Z") },
    });
    const text = summarise(
      { summary: "{{route}}", title: "x" },
      computeFacts(after, sophie, before),
      storyOf(after, before),
      [],
    );
    expect(text).toBe("Lyon 02:40 (UTC+2) → Paris 02:20 (UTC+1), 40 min later");
  });

  it("leaves the offset out when both places read the same one, and still says how long after", () => {
    const lyon = { city: "Lyon", country: "FR", lat: 45.764, lon: 4.8357 };
    const after = tx("s2", "c1", "2026-11-22T10:05:00Z", PARIS) as TouchpointEvent;
    const before = snapshot({
      previousLocation: { id: "s1", ...lyon, at: Date.parse("2026-11-22T08:10:00Z") },
    });
    const text = summarise(
      { summary: "{{route}}", title: "x" },
      computeFacts(after, sophie, before),
      storyOf(after, before),
      [],
    );
    expect(text).toBe("Lyon 09:10 → Paris 11:05, 1 h 55 min later");
  });

  it("gives a story stored before offsets were kept its offsets, from its zone and instant", () => {
    const { here, there } = storyOf(paris, beforeIt);
    const { offset: _h, ...oldHere } = here!;
    const { offset: _t, ...oldThere } = there!;
    const facts = computeFacts(paris, sophie, beforeIt);
    expect(
      summarise({ summary: "{{route}}", title: "x" }, facts, { here: oldHere, there: oldThere }, []),
    ).toBe("Phnom Penh 09:10 (UTC+7) → Paris 04:05 (UTC+1), 55 min later");
  });

  it("without a summary, says which conditions held, in words", () => {
    const facts = computeFacts(paris, sophie, beforeIt);
    const text = summarise({ title: "Far and fast" }, facts, storyOf(paris, beforeIt), [
      { fact: "event.type", operator: "equal", value: "card.transaction", factValue: "card.transaction" },
      { fact: "travel.speedKmh", operator: "greaterThan", value: 900, factValue: 10920.4 },
      { fact: "event.channel", operator: "in", value: ["card_present", "atm"], factValue: "card_present" },
    ]);
    expect(text).toBe(
      "Phnom Penh 09:10 (UTC+7) → Paris 04:05 (UTC+1), 55 min later: travel.speedKmh 10,920.4 (over 900); event.channel card_present (one of card_present, atm)",
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

  it("give a payment abroad its local time with the offset", () => {
    const foreign = defaultRuleFiles().find(
      (f) => f.rule.name === "foreign-spend-without-travel-notice",
    )!.rule;
    const facts = computeFacts(paris, { id: "c1", homeCountry: "GB" }, snapshot());
    expect(summarise({ summary: foreign.summary, title: "x" }, facts, storyOf(paris, snapshot()), [])).toBe(
      "25 EUR at Shop in FR, Paris 04:05 (UTC+1), away from home (GB) with no travel notice covering it.",
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
