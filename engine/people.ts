/** Request schemas for customers and advocates, and the phone-number rule: stored as E.164. */
import { getCountry } from "countries-and-timezones";
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";
import { IANAZone } from "luxon";
import { z } from "zod";
import { didYouMean } from "./did-you-mean.ts";
import { text } from "./events.ts";
import { channelsInput } from "./outreach/strategy.ts";

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
    /** Ordered preference: any of sms, whatsapp, voice, app. Unset: unchanged (new customers: sms, voice). */
    channels: channelsInput.optional(),
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

/**
 * Where a call reaches an advocate: an international number (stored as E.164) or a SIP URI
 * (`sip:amara@pbx.bank.example`), as Vonage's `connect` action takes them.
 */
export const callEndpoint = z
  .string()
  .trim()
  .max(200)
  .transform((v, ctx) => {
    if (/^sips?:[^\s@]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s]*)?$/.test(v)) return v;
    const parsed = v.startsWith("+") ? parsePhoneNumberFromString(v) : undefined;
    if (parsed?.isValid()) return parsed.number as string;
    ctx.addIssue({
      code: "custom",
      message: "an international number (+44 20 7946 0123) or a SIP URI (sip:amara@pbx.example.com)",
    });
    return z.NEVER;
  });

export const advocateInput = z.strictObject({
  name: text(200),
  team: teamName,
  capacity: z.number().int().min(0).max(1000).default(10),
  status: z.enum(["online", "away", "offline"]),
  /** Unset: unchanged; null: removed. */
  phone: callEndpoint.nullable().optional(),
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

// What people put between a number's digit groups: spaces, / . _ - and brackets.
const SEP = String.raw`[\s/._()\[\]{}-]`;
// Runs of digits joined by separators, with a leading + or 00 when written internationally.
const RUN = new RegExp(String.raw`(?:\+${SEP}*)?\d(?:${SEP}*\d)*`, "g");
// A date (22/11/2026, 22.11.26, 2026-11-22), a time (11:05), or an amount with two decimals
// (12345.67): read as what they are only when standing alone, so a number cannot hide behind one
// (+44/07/11/2026 is a run of digits, not a date).
const DD = String.raw`(?:0?[1-9]|[12]\d|3[01])`;
const DAY_MONTH = ["/", "\\.", "-"].map((s) => `${DD}${s}${DD}${s}(?:\\d{4}|\\d{2})`).join("|");
const DATE = String.raw`(?:${DAY_MONTH}|\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))`;
const TIME = String.raw`(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?`;
const NOT_NUMBER = new RegExp(
  String.raw`(?<![\d+]${SEP}*)(?:${DATE}(?:,?\s+${TIME})?|${TIME}(?:,?\s+${DATE})?|\d+\.\d{2})(?!${SEP}*\d)`,
  "g",
);

/** A number written in text: as written, its digits, and whether it began with + or 00. */
export interface WrittenNumber {
  written: string;
  digits: string;
  international: boolean;
}

/**
 * Every run of digits in `text` that could be a number to call or a card's, however its groups
 * are separated (full-width digits read as digits), leaving out dates, times and amounts with
 * decimals standing alone. Pure.
 */
export function numbersWrittenIn(text: string): WrittenNumber[] {
  const plain = text.normalize("NFKC").replace(NOT_NUMBER, (m) => "#".repeat(m.length));
  return [...plain.matchAll(RUN)].map(([written]) => writtenNumber(written));
}

function writtenNumber(written: string): WrittenNumber {
  const all = written.replace(/\D/g, "");
  const international = written.startsWith("+") || all.startsWith("00");
  const digits = written.startsWith("+") ? all : international ? all.slice(2) : all;
  return { written, digits, international };
}

/**
 * `n` cut between two of its digit groups, every way: the bank's number run into a short one
 * beside it ("020 7946 0000 24/7") is two numbers.
 */
export function splitsOf(n: WrittenNumber): Array<[WrittenNumber, WrittenNumber]> {
  return [...n.written.matchAll(new RegExp(`${SEP}+`, "g"))].map((m) => [
    writtenNumber(n.written.slice(0, m.index)),
    writtenNumber(n.written.slice(m.index + m[0].length)),
  ]);
}

/** True when `n` is `phone` (E.164) in any format: compared by country code and national number. */
export function isNumber(n: WrittenNumber, phone: string): boolean {
  const own = parsePhoneNumberFromString(phone);
  if (!own) return false;
  const tries = n.international ? [`+${n.digits}`] : [n.digits, `+${n.digits}`];
  return tries.some((t) => {
    const p = parsePhoneNumberFromString(t, own.country);
    return p?.countryCallingCode === own.countryCallingCode && p.nationalNumber === own.nationalNumber;
  });
}
