import fc from "fast-check";
import { getDistance } from "geolib";
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

  it("answers geolib's getDistance to the bit, anywhere on the globe", () => {
    const point = fc.record({
      lat: fc.double({ min: -90, max: 90, noNaN: true }),
      lon: fc.double({ min: -180, max: 180, noNaN: true }),
    });
    const geolib = (a: { lat: number; lon: number }, b: { lat: number; lon: number }) =>
      getDistance({ latitude: a.lat, longitude: a.lon }, { latitude: b.lat, longitude: b.lon }, 1) / 1000;
    fc.assert(
      fc.property(point, point, (a, b) => {
        expect(distanceKm(a, b)).toBe(geolib(a, b));
      }),
      { numRuns: 5_000 },
    );
    // The same place, the antipodes, and the poles: where the cosine leaves [-1, 1] by rounding.
    for (const [a, b] of [
      [phnomPenh, phnomPenh],
      [phnomPenh, { lat: -11.5564, lon: 104.9282 - 180 }],
      [
        { lat: 90, lon: 0 },
        { lat: -90, lon: 0 },
      ],
      [
        { lat: 0, lon: 180 },
        { lat: 0, lon: -180 },
      ],
    ] as const)
      expect(distanceKm(a, b)).toBe(geolib(a, b));
  });

  it("is symmetric in time and never infinite", () => {
    expect(speedKmh(100, 0, 3_600_000)).toBe(speedKmh(100, 3_600_000, 0));
    expect(speedKmh(100, 5, 5)).toBe(6_000);
  });
});
