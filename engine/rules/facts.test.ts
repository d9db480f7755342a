/** The facts catalogue and `computeFacts`: each fact from a hand-built event and state snapshot. */
import { describe, expect, it } from "vitest";
import type { CardTransaction, TouchpointEvent } from "../events.ts";
import { distanceKm } from "../features/geo.ts";
import { countryCentroid } from "../features/places.ts";
import type { CustomerSnapshot, LocationMark } from "../features/state.ts";
import {
  blankFacts,
  type CustomerProfile,
  computeFacts,
  FACTS,
  type FactName,
  type Facts,
  factCatalogue,
} from "./facts.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;
const T = Date.parse("2026-11-20T12:00:00Z");
const at = (ms: number) => new Date(ms).toISOString();

const dutch: CustomerProfile = { id: "cust-1", homeCountry: "NL" };

/** Nothing known around the event: no neighbours, no devices, no notices, no behaviour. */
function snapshot(over: Partial<CustomerSnapshot> = {}): CustomerSnapshot {
  return {
    txCount1h: 0,
    txSum1h: 0,
    txCount24h: 0,
    txSum24h: 0,
    devicesBeforeLatest: 0,
    notices: [],
    recent: [],
    ...over,
  };
}

/** A card-present payment at (0, 0) on the equator, at T. */
function payment(over: Partial<CardTransaction> = {}): CardTransaction {
  return {
    id: "tx-1",
    type: "card.transaction",
    occurredAt: at(T),
    customerId: "cust-1",
    card: { id: "card-1", last4: "4242" },
    amount: { value: 42.5, currency: "EUR" },
    merchant: { name: "Corner shop", mcc: "5411", city: "Here", country: "EC", lat: 0, lon: 0 },
    channel: "card_present",
    ...over,
  };
}

function login(over: Partial<Extract<TouchpointEvent, { type: "login" }>> = {}): TouchpointEvent {
  return { id: "ev-1", type: "login", occurredAt: at(T), customerId: "cust-1", ...over };
}

/** A location on the equator; one degree of longitude there is 111.319 km (geolib). */
function mark(city: string, lon: number, atMs: number): LocationMark {
  return { id: `loc-${city}`, lat: 0, lon, country: "CO", city, at: atMs };
}

function pick(facts: Facts, names: FactName[]): Record<string, unknown> {
  return Object.fromEntries(names.map((n) => [n, facts[n]]));
}

const TRAVEL: FactName[] = [
  "travel.distanceKm",
  "travel.speedKmh",
  "travel.hoursBetween",
  "travel.otherCity",
  "travel.otherCountry",
];
const NO_TRAVEL = {
  "travel.distanceKm": null,
  "travel.speedKmh": null,
  "travel.hoursBetween": null,
  "travel.otherCity": null,
  "travel.otherCountry": null,
};

describe("the facts catalogue", () => {
  it("documents every fact", () => {
    for (const [name, doc] of Object.entries(FACTS)) {
      expect(doc.doc.trim().length, name).toBeGreaterThan(0);
    }
  });

  it("declares each computed fact's kind, and null only where the fact is nullable", () => {
    const scenes: Facts[] = [
      computeFacts(login(), undefined, snapshot()),
      computeFacts(payment(), dutch, snapshot({ previousLocation: mark("Prev", 1, T - HOUR) })),
      computeFacts(payment({ amount: { value: 10, currency: "USD" } }), dutch, snapshot()),
      computeFacts(
        login({ geo: { country: "FR", lat: 48.85, lon: 2.35 } }),
        dutch,
        snapshot({
          latestNewDeviceAt: T - HOUR,
          devicesBeforeLatest: 1,
          recent: [
            { type: "password.reset", id: "pr", at: T - HOUR },
            { type: "contact.changed", id: "cc", at: T - HOUR },
          ],
        }),
      ),
    ];
    const seenNonNull = new Set<string>();
    for (const facts of scenes) {
      for (const [name, doc] of Object.entries(FACTS)) {
        const value = facts[name as FactName];
        if (value === null) {
          expect(doc.nullable, `${name} is null`).toBe(true);
        } else {
          expect(typeof value, name).toBe(doc.kind);
          seenNonNull.add(name);
        }
      }
    }
    expect([...seenNonNull].sort()).toEqual(Object.keys(FACTS).sort());
  });
});

describe("factCatalogue", () => {
  it("lists every fact once, with its kind, nullability and documentation as catalogued", () => {
    const listed = factCatalogue();
    expect(listed.map((f) => f.name)).toEqual(Object.keys(FACTS));
    expect(listed.find((f) => f.name === "travel.distanceKm")).toStrictEqual({
      name: "travel.distanceKm",
      kind: "number",
      unit: "km",
      nullable: true,
      doc: FACTS["travel.distanceKm"].doc,
    });
    expect(listed.find((f) => f.name === "customer.known")).toStrictEqual({
      name: "customer.known",
      kind: "boolean",
      unit: null,
      nullable: false,
      doc: FACTS["customer.known"].doc,
    });
  });

  it("gives every number its unit, and nothing else a unit", () => {
    const units: Record<string, string> = {
      "amount.value": "currency units (major)",
      "travel.distanceKm": "km",
      "travel.speedKmh": "km/h",
      "travel.hoursBetween": "hours",
      "velocity.count1h": "payments",
      "velocity.sum1h": "the customer's home currency (major)",
      "velocity.count24h": "payments",
      "velocity.sum24h": "the customer's home currency (major)",
      "device.hoursSinceNewDevice": "hours",
      "behaviour.hoursSincePasswordReset": "hours",
      "behaviour.hoursSinceContactChanged": "hours",
    };
    for (const f of factCatalogue()) {
      if (f.kind === "number") expect(f.unit, f.name).toBeTruthy();
      else expect(f.unit, f.name).toBeNull();
      if (f.name in units) expect(f.unit, f.name).toBe(units[f.name]);
    }
  });
});

describe("computeFacts", () => {
  it("knows nothing of a bare login by an unknown customer: every nullable fact is null, the rest blank", () => {
    const e = login();
    expect(computeFacts(e, undefined, snapshot())).toStrictEqual(
      blankFacts({ event: e, "event.type": "login" }),
    );
  });

  it("carries the payment's own fields: the event itself, type, channel, country, amount, currency, mcc", () => {
    const e = payment({ channel: "atm" });
    const facts = computeFacts(e, dutch, snapshot());
    expect(facts.event).toBe(e);
    expect(
      pick(facts, [
        "event.type",
        "event.channel",
        "event.country",
        "amount.value",
        "amount.currency",
        "merchant.mcc",
      ]),
    ).toStrictEqual({
      "event.type": "card.transaction",
      "event.channel": "atm",
      "event.country": "EC",
      "amount.value": 42.5,
      "amount.currency": "EUR",
      "merchant.mcc": "5411",
    });
  });

  it("gives a payment without a merchant category a null mcc", () => {
    const e = payment();
    const { mcc: _, ...merchant } = e.merchant;
    expect(computeFacts({ ...e, merchant }, dutch, snapshot())["merchant.mcc"]).toBeNull();
  });

  it("takes a behaviour event's country from its geo, and has no payment fields for it", () => {
    const facts = computeFacts(login({ geo: { country: "FR", lat: 48.85, lon: 2.35 } }), dutch, snapshot());
    expect(
      pick(facts, [
        "event.type",
        "event.channel",
        "event.country",
        "amount.value",
        "amount.currency",
        "merchant.mcc",
      ]),
    ).toStrictEqual({
      "event.type": "login",
      "event.channel": null,
      "event.country": "FR",
      "amount.value": null,
      "amount.currency": null,
      "merchant.mcc": null,
    });
  });

  it("passes the snapshot's velocity windows through unchanged", () => {
    const facts = computeFacts(
      payment(),
      dutch,
      snapshot({ txCount1h: 3, txSum1h: 120.5, txCount24h: 7, txSum24h: 999.25 }),
    );
    expect(
      pick(facts, ["velocity.count1h", "velocity.sum1h", "velocity.count24h", "velocity.sum24h"]),
    ).toStrictEqual({
      "velocity.count1h": 3,
      "velocity.sum1h": 120.5,
      "velocity.count24h": 7,
      "velocity.sum24h": 999.25,
    });
  });

  describe("customer", () => {
    it("a known customer paying in their home country is known and not abroad", () => {
      const facts = computeFacts(
        payment({ merchant: { name: "Albert Heijn", country: "NL" } }),
        dutch,
        snapshot(),
      );
      expect(pick(facts, ["customer.known", "customer.homeCountry", "customer.isAbroad"])).toStrictEqual({
        "customer.known": true,
        "customer.homeCountry": "NL",
        "customer.isAbroad": false,
      });
    });

    it("a known customer paying in another country is abroad", () => {
      const facts = computeFacts(payment(), dutch, snapshot());
      expect(facts["customer.isAbroad"]).toBe(true);
    });

    it("an unknown customer is never abroad and has no home country", () => {
      const facts = computeFacts(payment(), undefined, snapshot());
      expect(pick(facts, ["customer.known", "customer.homeCountry", "customer.isAbroad"])).toStrictEqual({
        "customer.known": false,
        "customer.homeCountry": null,
        "customer.isAbroad": false,
      });
    });

    it("an event with no country (a login without geo) is not abroad", () => {
      expect(computeFacts(login(), dutch, snapshot())["customer.isAbroad"]).toBe(false);
    });
  });

  describe("travel notices", () => {
    const notice = (from: number, to: number, countries = ["EC"]) => ({ id: "n", countries, from, to });
    const covered = (e: TouchpointEvent, notices: CustomerSnapshot["notices"]) =>
      computeFacts(e, dutch, snapshot({ notices }))["customer.hasTravelNotice"];

    it("cover an event from the notice's first instant to its last, both included", () => {
      expect(covered(payment(), [notice(T, T + HOUR)])).toBe(true);
      expect(covered(payment(), [notice(T - HOUR, T)])).toBe(true);
      expect(covered(payment(), [notice(T - HOUR, T + HOUR)])).toBe(true);
    });

    it("do not cover an event a millisecond before they start or after they end", () => {
      expect(covered(payment(), [notice(T + 1, T + HOUR)])).toBe(false);
      expect(covered(payment(), [notice(T - HOUR, T - 1)])).toBe(false);
    });

    it("cover only the countries they name", () => {
      expect(covered(payment(), [notice(T - HOUR, T + HOUR, ["FR", "DE"])])).toBe(false);
      expect(covered(payment(), [notice(T - HOUR, T + HOUR, ["FR", "EC"])])).toBe(true);
    });

    it("count when any one of several notices covers the event", () => {
      expect(covered(payment(), [notice(T + HOUR, T + 2 * HOUR), notice(T - HOUR, T + HOUR)])).toBe(true);
    });

    it("are absent when the customer gave none", () => {
      expect(covered(payment(), [])).toBe(false);
    });

    it("cover a behaviour event by its geo country, and never an event with no country", () => {
      const geo = { country: "EC", lat: 0, lon: 0 };
      expect(covered(login({ geo }), [notice(T - HOUR, T + HOUR)])).toBe(true);
      expect(covered(login(), [notice(T - HOUR, T + HOUR)])).toBe(false);
    });
  });

  describe("travel", () => {
    const travel = (e: TouchpointEvent, s: Partial<CustomerSnapshot>) =>
      pick(computeFacts(e, dutch, snapshot(s)), TRAVEL);

    it("measures against the later neighbour when reaching it needs the larger speed", () => {
      // Prev: 111.3 km in 2 h (55.7 km/h). Next: 222.6 km in 40 min (334.0 km/h).
      const facts = travel(payment(), {
        previousLocation: mark("Prev", 1, T - 2 * HOUR),
        nextLocation: { ...mark("Next", 2, T + 40 * MINUTE), country: "PE" },
      });
      expect(facts).toStrictEqual({
        "travel.distanceKm": 222.6,
        "travel.speedKmh": 334,
        "travel.hoursBetween": 0.667,
        "travel.otherCity": "Next",
        "travel.otherCountry": "PE",
      });
    });

    it("measures against the earlier neighbour when reaching it needs the larger speed", () => {
      // Prev: 222.6 km in 20 min (667.9 km/h). Next: 111.3 km in 5 h (22.3 km/h).
      const facts = travel(payment(), {
        previousLocation: mark("Prev", 2, T - 20 * MINUTE),
        nextLocation: mark("Next", 1, T + 5 * HOUR),
      });
      expect(facts).toStrictEqual({
        "travel.distanceKm": 222.6,
        "travel.speedKmh": 667.9,
        "travel.hoursBetween": 0.333,
        "travel.otherCity": "Prev",
        "travel.otherCountry": "CO",
      });
    });

    it("keeps the earlier neighbour when both need the same speed", () => {
      const facts = travel(payment(), {
        previousLocation: mark("Prev", 1, T - HOUR),
        nextLocation: mark("Next", -1, T + HOUR),
      });
      expect(facts["travel.otherCity"]).toBe("Prev");
    });

    it("uses a lone earlier neighbour, rounding km and km/h to one decimal and hours to three", () => {
      // 55.66 km in 25 min: 133.584 km/h; 25 min is 0.41666 h.
      const facts = travel(payment(), { previousLocation: mark("Prev", 0.5, T - 25 * MINUTE) });
      expect(facts).toStrictEqual({
        "travel.distanceKm": 55.7,
        "travel.speedKmh": 133.6,
        "travel.hoursBetween": 0.417,
        "travel.otherCity": "Prev",
        "travel.otherCountry": "CO",
      });
    });

    it("uses a lone later neighbour, with the hours between counted forwards", () => {
      const facts = travel(payment(), { nextLocation: mark("Next", 1, T + 3 * HOUR) });
      expect(facts).toStrictEqual({
        "travel.distanceKm": 111.3,
        "travel.speedKmh": 37.1,
        "travel.hoursBetween": 3,
        "travel.otherCity": "Next",
        "travel.otherCountry": "CO",
      });
    });

    it("reports a neighbour without a city as a null city", () => {
      const { city: _, ...noCity } = mark("Prev", 1, T - HOUR);
      expect(travel(payment(), { previousLocation: noCity })["travel.otherCity"]).toBeNull();
    });

    it("has nothing to measure without a neighbour", () => {
      expect(travel(payment(), {})).toStrictEqual(NO_TRAVEL);
    });

    it("is not computed for an ecommerce payment, which says nothing of where the card holder is", () => {
      const neighbours = {
        previousLocation: mark("Prev", 1, T - HOUR),
        nextLocation: mark("Next", 2, T + HOUR),
      };
      expect(travel(payment({ channel: "ecommerce" }), neighbours)).toStrictEqual(NO_TRAVEL);
    });

    it("is not computed for a payment whose merchant has no coordinates", () => {
      const { lat: _a, lon: _b, ...merchant } = payment().merchant;
      expect(travel(payment({ merchant }), { previousLocation: mark("Prev", 1, T - HOUR) })).toStrictEqual(
        NO_TRAVEL,
      );
    });

    it("is not computed for a located behaviour event, only for payments", () => {
      const e = login({ geo: { country: "EC", lat: 0, lon: 0, city: "Here" } });
      expect(travel(e, { previousLocation: mark("Prev", 1, T - HOUR) })).toStrictEqual(NO_TRAVEL);
    });
  });

  describe("devices", () => {
    const device = (s: Partial<CustomerSnapshot>, e: TouchpointEvent = login({ device: { id: "d" } })) =>
      pick(computeFacts(e, dutch, snapshot(s)), ["device.isNew", "device.hoursSinceNewDevice"]);

    it("a device first seen at this very event is new", () => {
      expect(device({ deviceFirstSeenAt: T })["device.isNew"]).toBe(true);
    });

    it("a device first seen earlier, or an event with no device, is not new", () => {
      expect(device({ deviceFirstSeenAt: T - 1 })["device.isNew"]).toBe(false);
      expect(device({}, login())["device.isNew"]).toBe(false);
    });

    it("counts hours since an additional device appeared, to three decimals", () => {
      expect(device({ latestNewDeviceAt: T - 100 * MINUTE, devicesBeforeLatest: 1 })).toStrictEqual({
        "device.isNew": false,
        "device.hoursSinceNewDevice": 1.667,
      });
    });

    it("counts zero hours when the additional device is this event's own", () => {
      expect(device({ deviceFirstSeenAt: T, latestNewDeviceAt: T, devicesBeforeLatest: 2 })).toStrictEqual({
        "device.isNew": true,
        "device.hoursSinceNewDevice": 0,
      });
    });

    it("does not count the customer's first device as an additional one", () => {
      expect(
        device({ latestNewDeviceAt: T - HOUR, devicesBeforeLatest: 0 })["device.hoursSinceNewDevice"],
      ).toBeNull();
    });

    it("has no hours since a new device when no device was ever seen", () => {
      expect(device({ devicesBeforeLatest: 3 })["device.hoursSinceNewDevice"]).toBeNull();
    });
  });

  describe("recent behaviour", () => {
    const behaviour = (e: TouchpointEvent, recent: CustomerSnapshot["recent"]) =>
      pick(computeFacts(e, dutch, snapshot({ recent })), [
        "behaviour.hoursSincePasswordReset",
        "behaviour.hoursSinceContactChanged",
      ]);

    it("counts hours since the latest password reset and contact change, to three decimals", () => {
      expect(
        behaviour(payment(), [
          { type: "login", id: "l1", at: T - 10 * MINUTE },
          { type: "password.reset", id: "pr1", at: T - 20 * MINUTE },
          { type: "contact.changed", id: "cc1", at: T - 50 * HOUR },
          { type: "password.reset", id: "pr0", at: T - 30 * HOUR },
        ]),
      ).toStrictEqual({
        "behaviour.hoursSincePasswordReset": 0.333,
        "behaviour.hoursSinceContactChanged": 50,
      });
    });

    it("is null when neither happened recently", () => {
      expect(behaviour(payment(), [{ type: "login", id: "l1", at: T - HOUR }])).toStrictEqual({
        "behaviour.hoursSincePasswordReset": null,
        "behaviour.hoursSinceContactChanged": null,
      });
    });

    it("does not count a password reset as happening before itself", () => {
      const reset: TouchpointEvent = { ...login(), id: "pr1", type: "password.reset" };
      expect(behaviour(reset, [{ type: "password.reset", id: "pr1", at: T }])).toStrictEqual({
        "behaviour.hoursSincePasswordReset": null,
        "behaviour.hoursSinceContactChanged": null,
      });
      expect(
        behaviour(reset, [
          { type: "password.reset", id: "pr1", at: T },
          { type: "password.reset", id: "pr0", at: T - 2 * HOUR },
        ])["behaviour.hoursSincePasswordReset"],
      ).toBe(2);
    });

    it("does not count a contact change as happening before itself", () => {
      const change: TouchpointEvent = { ...login(), id: "cc1", type: "contact.changed", field: "phone" };
      expect(
        behaviour(change, [
          { type: "contact.changed", id: "cc1", at: T },
          { type: "contact.changed", id: "cc0", at: T - 90 * MINUTE },
        ])["behaviour.hoursSinceContactChanged"],
      ).toBe(1.5);
    });
  });
});

describe("blankFacts", () => {
  it("sets nullable facts to null and the rest to their kind's empty value", () => {
    const facts = blankFacts();
    expect(
      pick(facts, [
        "event",
        "event.type",
        "event.country",
        "travel.speedKmh",
        "velocity.count1h",
        "customer.known",
        "customer.isAbroad",
        "device.isNew",
      ]),
    ).toStrictEqual({
      event: {},
      "event.type": "",
      "event.country": null,
      "travel.speedKmh": null,
      "velocity.count1h": 0,
      "customer.known": false,
      "customer.isAbroad": false,
      "device.isNew": false,
    });
    expect(Object.keys(facts).sort()).toEqual(Object.keys(FACTS).sort());
  });

  it("lets a rule test set only the facts it needs, the others staying blank", () => {
    const facts = blankFacts({ "amount.value": 1500, "event.channel": "atm", "customer.isAbroad": true });
    expect(
      pick(facts, [
        "amount.value",
        "event.channel",
        "customer.isAbroad",
        "amount.currency",
        "velocity.sum24h",
      ]),
    ).toStrictEqual({
      "amount.value": 1500,
      "event.channel": "atm",
      "customer.isAbroad": true,
      "amount.currency": null,
      "velocity.sum24h": 0,
    });
  });
});

describe("the facts a risk team asked for first", () => {
  const french: CustomerProfile = { id: "cust-1", homeCountry: "FR", timezone: "Europe/Paris" };
  const phnomPenh = {
    name: "Sovanna",
    mcc: "5812",
    city: "Phnom Penh",
    country: "KH",
    lat: 11.5564,
    lon: 104.9282,
  };
  const fx = new Map([
    ["EUR", { perEur: 1, asOf: "2026-11-20" }],
    ["THB", { perEur: 37.5, asOf: "2026-11-21" }],
    ["USD", { perEur: 1.25, asOf: "2026-11-19" }],
  ]);

  it("reads the clock where the event happened: Phnom Penh's 09:10 on a Sunday", () => {
    const facts = computeFacts(
      payment({ occurredAt: "2026-11-22T02:10:00Z", merchant: phnomPenh }),
      french,
      snapshot(),
    );
    expect(pick(facts, ["event.timezone", "event.localHour", "event.localWeekday"])).toEqual({
      "event.timezone": "Asia/Phnom_Penh",
      "event.localHour": 9,
      "event.localWeekday": 7,
    });
  });

  it("reads the customer's own clock for an online payment, which says nothing of where they are", () => {
    const facts = computeFacts(
      payment({ occurredAt: "2026-11-22T23:30:00Z", channel: "ecommerce", merchant: phnomPenh }),
      french,
      snapshot(),
    );
    // 23:30 UTC is 00:30 on Monday in Paris.
    expect(pick(facts, ["event.timezone", "event.localHour", "event.localWeekday"])).toEqual({
      "event.timezone": "Europe/Paris",
      "event.localHour": 0,
      "event.localWeekday": 1,
    });
  });

  it("reads the customer's own zone for an event with no place, else their home country's", () => {
    const at = (customer: CustomerProfile) => computeFacts(login(), customer, snapshot())["event.timezone"];
    expect(at({ ...french, timezone: "America/Martinique" })).toBe("America/Martinique");
    expect(at({ id: "c", homeCountry: "FR" })).toBe("Europe/Paris");
    // A shop in a country of several zones, with no coordinates: no clock, never the customer's.
    const sydney = { name: "Shop", mcc: "5411", city: "Sydney", country: "AU" };
    const facts = computeFacts(payment({ merchant: sydney }), { id: "c", homeCountry: "FR" }, snapshot());
    expect(facts["event.localHour"]).toBeNull();
    const paris = computeFacts(
      payment({ merchant: { name: "Shop", mcc: "5411", city: "Paris", country: "FR" } }),
      { id: "c", homeCountry: "GB", timezone: "Europe/London" },
      snapshot(),
    );
    expect(paris["event.timezone"]).toBe("Europe/Paris");
  });

  it("has no clock for an event with no place and no customer", () => {
    const facts = computeFacts(login(), undefined, snapshot());
    expect(facts["event.localHour"]).toBeNull();
  });

  it("converts the amount to the customer's home currency, with the older rate's date", () => {
    const facts = computeFacts(
      payment({ amount: { value: 20_000, currency: "THB" } }),
      french,
      snapshot(),
      fx,
    );
    expect(pick(facts, ["amount.home", "amount.homeCurrency", "amount.ratesAsOf"])).toEqual({
      "amount.home": 533.33,
      "amount.homeCurrency": "EUR",
      "amount.ratesAsOf": "2026-11-21",
    });
    const dollars = computeFacts(
      payment({ amount: { value: 100, currency: "USD" } }),
      french,
      snapshot(),
      fx,
    );
    expect(pick(dollars, ["amount.home", "amount.ratesAsOf"])).toEqual({
      "amount.home": 80,
      "amount.ratesAsOf": "2026-11-19",
    });
  });

  it("needs no rate, and dates none, for a payment in the home currency", () => {
    const facts = computeFacts(payment({ amount: { value: 12, currency: "EUR" } }), french, snapshot(), fx);
    expect(pick(facts, ["amount.home", "amount.ratesAsOf"])).toEqual({
      "amount.home": 12,
      "amount.ratesAsOf": null,
    });
  });

  it("leaves the home amount null with no rate for the currency, or no customer", () => {
    expect(
      computeFacts(payment({ amount: { value: 5, currency: "XAF" } }), french, snapshot(), fx)["amount.home"],
    ).toBeNull();
    expect(computeFacts(payment(), undefined, snapshot(), fx)["amount.home"]).toBeNull();
  });

  it("measures the distance from the customer's home, or from their country's centre when no address is known", () => {
    const lyon = { name: "Bouchon", mcc: "5812", city: "Lyon", country: "FR", lat: 45.764, lon: 4.8357 };
    const withHome = computeFacts(
      payment({ merchant: lyon }),
      { ...french, home: { lat: 48.8566, lon: 2.3522 } },
      snapshot(),
    );
    expect(withHome["customer.distanceFromHomeKm"]).toBeCloseTo(392, -1);
    const centroid = computeFacts(payment({ merchant: lyon }), french, snapshot());
    expect(centroid["customer.distanceFromHomeKm"]).toBe(
      Math.round(distanceKm({ lat: 45.764, lon: 4.8357 }, countryCentroid("FR")!) * 10) / 10,
    );
    expect(computeFacts(login(), french, snapshot())["customer.distanceFromHomeKm"]).toBeNull();
  });
});
