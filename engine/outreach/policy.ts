/**
 * The contact policy: whether a proactive text goes now, waits for the customer's morning, or not
 * at all, with the reason in words. Quiet hours are judged in the customer's *current* local time
 * (the zone of their latest located event), falling back to their home zone, then to every zone of
 * their home country. Pure: time comes in as a value.
 */
import { getCountry } from "countries-and-timezones";
import { DateTime, IANAZone } from "luxon";
import tzlookup from "tz-lookup";
import { ValidationError } from "../errors.ts";
import type { Severity } from "../rules/schema.ts";

export interface PolicyConfig {
  /** Local hour (0-23) from which lower severities wait, inclusive. Default 21. */
  quietStartHour: number;
  /** Local hour (0-23) when texting may start again, on the hour. Default 8. */
  quietEndHour: number;
  /** Most proactive texts for one incident (FCC 15-72 allows 3 per event). */
  maxPerIncident: number;
  /** Most proactive texts to one customer over the last 3 days. */
  maxPer3Days: number;
}

export const DEFAULT_POLICY: Readonly<PolicyConfig> = Object.freeze({
  quietStartHour: 21,
  quietEndHour: 8,
  maxPerIncident: 3,
  maxPer3Days: 3,
});

export interface ContactInput {
  now: Date;
  severity: Severity;
  /** `homeTimezone` is IANA; `homeCountry` ISO 3166 alpha-2. */
  customer: { homeTimezone?: string; homeCountry: string; optedOut: boolean };
  /** The customer's latest located event (degrees), and when it happened. */
  currentLocation?: { lat: number; lon: number; at: Date };
  /** Proactive texts already sent for this incident. */
  sentForIncident: number;
  /** Proactive texts already sent to this customer over the last 3 days. */
  sentToCustomerLast3Days: number;
  config: PolicyConfig;
}

export interface ContactDecision {
  action: "send" | "defer" | "suppress";
  /** For the timeline: what was decided and why, naming the zone and the local time. */
  reason: string;
  /** For `defer`: the end of quiet hours in the customer's zone, as an instant. */
  notBefore?: Date;
  /** IANA zone the decision was judged in. */
  timezone: string;
  /** Local time there at `now`, "HH:mm". */
  localTime: string;
}

/** Where the customer is now: the zones they may be in (one, unless only their country is known), and how we know. */
export function currentZones(input: Pick<ContactInput, "customer" | "currentLocation" | "now">): {
  zones: string[];
  source: string;
} {
  const loc = input.currentLocation;
  if (loc) {
    try {
      return { zones: [tzlookup(loc.lat, loc.lon)], source: `latest location, ${ago(loc.at, input.now)}` };
    } catch {
      // Coordinates tz-lookup cannot place: fall through to home.
    }
  }
  const home = input.customer.homeTimezone;
  if (home && IANAZone.isValidZone(home)) return { zones: [home], source: "home time zone" };
  const country = input.customer.homeCountry.toUpperCase();
  const zones = (getCountry(country)?.timezones ?? []).filter((z) => IANAZone.isValidZone(z));
  // A country with several zones (US, RU, AU…): we do not know which one they are in, so quiet
  // hours hold if they hold in any of them. Picking one (the library lists them alphabetically:
  // America/Adak for the US, Asia/Anadyr for Russia) would text people in the night.
  if (zones.length > 1)
    return { zones, source: `home country ${country}, judged in all ${zones.length} of its zones` };
  if (zones.length === 1) return { zones, source: `home country ${country}` };
  return { zones: ["UTC"], source: `no zone known for ${country || "an unknown country"}` };
}

function ago(at: Date, now: Date): string {
  const minutes = Math.max(0, Math.round((now.getTime() - at.getTime()) / 60_000));
  if (minutes < 90) return `${minutes} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} days ago`;
}

function inQuietHours(hour: number, c: PolicyConfig): boolean {
  return c.quietStartHour > c.quietEndHour
    ? hour >= c.quietStartHour || hour < c.quietEndHour
    : hour >= c.quietStartHour && hour < c.quietEndHour;
}

/** The next quietEndHour:00 strictly after `local`, in its zone (DST-aware: luxon keeps wall time across days). */
function nextMorning(local: DateTime, endHour: number): DateTime {
  const today = local.set({ hour: endHour, minute: 0, second: 0, millisecond: 0 });
  return today > local
    ? today
    : local.plus({ days: 1 }).set({ hour: endHour, minute: 0, second: 0, millisecond: 0 });
}

function checkConfig(c: PolicyConfig): void {
  const hours = { quietStartHour: c.quietStartHour, quietEndHour: c.quietEndHour };
  const bad = Object.entries(hours).filter(([, h]) => !Number.isInteger(h) || h < 0 || h > 23);
  if (bad.length > 0)
    throw new ValidationError(
      "quiet hours must be whole hours 0-23",
      bad.map(([path]) => ({ path, message: "an integer from 0 to 23" })),
    );
}

const hh = (h: number) => `${String(h).padStart(2, "0")}:00`;

/** Decides one proactive text: opt-out first, then the caps, then quiet hours in the customer's local time. */
export function decideContact(input: ContactInput): ContactDecision {
  const c = input.config;
  checkConfig(c);
  const { zones, source } = currentZones(input);
  // Westmost first, so reports are stable; for one zone this is just that zone.
  const locals = zones
    .map((zone) => ({ zone, local: DateTime.fromJSDate(input.now, { zone }) }))
    .sort((a, b) => a.local.offset - b.local.offset || a.zone.localeCompare(b.zone));
  const quiet = locals.filter(({ local }) => inQuietHours(local.hour, c));
  const at = ({ zone, local }: { zone: string; local: DateTime }) => ({
    timezone: zone,
    localTime: local.toFormat("HH:mm"),
    where: `${local.toFormat("HH:mm")} in ${zone} (${source})`,
  });
  const first = quiet[0] ?? locals[0];
  if (!first) throw new Error("no zone to judge in"); // currentZones always gives one
  const { where, ...base } = at(first);

  if (input.customer.optedOut)
    return { ...base, action: "suppress", reason: `opted out (STOP): no texts at any severity; ${where}` };
  if (input.sentForIncident >= c.maxPerIncident)
    return {
      ...base,
      action: "suppress",
      reason: `incident cap reached: ${input.sentForIncident} texts already for this incident (max ${c.maxPerIncident}); ${where}`,
    };
  if (input.sentToCustomerLast3Days >= c.maxPer3Days)
    return {
      ...base,
      action: "suppress",
      reason: `3-day cap reached: ${input.sentToCustomerLast3Days} texts to this customer in 3 days (max ${c.maxPer3Days}); ${where}`,
    };

  const window = `${hh(c.quietStartHour)}-${hh(c.quietEndHour)}`;
  if (quiet.length === 0)
    return {
      ...base,
      action: "send",
      reason: `${where}: outside quiet hours (${window}), ${input.severity} severity sends now`,
    };
  if (input.severity === "high")
    return {
      ...base,
      action: "send",
      reason: `quiet hours: ${where}, but high severity is texted at any hour`,
    };

  // Wait for the zone whose morning comes last; by then a zone that was awake may have gone
  // quiet, so look again from there, until a time is quiet nowhere (a few steps; a country whose
  // zones are never all awake at once keeps the last morning found, and is judged again then).
  let waits = quiet.map((q) => ({ q, morning: nextMorning(q.local, c.quietEndHour) }));
  let last = waits.reduce((a, b) => (b.morning.toMillis() > a.morning.toMillis() ? b : a));
  const governing = at(last.q);
  for (let step = 0; step < 6; step++) {
    const then = last.morning.toJSDate();
    const still = locals
      .map(({ zone }) => ({ zone, local: DateTime.fromJSDate(then, { zone }) }))
      .filter(({ local }) => inQuietHours(local.hour, c));
    if (still.length === 0) break;
    waits = still.map((q) => ({ q, morning: nextMorning(q.local, c.quietEndHour) }));
    last = waits.reduce((a, b) => (b.morning.toMillis() > a.morning.toMillis() ? b : a));
  }
  return {
    timezone: governing.timezone,
    localTime: governing.localTime,
    action: "defer",
    notBefore: last.morning.toJSDate(),
    reason: `quiet hours: ${governing.where}, ${input.severity} severity waits until ${hh(c.quietEndHour)} local (${last.morning.toUTC().toISO({ suppressMilliseconds: true })})`,
  };
}
