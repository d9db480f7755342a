/**
 * The contact policy: whether a proactive text goes now, waits for the customer's morning, or not
 * at all, with the reason in words. Quiet hours are judged in the customer's *current* local time
 * (their latest located event), falling back to their home zone. Pure: time comes in as a value.
 */
import { getCountry } from "countries-and-timezones";
import { DateTime, IANAZone } from "luxon";
import tzlookup from "tz-lookup";
import type { Severity } from "../rules/schema.ts";

export interface PolicyConfig {
  /** Local hour (0-23) from which lower severities wait, inclusive. */
  quietStartHour: number;
  /** Local hour (0-23) when texting may start again. */
  quietEndHour: number;
  /** Most proactive texts for one incident (FCC 15-72 allows 3 per event). */
  maxPerIncident: number;
  /** Most proactive texts to one customer over 3 days. */
  maxPer3Days: number;
}

export const DEFAULT_POLICY: PolicyConfig = {
  quietStartHour: 21,
  quietEndHour: 8,
  maxPerIncident: 3,
  maxPer3Days: 3,
};

export interface ContactInput {
  now: Date;
  severity: Severity;
  customer: { homeTimezone?: string; homeCountry: string; optedOut: boolean };
  /** The customer's latest located event. */
  currentLocation?: { lat: number; lon: number; at: Date };
  sentForIncident: number;
  sentToCustomerLast3Days: number;
  config: PolicyConfig;
}

export interface ContactDecision {
  action: "send" | "defer" | "suppress";
  reason: string;
  /** For `defer`: when to try again (the end of quiet hours, local), UTC. */
  notBefore?: Date;
  timezone: string;
  /** Local time at the decision, e.g. "02:14". */
  localTime: string;
}

/** Where the customer is now, as an IANA zone, and how we know. */
export function currentZone(input: Pick<ContactInput, "customer" | "currentLocation">): {
  zone: string;
  source: string;
} {
  if (input.currentLocation) {
    try {
      return {
        zone: tzlookup(input.currentLocation.lat, input.currentLocation.lon),
        source: "latest location",
      };
    } catch {
      // Coordinates tz-lookup cannot place: fall through to home.
    }
  }
  if (input.customer.homeTimezone && IANAZone.isValidZone(input.customer.homeTimezone)) {
    return { zone: input.customer.homeTimezone, source: "home time zone" };
  }
  const zone = getCountry(input.customer.homeCountry)?.timezones[0];
  return zone ? { zone, source: "home country" } : { zone: "UTC", source: "no zone known" };
}

function inQuietHours(hour: number, c: PolicyConfig): boolean {
  return c.quietStartHour > c.quietEndHour
    ? hour >= c.quietStartHour || hour < c.quietEndHour
    : hour >= c.quietStartHour && hour < c.quietEndHour;
}

export function decideContact(input: ContactInput): ContactDecision {
  const { zone, source } = currentZone(input);
  const local = DateTime.fromJSDate(input.now, { zone });
  const localTime = local.toFormat("HH:mm");
  const where = `${localTime} in ${zone} (${source})`;
  const base = { timezone: zone, localTime };
  const c = input.config;

  if (input.customer.optedOut)
    return { ...base, action: "suppress", reason: "customer opted out of texts (STOP)" };
  if (input.sentForIncident >= c.maxPerIncident) {
    return {
      ...base,
      action: "suppress",
      reason: `cap reached: ${input.sentForIncident} texts already for this incident (max ${c.maxPerIncident})`,
    };
  }
  if (input.sentToCustomerLast3Days >= c.maxPer3Days) {
    return {
      ...base,
      action: "suppress",
      reason: `cap reached: ${input.sentToCustomerLast3Days} texts to this customer in 3 days (max ${c.maxPer3Days})`,
    };
  }
  if (!inQuietHours(local.hour, c))
    return { ...base, action: "send", reason: `${where}: outside quiet hours` };
  if (input.severity === "high")
    return {
      ...base,
      action: "send",
      reason: `${where}: quiet hours, but high severity is texted at any hour`,
    };

  let morning = local.set({ hour: c.quietEndHour, minute: 0, second: 0, millisecond: 0 });
  if (morning <= local) morning = morning.plus({ days: 1 });
  return {
    ...base,
    action: "defer",
    notBefore: morning.toJSDate(),
    reason: `quiet hours: ${where}; ${input.severity} severity waits until ${String(c.quietEndHour).padStart(2, "0")}:00 local`,
  };
}
