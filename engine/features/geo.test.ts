import { describe, expect, it } from "vitest";
import { distanceKm, speedKmh } from "./geo.ts";

const phnomPenh = { lat: 11.5564, lon: 104.9282 };
const paris = { lat: 48.8566, lon: 2.3522 };

describe("geo", () => {
  it("measures Phnom Penh to Paris at about 10,000 km", () => {
    const km = distanceKm(phnomPenh, paris);
    expect(km).toBeGreaterThan(9_900);
    expect(km).toBeLessThan(10_200);
  });

  it("says Phnom Penh at 09:10 then Paris at 11:05 needs over 4,900 km/h", () => {
    const km = distanceKm(phnomPenh, paris);
    const v = speedKmh(km, Date.parse("2026-11-22T09:10:00Z"), Date.parse("2026-11-22T11:05:00Z"));
    expect(v).toBeGreaterThan(4_900);
    expect(v).toBeLessThan(5_400);
  });

  it("is symmetric in time and never infinite", () => {
    expect(speedKmh(100, 0, 3_600_000)).toBe(speedKmh(100, 3_600_000, 0));
    expect(speedKmh(100, 5, 5)).toBe(6_000);
  });
});
