/** Event schemas: the shapes `POST /v1/events` accepts (DESIGN "Contracts"). */
import { z } from "zod";

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._~@-]+$/, "letters, digits and . _ ~ @ - only");

const country = z.string().regex(/^[A-Z]{2}$/, "ISO 3166-1 alpha-2 country code, upper case");

/** An instant Postgres can store, with its zone: ISO 8601, 1970 to 2200. */
export const timestamp = z.iso
  .datetime({ offset: true, error: "ISO 8601 date-time with a zone, e.g. 2026-11-22T11:05:00Z" })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= Date.UTC(1970, 0, 1) && t < Date.UTC(2200, 0, 1);
  }, "between 1970 and 2200");

// A character a reader sees: not white space, a control or format character (zero-width space),
// a combining mark standing alone, or a filler drawn as nothing (Hangul fillers U+3164, U+115F,
// U+FFA0, the grapheme joiner U+034F: default-ignorable code points; braille blank U+2800).
const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}\u2800]/u;
const BLANK = "must not be blank (white space only)";

/** True when `s` has no character a reader sees (only spaces, zero-width or filler characters). */
export const isBlank = (s: string) => !VISIBLE.test(s);

/** Text a person wrote for people to read, as Postgres can store it: no NUL, and not blank. */
export const text = (max: number) =>
  z
    .string()
    .min(1, { error: BLANK, abort: true })
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters")
    .refine((s) => VISIBLE.test(s), BLANK);

/**
 * Optional text a machine sent (a card feed pads fields with spaces): blank reads as absent, so
 * the event is stored and evaluated without it rather than lost. People's text uses `text`.
 */
const fedText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters")
    .transform((s) => (VISIBLE.test(s) ? s : undefined))
    .optional();

export const geoSchema = z.object({
  country,
  city: fedText(120),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

const base = {
  id,
  occurredAt: timestamp,
  customerId: id,
};

export const cardTransactionSchema = z.object({
  ...base,
  type: z.literal("card.transaction"),
  card: z.object({ id, last4: z.string().regex(/^\d{4}$/, "exactly four digits") }),
  /** `value` in the currency's major unit (2300 EUR is two thousand three hundred euros). */
  amount: z.object({
    value: z.number().nonnegative().max(1e9),
    currency: z.string().regex(/^[A-Z]{3}$/, "ISO 4217 currency code"),
  }),
  merchant: z.object({
    // Required, blank refused: the customer's text asks "did you pay at <merchant>?", and a card
    // scheme always names the merchant, so a blank one is a broken record the feed must see.
    name: text(200),
    mcc: z
      .string()
      .regex(/^\d{4}$/, "four-digit merchant category code")
      .optional(),
    city: fedText(120),
    country,
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
  }),
  channel: z.enum(["card_present", "ecommerce", "atm"]),
  device: z.object({ id }).optional(),
});

const behaviour = <T extends string>(type: T) =>
  z.object({
    ...base,
    type: z.literal(type),
    device: z.object({ id }).optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    geo: geoSchema.optional(),
  });

export const loginSchema = behaviour("login");
export const deviceRegisteredSchema = behaviour("device.registered");
export const passwordResetSchema = behaviour("password.reset");
export const payeeAddedSchema = behaviour("payee.added").extend({
  payee: z.object({ name: fedText(200), country: country.optional() }).optional(),
});
export const contactChangedSchema = behaviour("contact.changed").extend({
  field: z.enum(["phone", "email", "address"]).optional(),
});
/** The customer told the bank where they will be, and when. */
export const travelNoticeSchema = behaviour("travel.notice").extend({
  travel: z
    .object({
      countries: z.array(country).min(1).max(50),
      from: timestamp,
      to: timestamp,
    })
    .refine((t) => Date.parse(t.from) <= Date.parse(t.to), {
      message: "from must not be after to",
      path: ["to"],
    }),
});

export const eventSchema = z.discriminatedUnion("type", [
  cardTransactionSchema,
  loginSchema,
  deviceRegisteredSchema,
  passwordResetSchema,
  payeeAddedSchema,
  contactChangedSchema,
  travelNoticeSchema,
]);

export type TouchpointEvent = z.infer<typeof eventSchema>;
export type CardTransaction = z.infer<typeof cardTransactionSchema>;
export type EventType = TouchpointEvent["type"];
export const eventTypes = eventSchema.options.map((o) => o.shape.type.value) as EventType[];

/** Where the event says the customer was, if anywhere. */
export function eventLocation(
  e: TouchpointEvent,
): { lat: number; lon: number; country: string; city?: string } | undefined {
  if (e.type === "card.transaction") {
    // An online payment says nothing about where the card holder stands.
    if (e.channel === "ecommerce") return undefined;
    const m = e.merchant;
    if (m.lat === undefined || m.lon === undefined) return undefined;
    const place: { lat: number; lon: number; country: string; city?: string } = {
      lat: m.lat,
      lon: m.lon,
      country: m.country,
    };
    if (m.city) place.city = m.city;
    return place;
  }
  return e.geo;
}
