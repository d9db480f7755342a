/** Request schemas for customers and advocates, and the phone-number rule: stored as E.164. */
import { getCountry } from "countries-and-timezones";
import { type CountryCode, findPhoneNumbersInText, parsePhoneNumberFromString } from "libphonenumber-js";
import { IANAZone } from "luxon";
import { z } from "zod";
import { didYouMean } from "./did-you-mean.ts";
import { text } from "./events.ts";

export const customerInput = z
  .strictObject({
    name: text(200),
    phone: z.string().min(3).max(32),
    homeCountry: z
      .string()
      .regex(/^[A-Z]{2}$/, "ISO 3166-1 alpha-2 country code, upper case")
      .refine((c) => getCountry(c) !== null, "not an ISO 3166-1 country, e.g. GB"),
    timezone: z
      .string()
      .refine((tz) => IANAZone.isValidZone(tz), "unknown IANA time zone, e.g. Europe/London")
      .optional(),
    /** Where they live: `customer.distanceFromHomeKm` measures from here (else the country's centroid). */
    home: z
      .strictObject({
        city: text(200).optional(),
        lat: z.number().min(-90).max(90),
        lon: z.number().min(-180).max(180),
      })
      .optional(),
    language: z
      .string()
      .regex(/^[a-z]{2}$/, "two-letter language code, e.g. en")
      .default("en"),
  })
  .transform((c, ctx) => {
    // National formats are read in the home country's numbering plan, then stored as E.164.
    const parsed = parsePhoneNumberFromString(c.phone, c.homeCountry as CountryCode);
    if (!parsed?.isValid()) {
      ctx.addIssue({
        code: "custom",
        path: ["phone"],
        message: "not a valid phone number; use E.164, e.g. +447911123456",
      });
      return z.NEVER;
    }
    return { ...c, phone: parsed.number as string };
  });

/** A team's name: what advocates, tokens, rules and cases share. */
export const teamName = z.string().regex(/^[a-z0-9-]{1,60}$/, "lower-case team name, e.g. fraud");

/**
 * Why naming `team` would reach no one, or undefined when it reaches someone: a team exists while
 * an advocate is in it (`known`, the advocates' teams), so anything else would hold cases or read
 * for nobody. Says the closest known team, or which there are.
 */
export function unknownTeam(team: string, known: readonly string[]): string | undefined {
  if (known.includes(team)) return undefined;
  const said = `no advocate is in team ${JSON.stringify(team)}`;
  const guess = didYouMean(team, known);
  if (guess) return `${said}; did you mean ${JSON.stringify(guess)}?`;
  const some = known.length > 10 ? `${known.slice(0, 10).join(", ")}, …` : known.join(", ");
  return `${said}; teams are named by their advocates${known.length > 0 ? ` (${some})` : ", and there are none yet"}`;
}

export const advocateInput = z.strictObject({
  name: text(200),
  team: teamName,
  capacity: z.number().int().min(0).max(1000).default(10),
  status: z.enum(["online", "away", "offline"]),
});

export const personId = z.string().regex(/^[A-Za-z0-9._~@-]{1,128}$/, "letters, digits and . _ ~ @ - only");

/**
 * A phone number as a person or a telephony system gives it (`+44 7911 123042`, `07911 123042`,
 * `00447911123042`, `447911123042`) as E.164, national formats read in `country`'s plan;
 * undefined when it is not a valid number.
 */
export function lookupPhone(input: string, country: CountryCode | undefined): string | undefined {
  const raw = input.trim();
  const tries = [raw];
  // Digits alone, long enough to carry a country code, are often E.164 without its "+".
  if (/^[1-9]\d{9,14}$/.test(raw)) tries.push(`+${raw}`);
  for (const t of tries) {
    const parsed = parsePhoneNumberFromString(t, country);
    if (parsed?.isValid()) return parsed.number;
  }
  return undefined;
}

/**
 * A number with a phone number's shape and length for its country but not in use (`+44 7700
 * 900123`, a range kept for drama), as E.164: no customer can have it, so a search for it finds
 * no case rather than failing to read it.
 */
export function possiblePhone(input: string, country: CountryCode | undefined): string | undefined {
  const parsed = parsePhoneNumberFromString(input.trim(), country);
  return parsed?.isPossible() ? parsed.number : undefined;
}

/** The country of the bank's own number: how national formats are read in lookups. */
export function countryOfNumber(phone: string): CountryCode | undefined {
  return parsePhoneNumberFromString(phone)?.country;
}

// Written as a number is dialled, with the usual separators: internationally (+ or 00), or
// nationally from a trunk prefix 0 with at least eight digits (so amounts and dates are not).
const DIALLED = /(?:\+|\b0)\d(?:[ ().-]{0,2}\d){6,16}/g;

/**
 * The phone numbers written in `text`, as E.164: every valid one in any format (national ones
 * read in `country`'s plan), and every one written as dialled that could be dialled, valid or not
 * (a scammer's number need not be in libphonenumber's ranges). Pure.
 */
export function phoneNumbersIn(text: string, country: CountryCode | undefined): string[] {
  const found = new Set(
    findPhoneNumbersInText(text, { defaultCountry: country }).map((f) => f.number.number),
  );
  for (const [written] of text.matchAll(DIALLED)) {
    const parsed = parsePhoneNumberFromString(written.replace(/^00/, "+"), country);
    if (parsed?.isPossible()) found.add(parsed.number);
  }
  return [...found];
}
