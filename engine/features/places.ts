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

/** The wall clock at instant `ms` in `zone`: hour 0–23, ISO weekday 1 (Monday) – 7 (Sunday), "HH:mm". */
export function localClock(ms: number, zone: string): { hour: number; weekday: number; time: string } {
  let f = clocks.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hourCycle: "h23",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
    });
    clocks.set(zone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(ms)) parts[p.type] = p.value;
  return {
    hour: Number(parts.hour),
    weekday: WEEKDAY[parts.weekday!] ?? 0,
    time: `${parts.hour}:${parts.minute}`,
  };
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
