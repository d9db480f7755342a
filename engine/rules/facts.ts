/**
 * The facts a rule can use: one documented catalogue, and the pure function that computes them
 * for an event from the customer's profile and their Redis state snapshot.
 */

import { eventLocation, type TouchpointEvent } from "../events.ts";
import { distanceKm, type Point, speedKmh } from "../features/geo.ts";
import { convert, defaultFxTable, type FxTable } from "../features/money.ts";
import { countryCentroid, countryCurrency, localClock, zoneAt } from "../features/places.ts";
import type { CustomerSnapshot, LocationMark } from "../features/state.ts";

export type FactKind = "number" | "string" | "boolean" | "object";

export interface FactDoc {
  kind: FactKind;
  /** What a number counts or measures (km, hours, payments). */
  unit?: string;
  /** Whether the fact can be null (e.g. no previous location); comparisons with null are false. */
  nullable: boolean;
  doc: string;
}

/** Every fact a rule may name. Rules naming anything else are rejected at validation. */
export const FACTS = {
  event: {
    kind: "object",
    nullable: false,
    doc: "The raw event as ingested; use `path` (e.g. `$.merchant.mcc`).",
  },
  "event.type": { kind: "string", nullable: false, doc: "Event type, e.g. `card.transaction`, `login`." },
  "event.channel": {
    kind: "string",
    nullable: true,
    doc: "`card_present`, `ecommerce` or `atm` for card transactions.",
  },
  "event.country": {
    kind: "string",
    nullable: true,
    doc: "ISO country where the event happened (merchant or geo).",
  },
  "event.timezone": {
    kind: "string",
    nullable: true,
    doc: "IANA zone where the event happened: from its coordinates, else its country's only zone; for an online payment (or an event with no place) the customer's own zone.",
  },
  "event.localHour": {
    kind: "number",
    unit: "hour of the day, 0-23",
    nullable: true,
    doc: 'The hour on the clock where the event happened (in `event.timezone`): write "at night" as `in [0, 1, 2, 3, 4, 5]`.',
  },
  "event.localWeekday": {
    kind: "number",
    unit: "ISO weekday, 1 = Monday … 7 = Sunday",
    nullable: true,
    doc: "The day of the week where the event happened (in `event.timezone`).",
  },
  "amount.value": {
    kind: "number",
    unit: "currency units (major)",
    nullable: true,
    doc: "Transaction amount in the currency's major unit.",
  },
  "amount.currency": { kind: "string", nullable: true, doc: "ISO 4217 currency of the transaction." },
  "amount.home": {
    kind: "number",
    unit: "the customer's home currency (major)",
    nullable: true,
    doc: "The amount in the customer's home currency (their home country's), at the rates table's rates (PUT /v1/fx-rates; a shipped default until then). Null for an unknown customer or a currency with no rate.",
  },
  "amount.homeCurrency": {
    kind: "string",
    nullable: true,
    doc: "ISO 4217 currency of `amount.home`: the customer's home country's.",
  },
  "amount.ratesAsOf": {
    kind: "string",
    nullable: true,
    doc: "Date (YYYY-MM-DD) of the rates `amount.home` used (the older, when two were); null when no conversion was needed. Every decision on a converted payment records it.",
  },
  "merchant.mcc": { kind: "string", nullable: true, doc: "Merchant category code." },
  "customer.known": {
    kind: "boolean",
    nullable: false,
    doc: "The customer exists in touchpoint (has a profile).",
  },
  "customer.homeCountry": { kind: "string", nullable: true, doc: "The customer's home country." },
  "customer.isAbroad": {
    kind: "boolean",
    nullable: false,
    doc: "The event happened outside the home country.",
  },
  "customer.distanceFromHomeKm": {
    kind: "number",
    unit: "km",
    nullable: true,
    doc: "km from the customer's home (their address's coordinates when the bank gave them, else their home country's centroid) to where the event happened. Null without a location.",
  },
  "customer.hasTravelNotice": {
    kind: "boolean",
    nullable: false,
    doc: "A travel notice covers the event's country at the event's time.",
  },
  "travel.distanceKm": {
    kind: "number",
    unit: "km",
    nullable: true,
    doc: "km to the other card-present location of `travel.speedKmh`: of the nearest-in-time payments before and after (in event time), the one that needs the greater speed.",
  },
  "travel.speedKmh": {
    kind: "number",
    unit: "km/h",
    nullable: true,
    doc: "km/h needed to travel between this payment and its nearest-in-time neighbours; the larger of the two.",
  },
  "travel.hoursBetween": {
    kind: "number",
    unit: "hours",
    nullable: true,
    doc: "Hours between this event and that neighbour.",
  },
  "travel.otherCity": { kind: "string", nullable: true, doc: "City of that neighbour." },
  "travel.otherCountry": { kind: "string", nullable: true, doc: "Country of that neighbour." },
  "velocity.count1h": {
    kind: "number",
    unit: "payments",
    nullable: false,
    doc: "Card transactions in the busiest 1-hour window containing this one (itself included).",
  },
  "velocity.sum1h": {
    kind: "number",
    unit: "the customer's home currency (major)",
    nullable: false,
    doc: "The largest sum of amounts, in the customer's home currency (a payment in a currency with no rate counts as it is), over any 1-hour window containing this payment (maximised on its own, so not always count1h's window).",
  },
  "velocity.count24h": {
    kind: "number",
    unit: "payments",
    nullable: false,
    doc: "As count1h, over 24 hours.",
  },
  "velocity.sum24h": {
    kind: "number",
    unit: "the customer's home currency (major)",
    nullable: false,
    doc: "As sum1h, over 24 hours (maximised on its own).",
  },
  "device.isNew": {
    kind: "boolean",
    nullable: false,
    doc: "This event is the first sighting of its device.",
  },
  "device.hoursSinceNewDevice": {
    kind: "number",
    unit: "hours",
    nullable: true,
    doc: "Hours since an additional device (not the customer's first) was first seen, at or before this event.",
  },
  "behaviour.hoursSincePasswordReset": {
    kind: "number",
    unit: "hours",
    nullable: true,
    doc: "Hours since the latest password reset before this event (7 days look-back).",
  },
  "behaviour.hoursSinceContactChanged": {
    kind: "number",
    unit: "hours",
    nullable: true,
    doc: "Hours since the latest change of phone, email or address (7 days look-back).",
  },
} as const satisfies Record<string, FactDoc>;

export type FactName = keyof typeof FACTS;

/** The catalogue as the API and the CLI list it: name, type, unit, nullability, meaning. */
export function factCatalogue(): Array<{
  name: string;
  kind: FactKind;
  unit: string | null;
  nullable: boolean;
  doc: string;
}> {
  return Object.entries(FACTS as Record<string, FactDoc>).map(([name, d]) => ({
    name,
    kind: d.kind,
    unit: d.unit ?? null,
    nullable: d.nullable,
    doc: d.doc,
  }));
}
export type Facts = { [K in FactName]: unknown };

/** What touchpoint knows of the customer from Postgres. */
export interface CustomerProfile {
  id: string;
  homeCountry: string;
  /** Their own IANA zone, when the bank gave one. */
  timezone?: string | null;
  /** Where they live, when the bank gave it. */
  home?: { lat: number; lon: number } | null;
}

/** The amount a payment counts for in its customer's sums and facts: in their home currency where a rate is known. */
export function homeAmount(
  e: { amount: { value: number; currency: string } },
  customer: CustomerProfile | undefined,
  fx: FxTable,
): { value: number; currency: string; asOf: string | null } | undefined {
  const currency = customer ? countryCurrency(customer.homeCountry) : undefined;
  if (!currency) return undefined;
  const converted = convert(e.amount.value, e.amount.currency, currency, fx);
  return converted ? { ...converted, currency } : undefined;
}

const HOUR = 3_600_000;
const hours = (ms: number) => Math.round((ms / HOUR) * 1000) / 1000;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Of the payments before and after this one (event time), the one that needs the greater speed. */
export function travelNeighbour(here: Point, t: number, s: CustomerSnapshot) {
  let best: { km: number; kmh: number; other: LocationMark } | undefined;
  for (const other of [s.previousLocation, s.nextLocation]) {
    if (!other) continue;
    const km = distanceKm(here, other);
    const kmh = speedKmh(km, t, other.at);
    if (!best || kmh > best.kmh) best = { km, kmh, other };
  }
  return best;
}

function hoursSince(s: CustomerSnapshot, type: string, self: string, t: number): number | null {
  const hit = s.recent.find((r) => r.type === type && r.id !== self);
  return hit ? hours(t - hit.at) : null;
}

/** Computes every catalogued fact for one event. Pure: the snapshot carries all IO results. */
const SHIPPED_FX = defaultFxTable();

export function computeFacts(
  e: TouchpointEvent,
  customer: CustomerProfile | undefined,
  s: CustomerSnapshot,
  fx: FxTable = SHIPPED_FX,
  /** The payment's home amount when the caller has converted it already. */
  converted?: ReturnType<typeof homeAmount>,
): Facts {
  const t = Date.parse(e.occurredAt);
  const loc = eventLocation(e);
  const country = e.type === "card.transaction" ? e.merchant.country : (e.geo?.country ?? null);
  const physical = e.type === "card.transaction" && e.channel !== "ecommerce" && loc;
  const trip = physical ? travelNeighbour(loc, t, s) : undefined;
  const covered =
    country !== null && s.notices.some((n) => n.from <= t && t <= n.to && n.countries.includes(country));
  const newDevice =
    s.latestNewDeviceAt !== undefined && s.devicesBeforeLatest > 0 ? hours(t - s.latestNewDeviceAt) : null;
  const tx = e.type === "card.transaction" ? e : undefined;
  // Where the event happened sets the clock; an online payment says nothing of that, so it (and
  // an event with no place at all) reads the customer's own clock.
  const online = tx?.channel === "ecommerce";
  const placed = !online && (loc !== undefined || country !== null);
  // A payment in a shop of a country of several zones, with no coordinates, has no known clock:
  // never the customer's home one, which could be half a day off.
  const zone = placed
    ? zoneAt(loc ? { lat: loc.lat, lon: loc.lon, country } : { country })
    : (customer?.timezone ?? (customer ? zoneAt({ country: customer.homeCountry }) : undefined));
  const clock = zone ? localClock(t, zone) : undefined;
  const home = tx ? (converted ?? homeAmount(tx, customer, fx)) : undefined;
  const homePlace = customer ? (customer.home ?? countryCentroid(customer.homeCountry)) : undefined;
  return {
    event: e,
    "event.type": e.type,
    "event.channel": tx?.channel ?? null,
    "event.country": country,
    "event.timezone": zone ?? null,
    "event.localHour": clock?.hour ?? null,
    "event.localWeekday": clock?.weekday ?? null,
    "amount.value": tx?.amount.value ?? null,
    "amount.currency": tx?.amount.currency ?? null,
    "amount.home": home?.value ?? null,
    "amount.homeCurrency": home?.currency ?? null,
    "amount.ratesAsOf": home?.asOf ?? null,
    "merchant.mcc": tx?.merchant.mcc ?? null,
    "customer.known": customer !== undefined,
    "customer.homeCountry": customer?.homeCountry ?? null,
    "customer.isAbroad": customer !== undefined && country !== null && country !== customer.homeCountry,
    "customer.hasTravelNotice": covered,
    "customer.distanceFromHomeKm": loc && homePlace ? round1(distanceKm(loc, homePlace)) : null,
    "travel.distanceKm": trip ? round1(trip.km) : null,
    "travel.speedKmh": trip ? round1(trip.kmh) : null,
    "travel.hoursBetween": trip ? hours(Math.abs(t - trip.other.at)) : null,
    "travel.otherCity": trip?.other.city ?? null,
    "travel.otherCountry": trip?.other.country ?? null,
    "velocity.count1h": s.txCount1h,
    "velocity.sum1h": s.txSum1h,
    "velocity.count24h": s.txCount24h,
    "velocity.sum24h": s.txSum24h,
    "device.isNew": s.deviceFirstSeenAt !== undefined && s.deviceFirstSeenAt === t,
    "device.hoursSinceNewDevice": newDevice,
    "behaviour.hoursSincePasswordReset": hoursSince(s, "password.reset", e.id, t),
    "behaviour.hoursSinceContactChanged": hoursSince(s, "contact.changed", e.id, t),
  };
}

/** Facts with nothing known (nulls, zeros, false), for rule test cases that set only what they need. */
export function blankFacts(overrides: Partial<Record<string, unknown>> = {}): Facts {
  const out: Record<string, unknown> = {};
  for (const [name, doc] of Object.entries(FACTS)) {
    out[name] = doc.nullable
      ? null
      : doc.kind === "number"
        ? 0
        : doc.kind === "boolean"
          ? false
          : doc.kind === "object"
            ? {}
            : "";
  }
  return { ...out, ...overrides } as Facts;
}
