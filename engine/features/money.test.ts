import { describe, expect, it } from "vitest";
import { convert, defaultFxTable } from "./money.ts";
import { countryCentroid, countryCurrency, localClock, zoneAt } from "./places.ts";

const table = new Map([
  ["GBP", { perEur: 0.8, asOf: "2026-11-21" }],
  ["USD", { perEur: 1.25, asOf: "2026-11-19" }],
]);

describe("convert", () => {
  it("goes through the euro, rounds to the cent, and dates the older rate it used", () => {
    expect(convert(100, "USD", "GBP", table)).toEqual({ value: 64, asOf: "2026-11-19" });
    expect(convert(10, "GBP", "EUR", table)).toEqual({ value: 12.5, asOf: "2026-11-21" });
    expect(convert(10, "EUR", "USD", table)).toEqual({ value: 12.5, asOf: "2026-11-19" });
    expect(convert(1, "USD", "USD", table)).toEqual({ value: 1, asOf: null });
  });
  it("dates the older rate whichever way the conversion goes", () => {
    expect(convert(10, "GBP", "USD", table)?.asOf).toBe("2026-11-19");
  });
  it("says nothing when a rate is missing or not positive", () => {
    expect(convert(1, "ZZZ", "EUR", new Map([["ZZZ", { perEur: 0, asOf: "2026-11-20" }]]))).toBeUndefined();
    expect(convert(1, "XAF", "EUR", table)).toBeUndefined();
    expect(convert(1, "EUR", "XAF", table)).toBeUndefined();
  });
  it("ships a dated table that holds the euro at 1", () => {
    const shipped = defaultFxTable();
    expect(shipped.get("EUR")).toEqual({ perEur: 1, asOf: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(shipped.get("THB")?.perEur).toBeGreaterThan(1);
  });
});

describe("places", () => {
  it("finds the zone from coordinates, else from a country of one zone only", () => {
    expect(zoneAt({ lat: 11.5564, lon: 104.9282 })).toBe("Asia/Phnom_Penh");
    expect(zoneAt({ country: "FR" })).toBe("Europe/Paris");
    // The United States has many zones: the country alone does not say which hour it is.
    expect(zoneAt({ country: "US" })).toBeUndefined();
    expect(zoneAt({})).toBeUndefined();
  });
  it("reads the wall clock in a zone, across a daylight-saving change", () => {
    expect(localClock(Date.parse("2026-11-22T02:10:00Z"), "Asia/Phnom_Penh")).toEqual({
      hour: 9,
      weekday: 7,
      time: "09:10",
    });
    // London: UTC+1 in summer, UTC in winter.
    expect(localClock(Date.parse("2026-07-01T23:30:00Z"), "Europe/London").hour).toBe(0);
    expect(localClock(Date.parse("2026-12-01T23:30:00Z"), "Europe/London").hour).toBe(23);
  });
  it("knows a country's currency and centre", () => {
    expect(countryCurrency("fr")).toBe("EUR");
    expect(countryCurrency("GB")).toBe("GBP");
    expect(countryCurrency("ZZ")).toBeUndefined();
    expect(countryCentroid("KH")).toEqual({ lat: 13, lon: 105 });
  });
});
