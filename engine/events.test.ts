import { describe, expect, it } from "vitest";
import { eventLocation, eventSchema, eventTypes, type TouchpointEvent, text } from "./events.ts";

const payment = {
  id: "evt-1",
  type: "card.transaction",
  occurredAt: "2026-11-22T11:05:00Z",
  customerId: "cus-42",
  card: { id: "card-7", last4: "4242" },
  amount: { value: 2300, currency: "EUR" },
  merchant: { name: "Galerie Lumière", mcc: "5971", city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 },
  channel: "card_present",
};
const login = {
  id: "evt-2",
  type: "login",
  occurredAt: "2026-11-22T08:40:00+07:00",
  customerId: "cus-42",
  device: { id: "dev-9" },
  ip: "203.0.113.7",
  geo: { country: "KH", city: "Phnom Penh", lat: 11.56, lon: 104.92 },
};

/** The field paths a value is refused at, or [] when it is taken. */
function refusedAt(value: unknown): string[] {
  const r = eventSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
}
const with_ = (base: object, path: string, v: unknown): unknown => {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  if (v === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = v;
  return copy;
};

describe("event schemas (the contract of POST /v1/events)", () => {
  it("takes DESIGN's examples and every behaviour type", () => {
    expect(refusedAt(payment)).toEqual([]);
    expect(refusedAt(login)).toEqual([]);
    for (const type of ["device.registered", "password.reset", "payee.added", "contact.changed"]) {
      expect(refusedAt({ ...login, type }), type).toEqual([]);
    }
    expect(eventTypes).toEqual([
      "card.transaction",
      "login",
      "device.registered",
      "password.reset",
      "payee.added",
      "contact.changed",
      "travel.notice",
    ]);
  });

  it.each([
    ["id", "evt 1"],
    ["id", ""],
    ["id", "x".repeat(129)],
    ["customerId", "cus/42"],
    ["occurredAt", "2026-11-22 11:05"],
    ["occurredAt", "2026-11-22T11:05:00"],
    ["occurredAt", "0000-01-01T00:00:00Z"],
    ["occurredAt", "2200-01-01T00:00:00Z"],
    ["card.last4", "424"],
    ["card.last4", "42a2"],
    ["amount.value", -1],
    ["amount.value", 1e9 + 1],
    ["amount.currency", "eur"],
    ["merchant.name", ""],
    ["merchant.name", "a\u0000b"],
    ["merchant.mcc", "597"],
    ["merchant.country", "fr"],
    ["merchant.lat", 90.01],
    ["merchant.lat", -90.01],
    ["merchant.lon", 180.01],
    ["merchant.lon", -180.01],
    ["channel", "phone"],
    ["type", "card.refund"],
    ["merchant.country", "FRA"],
    ["merchant.country", "XFR"],
    ["card.last4", "42421"],
    ["card.last4", "14242"],
    ["amount.currency", "EURO"],
    ["amount.currency", "XEUR"],
    ["merchant.mcc", "59711"],
    ["merchant.mcc", "15971"],
  ])("refuses a payment whose %s is %j, naming the field", (path, value) => {
    expect(refusedAt(with_(payment, path, value))[0]).toBe(path);
  });

  it("says what is wrong in words a sender can act on", () => {
    const message = (v: unknown) => {
      const r = eventSchema.safeParse(v);
      return r.success ? "" : r.error.issues[0]!.message;
    };
    expect(message(with_(payment, "id", "evt 1"))).toBe("letters, digits and . _ ~ @ - only");
    expect(message(with_(payment, "merchant.country", "fr"))).toBe(
      "ISO 3166-1 alpha-2 country code, upper case",
    );
    expect(message(with_(payment, "occurredAt", "yesterday"))).toBe(
      "ISO 8601 date-time with a zone, e.g. 2026-11-22T11:05:00Z",
    );
    expect(message(with_(payment, "occurredAt", "1969-12-31T23:59:59Z"))).toBe("between 1970 and 2200");
    expect(message(with_(payment, "merchant.name", "a\u0000b"))).toBe("must not contain NUL characters");
    expect(message(with_(payment, "card.last4", "42"))).toBe("exactly four digits");
    expect(message(with_(payment, "amount.currency", "eur"))).toBe("ISO 4217 currency code");
    expect(message(with_(payment, "merchant.mcc", "59"))).toBe("four-digit merchant category code");
  });

  it("takes every channel, a device on a payment, a payee, and the field a contact change names", () => {
    for (const channel of ["card_present", "ecommerce", "atm"]) {
      expect(refusedAt(with_(payment, "channel", channel)), channel).toEqual([]);
    }
    expect(eventSchema.parse(with_(payment, "device", { id: "dev-9" }))).toMatchObject({
      device: { id: "dev-9" },
    });
    expect(refusedAt(with_(payment, "device", { id: "dev 9" }))).toEqual(["device.id"]);
    const payee = { ...login, type: "payee.added", payee: { name: "J Smith", country: "GB" } };
    expect(eventSchema.parse(payee)).toMatchObject({ payee: { name: "J Smith", country: "GB" } });
    expect(refusedAt(with_(payee, "payee.country", "gb"))).toEqual(["payee.country"]);
    const change = { ...login, type: "contact.changed", field: "phone" };
    for (const field of ["phone", "email", "address"]) {
      expect(eventSchema.parse({ ...change, field }), field).toMatchObject({ field });
    }
    expect(refusedAt({ ...change, field: "pin" })).toEqual(["field"]);
  });

  it("takes the edges of what is allowed", () => {
    expect(refusedAt(with_(payment, "merchant.lat", 90))).toEqual([]);
    expect(refusedAt(with_(payment, "merchant.lon", -180))).toEqual([]);
    expect(refusedAt(with_(payment, "amount.value", 0))).toEqual([]);
    expect(refusedAt(with_(payment, "amount.value", 1e9))).toEqual([]);
    expect(refusedAt(with_(payment, "merchant.mcc", undefined))).toEqual([]);
    expect(refusedAt(with_(payment, "occurredAt", "1970-01-01T00:00:00Z"))).toEqual([]);
    expect(refusedAt(with_(payment, "id", "A.b_c~d@e-1"))).toEqual([]);
    expect(refusedAt(with_(login, "ip", "2001:db8::1"))).toEqual([]);
  });

  it.each([
    ["geo.lat", 91],
    ["geo.lon", -181],
    ["geo.country", "Cambodia"],
    ["ip", "not-an-ip"],
    ["device.id", "dev 9"],
  ])("refuses a login whose %s is %j", (path, value) => {
    expect(refusedAt(with_(login, path, value))[0]).toBe(path);
  });

  it("refuses a travel notice that ends before it starts, or names no country", () => {
    const notice = {
      ...login,
      type: "travel.notice",
      travel: { countries: ["KH"], from: "2026-11-14T00:00:00Z", to: "2026-11-30T00:00:00Z" },
    };
    expect(refusedAt(notice)).toEqual([]);
    expect(refusedAt(with_(notice, "travel.to", "2026-11-14T00:00:00Z"))).toEqual([]);
    expect(refusedAt(with_(notice, "travel.to", "2026-11-13T23:59:59Z"))).toEqual(["travel.to"]);
    const backwards = eventSchema.safeParse(with_(notice, "travel.to", "2026-11-13T23:59:59Z"));
    expect(backwards.error?.issues[0]?.message).toBe("from must not be after to");
    expect(refusedAt(with_(notice, "travel.countries", []))).toEqual(["travel.countries"]);
    expect(refusedAt(with_(notice, "travel.countries", ["kh"]))[0]).toBe("travel.countries.0");
  });

  it("places a card-present payment and a located login, and nothing online", () => {
    const p = eventSchema.parse(payment);
    expect(eventLocation(p)).toEqual({ lat: 48.8566, lon: 2.3522, country: "FR", city: "Paris" });
    expect(eventLocation({ ...p, channel: "ecommerce" } as TouchpointEvent)).toBeUndefined();
    const unplaced = eventSchema.parse(with_(payment, "merchant.lat", undefined));
    expect(eventLocation(unplaced)).toBeUndefined();
    const noCity = eventSchema.parse(with_(payment, "merchant.city", undefined));
    expect(eventLocation(noCity)).toEqual({ lat: 48.8566, lon: 2.3522, country: "FR" });
    expect(eventLocation(eventSchema.parse(login))).toEqual(login.geo);
    expect(eventLocation(eventSchema.parse(with_(login, "geo", undefined)))).toBeUndefined();
  });

  it("reads a blank optional text from a feed as absent, and stores and evaluates the event without it", () => {
    // Card feeds pad fixed-width fields with spaces: refusing the event would lose the evidence.
    for (const blank of ["", "          ", "\t", "\u00a0\u3000", "\u200b", "\u3164"]) {
      const label = JSON.stringify(blank);
      const p = eventSchema.parse(with_(payment, "merchant.city", blank)) as TouchpointEvent;
      expect(p.type === "card.transaction" && p.merchant.city, label).toBeUndefined();
      expect(eventLocation(p), label).toEqual({ lat: 48.8566, lon: 2.3522, country: "FR" });
      const l = eventSchema.parse(with_(login, "geo.city", blank));
      expect(eventLocation(l)?.city, label).toBeUndefined();
      const payee = { ...login, type: "payee.added", payee: { name: blank, country: "GB" } };
      expect(eventSchema.parse(payee), label).toMatchObject({ payee: { name: undefined, country: "GB" } });
    }
    // A city that says something is kept as sent, padding and all.
    const padded = eventSchema.parse(with_(payment, "merchant.city", "PARIS        "));
    expect(padded.type === "card.transaction" && padded.merchant.city).toBe("PARIS        ");
  });

  it("refuses a payment whose merchant name is blank: the customer's text names the merchant", () => {
    for (const blank of ["", "   ", "\u3164"])
      expect(refusedAt(with_(payment, "merchant.name", blank)), JSON.stringify(blank)).toEqual([
        "merchant.name",
      ]);
  });
});

describe("text people write (names, notes, titles)", () => {
  const taken = (s: string) => text(200).safeParse(s).success;

  it.each([
    ["U+3164 Hangul filler", "\u3164"],
    ["U+115F Hangul choseong filler", "\u115f"],
    ["U+1160 Hangul jungseong filler", "\u1160"],
    ["U+FFA0 half-width Hangul filler", "\uffa0"],
    ["U+2800 braille blank", "\u2800"],
    ["U+034F combining grapheme joiner", "\u034f"],
    ["U+180E Mongolian vowel separator", "\u180e"],
    ["U+17B4 Khmer inherent vowel", "\u17b4"],
    ["U+FE0F variation selector", "\ufe0f"],
    ["a lone combining acute", "\u0301"],
    ["fillers, marks and spaces together", " \u3164\u0301\u2800 \u200b"],
  ])("is blank when made only of %s", (_, s) => {
    expect(taken(s)).toBe(false);
    expect(text(200).safeParse(s).error?.issues[0]?.message).toBe("must not be blank (white space only)");
  });

  it("takes a name whose letters carry marks or sit among fillers", () => {
    for (const s of ["Zoe\u0308", "Zoë", "\u3164Amara", "東京", "J"]) expect(taken(s), s).toBe(true);
  });
});
