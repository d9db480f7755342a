/**
 * Where and when, for facts: the time zone at a place (tz-lookup on coordinates, else the
 * country's one zone), the local hour and weekday there and its offset from UTC, a country's
 * centroid and currency (world-countries). Pure; the zone formatters are built once per zone.
 */
import { createRequire } from "node:module";
import { getCountry } from "countries-and-timezones";
import { DateTime } from "luxon";
import tzlookup from "tz-lookup";
import type { Country } from "world-countries";

// A CommonJS module of JSON whose types say ES default export: required as it is.
const countries = createRequire(import.meta.url)("world-countries") as Country[];
const byCode = new Map(countries.map((c) => [c.cca2, c]));

/** The zone of a place: from its coordinates, else its country's only zone; undefined when neither says. */
export function zoneAt(place: { lat?: number; lon?: number; country?: string | null }): string | undefined {
  if (place.lat !== undefined && place.lon !== undefined) {
    try {
      return tzlookup(place.lat, place.lon);
    } catch {
      // Coordinates tz-lookup cannot place: the country may still say.
    }
  }
  const zones = place.country ? (getCountry(place.country)?.timezones ?? []) : [];
  // A country of several zones (US, RU, AU…) does not say which hour it is there.
  return zones.length === 1 ? zones[0] : undefined;
}

const clocks = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * The wall clock at instant `ms` in `zone`: hour 0–23, ISO weekday 1 (Monday) – 7 (Sunday), "HH:mm".
 * From the zone's offset in that hour of UTC time when one offset holds for all of it (every hour
 * but those a change of offset falls in), else from the zone's formatter.
 */
export function localClock(ms: number, zone: string): { hour: number; weekday: number; time: string } {
  const offset = hourOffset(ms, zone);
  if (offset === undefined) return clockByParts(ms, zone);
  const local = ms + offset;
  const minuteOfDay = Math.floor(modulo(local, DAY_MS) / MINUTE_MS);
  const hour = Math.floor(minuteOfDay / 60);
  return {
    hour,
    // 1 January 1970 was a Thursday: ISO weekday 4.
    weekday: modulo(Math.floor(local / DAY_MS) + 3, 7) + 1,
    time: `${twoDigits(hour)}:${twoDigits(minuteOfDay % 60)}`,
  };
}

/** The wall clock as the zone's formatter gives it: the reference `localClock` answers as. */
export function clockByParts(ms: number, zone: string): { hour: number; weekday: number; time: string } {
  const f = formatter(clocks, "en-GB", zone, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(ms)) parts[p.type] = p.value;
  return {
    hour: Number(parts.hour),
    weekday: WEEKDAY[parts.weekday!] ?? 0,
    time: `${parts.hour}:${parts.minute}`,
  };
}

/** A zone's formatter of these fields on a 24-hour clock, made once per zone and kept in `cache`. */
function formatter(
  cache: Map<string, Intl.DateTimeFormat>,
  locale: string,
  zone: string,
  fields: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  let f = cache.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { ...fields, timeZone: zone, hourCycle: "h23" });
    cache.set(zone, f);
  }
  return f;
}

const modulo = (a: number, n: number) => ((a % n) + n) % n;
const twoDigits = (n: number) => (n < 10 ? `0${n}` : String(n));

/*
 * A formatter's parts cost ~2.5 µs and a dozen objects a call, once per event for its local hour.
 * A zone's offset changes a few times a year, so it is kept by hour of UTC time: the offset at the
 * hour's first and last millisecond, when they agree (no zone changes twice within an hour), else
 * nothing, and that hour is read from the formatter each time. Only for 1980–2100: earlier
 * offsets carry seconds (local mean time) and are not worth keeping.
 */
const offsets = new Map<string, Map<number, number>>();
/** Hours kept per zone at most: past it the zone's are dropped and kept afresh. */
const HOURS_HELD = 20_000;
const KEPT_FROM = Date.UTC(1980, 0, 1);
const KEPT_TO = Date.UTC(2100, 0, 1);
const offsetFormats = new Map<string, Intl.DateTimeFormat>();

function hourOffset(ms: number, zone: string): number | undefined {
  if (!(ms >= KEPT_FROM && ms < KEPT_TO)) return undefined;
  let byHour = offsets.get(zone);
  if (!byHour) {
    byHour = new Map();
    offsets.set(zone, byHour);
  }
  const h = Math.floor(ms / HOUR_MS);
  let offset = byHour.get(h);
  if (offset === undefined) {
    const first = offsetAt(h * HOUR_MS, zone);
    offset = first === offsetAt(h * HOUR_MS + HOUR_MS - 1, zone) ? first : Number.NaN;
    if (byHour.size >= HOURS_HELD) byHour.clear();
    byHour.set(h, offset);
  }
  return Number.isNaN(offset) ? undefined : offset;
}

/** The zone's offset from UTC at instant `ms`, ms (to the second). */
function offsetAt(ms: number, zone: string): number {
  const f = formatter(offsetFormats, "en-US", zone, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - (ms - modulo(ms, 1000));
}

/**
 * The zone's offset from UTC at instant `ms`, as people read it: "UTC+7", "UTC+5:30", "UTC-3",
 * "UTC". An offset, not an abbreviation: "CST" names three zones, and most zones have none.
 * Taken at the instant, so daylight saving is counted (Paris is UTC+2 in July, UTC+1 in November).
 */
export function utcOffset(ms: number, zone: string): string {
  const minutes = DateTime.fromMillis(ms, { zone }).offset;
  if (!Number.isFinite(minutes) || minutes === 0) return "UTC";
  const abs = Math.abs(minutes);
  const m = abs % 60;
  return `UTC${minutes < 0 ? "-" : "+"}${Math.floor(abs / 60)}${m ? `:${String(m).padStart(2, "0")}` : ""}`;
}

/** A country's centroid (world-countries), for distances when a customer's home address is not known. */
export function countryCentroid(country: string): { lat: number; lon: number } | undefined {
  const c = byCode.get(country.toUpperCase());
  return c && c.latlng.length === 2 ? { lat: c.latlng[0]!, lon: c.latlng[1]! } : undefined;
}

/** A country's (first) currency, ISO 4217. */
export function countryCurrency(country: string): string | undefined {
  const c = byCode.get(country.toUpperCase());
  return c ? Object.keys(c.currencies ?? {})[0] : undefined;
}
