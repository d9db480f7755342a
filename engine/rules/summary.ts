/**
 * The story of a hit, in plain words: each rule may carry a `summary`, a Mustache template over
 * its facts (`{{travel.distanceKm}}`) and a few story words (`{{route}}`, `{{gap}}`, …) that say
 * where and when in the places' own time. It is rendered once, when the rule fires, and kept with
 * the decision, so the desk shows what the rule saw then. A rule without one gets a sentence made
 * from the conditions that held. Pure.
 */
import Mustache from "mustache";
import { eventLocation, type TouchpointEvent } from "../events.ts";
import { localClock, utcOffset, zoneAt } from "../features/places.ts";
import type { CustomerSnapshot, LocationMark } from "../features/state.ts";
import { FACTS, type Facts, travelNeighbour } from "./facts.ts";

/** A place of the story: where an event happened and what the clock said there. */
export interface StoryPlace {
  city: string | null;
  country: string;
  lat: number;
  lon: number;
  /** ISO instant. */
  at: string;
  zone: string | null;
  /** "HH:mm" in `zone` (UTC when the zone is unknown). */
  localTime: string;
  /** `zone`'s offset at `at`: "UTC+7". Absent from stories stored before it was kept (derived then). */
  offset?: string;
}

/** What a hit's story is made of besides its facts: the event's place and its travel neighbour's. */
export interface Story {
  here?: StoryPlace;
  there?: StoryPlace;
}

/** The words a summary may use besides facts, with what they say (listed for the risk team). */
export const STORY_WORDS = {
  here: "Where and when this event happened, in local time with its offset: `Paris 04:05 (UTC+1)`.",
  there: "The other card-present payment of `travel.*`, the same way: `Phnom Penh 09:10 (UTC+7)`.",
  route:
    "The two, earlier first, and how long after: `Phnom Penh 09:10 (UTC+7) → Paris 04:05 (UTC+1), 55 min later` (one offset: none shown).",
  gap: "The time between them: `1 h 55 min`.",
  payment: "This payment's amount with its currency: `2,300 EUR`, `99.99 GBP`.",
  shop: "This payment's merchant, by name.",
  title: "The rule's title.",
} as const;

const known = new Set<string>([...Object.keys(FACTS), ...Object.keys(STORY_WORDS)]);

function placeOf(
  p: { lat: number; lon: number; country: string; city?: string | undefined },
  at: number,
): StoryPlace {
  const zone = zoneAt(p) ?? null;
  return {
    city: p.city ?? null,
    country: p.country,
    lat: p.lat,
    lon: p.lon,
    at: new Date(at).toISOString(),
    zone,
    localTime: localClock(at, zone ?? "UTC").time,
    offset: utcOffset(at, zone ?? "UTC"),
  };
}

/** The places of a hit's story, from the event and the state it was evaluated with. */
export function storyOf(e: TouchpointEvent, s: CustomerSnapshot): Story {
  const t = Date.parse(e.occurredAt);
  const loc = eventLocation(e);
  if (!loc) return {};
  const here = placeOf(loc, t);
  const physical = e.type === "card.transaction" && e.channel !== "ecommerce";
  const other: LocationMark | undefined = physical ? travelNeighbour(loc, t, s)?.other : undefined;
  return other ? { here, there: placeOf(other, other.at) } : { here };
}

/** A number as people write it: grouped, at most two decimals (money, hours and km alike). */
/** One formatter for every figure: `toLocaleString` with options builds a new one per call. */
const figures = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 2 });
const number = (n: number) => figures.format(n);

function gapText(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h >= 48) return `${Math.round(h / 24)} days`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

const offsetOf = (p: StoryPlace) => p.offset ?? utcOffset(Date.parse(p.at), p.zone ?? "UTC");

/** A place of the story as the advocate reads it: `Paris 04:05 (UTC+1)`; without the offset on request. */
export function placeText(p: StoryPlace, withOffset = true): string {
  const where = `${p.city ?? p.country} ${p.localTime}`;
  return withOffset ? `${where} (${offsetOf(p)})` : where;
}

/**
 * The journey, earlier place first, and how long after the first the second was, from the two
 * instants: local clocks alone can read backwards (Phnom Penh 09:10, then Paris 04:05), so each
 * carries its offset. Two places on one offset cannot, so theirs is left out. Undefined without both.
 */
export function routeText(story: Story): string | undefined {
  const { here, there } = story;
  if (!here || !there) return undefined;
  const [first, second] = Date.parse(there.at) <= Date.parse(here.at) ? [there, here] : [here, there];
  const offsets = offsetOf(first) !== offsetOf(second);
  const gap = gapText(Date.parse(second.at) - Date.parse(first.at));
  return `${placeText(first, offsets)} → ${placeText(second, offsets)}, ${gap} later`;
}

/** The template's view: facts (numbers in words), nested by their dots, and the story words. */
function viewOf(facts: Facts, story: Story, title: string): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(facts)) {
    if (name === "event" || value === null || value === undefined) continue;
    const parts = name.split(".");
    let node = view;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = typeof value === "number" ? number(value) : value;
  }
  const e = facts.event as TouchpointEvent | undefined;
  if (e?.type === "card.transaction") {
    view.payment = `${number(e.amount.value)} ${e.amount.currency}`;
    view.shop = e.merchant.name;
  }
  const { here, there } = story;
  if (here) view.here = placeText(here);
  if (there) view.there = placeText(there);
  if (here && there) {
    view.route = routeText(story);
    view.gap = gapText(Date.parse(here.at) - Date.parse(there.at));
  }
  view.title = title;
  return view;
}

/** Problems of a summary template: unknown names (with a did-you-mean) and Mustache's own errors. */
export function summaryIssues(template: string, didYouMean: (s: string) => string | undefined): string[] {
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(template);
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
  const issues: string[] = [];
  const walk = (list: unknown[]) => {
    for (const t of list as Array<[string, string, number, number, unknown[]?]>) {
      const [type, name] = t;
      if (type === "name" || type === "&" || type === "#" || type === "^") {
        if (!known.has(name)) {
          const guess = didYouMean(name);
          issues.push(
            `unknown name "${name}" in the summary${guess ? `; did you mean "${guess}"?` : "; use a fact or one of here, there, route, gap, payment, shop, title"}`,
          );
        }
      } else if (type === ">") issues.push(`partials ("{{> ${name}}}") are not available in a summary`);
      if (Array.isArray(t[4])) walk(t[4]);
    }
  };
  walk(tokens);
  return issues;
}

/** Every name a summary may use, for did-you-mean. */
export const SUMMARY_NAMES: readonly string[] = [...known];

const WORDS: Record<string, string> = {
  equal: "is",
  notEqual: "is not",
  lessThan: "under",
  lessThanInclusive: "at most",
  greaterThan: "over",
  greaterThanInclusive: "at least",
  in: "one of",
  notIn: "none of",
  contains: "contains",
  doesNotContain: "does not contain",
};

export interface Held {
  fact: string;
  operator: string;
  value: unknown;
  factValue: unknown;
}

const shown = (v: unknown) =>
  typeof v === "number" ? number(v) : Array.isArray(v) ? v.join(", ") : v === null ? "nothing" : String(v);

/** One condition that held, in words: `travel.speedKmh was 5,191 (over 900)`. */
export function conditionInWords(h: Held): string {
  return `${h.fact} was ${shown(h.factValue)} (${WORDS[h.operator] ?? h.operator} ${shown(h.value)})`;
}

/**
 * The sentence of a hit: its rule's summary rendered over the facts and story, or, without one,
 * the conditions that held in words ("travel.speedKmh 5,191 (over 900)"), after the story's route.
 */
export function summarise(
  rule: { summary?: string | undefined; title: string },
  facts: Facts,
  story: Story,
  held: readonly Held[],
): string {
  const view = viewOf(facts, story, rule.title);
  if (rule.summary) {
    try {
      return Mustache.render(rule.summary, view, {}, { escape: (s: string) => s })
        .replace(/\s+/g, " ")
        .trim();
    } catch {
      // A template that validated cannot fail to render; if one does, the default still says why.
    }
  }
  const conditions = held
    .filter((h) => h.fact !== "event.type")
    .map((h) => `${h.fact} ${shown(h.factValue)} (${WORDS[h.operator] ?? h.operator} ${shown(h.value)})`);
  const lead =
    typeof view.route === "string"
      ? `${view.route}: `
      : typeof view.here === "string"
        ? `${view.here}: `
        : "";
  return `${lead}${conditions.join("; ")}`.trim() || rule.title;
}
