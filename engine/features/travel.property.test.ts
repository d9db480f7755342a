/**
 * Property: whatever order a customer's payments arrive in, every pair of payments that are
 * neighbours in event time is compared at least once, so an impossible journey between
 * neighbours is always caught. The reference is a plain sort by time over all the payments.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../events.ts";
import { computeFacts } from "../rules/facts.ts";
import { distanceKm, speedKmh } from "./geo.ts";
import { stateOnRedis } from "./state.testkit.ts";

const CITIES = [
  { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 },
  { city: "Lyon", country: "FR", lat: 45.764, lon: 4.8357 },
  { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 },
  { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 },
  { city: "New York", country: "US", lat: 40.7128, lon: -74.006 },
];

const impossible = (km: number, kmh: number) => km > 500 && kmh > 900;

describe("impossible travel is caught in any arrival order (fast-check, real Redis)", () => {
  const on = stateOnRedis("pt");
  let run = 0;

  it("flags at least one payment whenever two neighbours in time are an impossible journey, and none when no journey is", async () => {
    const payment = fc.record({
      city: fc.integer({ min: 0, max: CITIES.length - 1 }),
      minute: fc.integer({ min: 0, max: 48 * 60 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(payment, { minLength: 2, maxLength: 7, selector: (p) => p.minute }),
        fc.func(fc.integer()),
        async (payments, order) => {
          const customerId = `p${++run}`;
          const events: TouchpointEvent[] = payments.map((p, i) => ({
            id: `${customerId}-${i}`,
            type: "card.transaction",
            occurredAt: new Date(Date.parse("2026-11-20T00:00:00Z") + p.minute * 60_000).toISOString(),
            customerId,
            card: { id: "c", last4: "0000" },
            amount: { value: 10, currency: "EUR" },
            merchant: { name: "Shop", ...CITIES[p.city]! },
            channel: "card_present",
          }));
          // The reference: sort by time, look at each pair of neighbours.
          const byTime = [...events].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
          const expected = byTime.slice(1).some((e, i) => {
            const prev = byTime[i]!;
            if (e.type !== "card.transaction" || prev.type !== "card.transaction") return false;
            const km = distanceKm(
              e.merchant as { lat: number; lon: number },
              prev.merchant as { lat: number; lon: number },
            );
            return impossible(km, speedKmh(km, Date.parse(e.occurredAt), Date.parse(prev.occurredAt)));
          });
          // Arrival order from the generated function; one event at a time, as separate batches would.
          const arrival = events
            .map((e, i) => ({ e, k: order(i) }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          let flagged = false;
          for (const e of arrival) {
            const [snap] = await on.state.observe([e]);
            const f = computeFacts(e, { id: customerId, homeCountry: "FR" }, snap!);
            const km = f["travel.distanceKm"] as number | null;
            const kmh = f["travel.speedKmh"] as number | null;
            if (km !== null && kmh !== null && impossible(km, kmh)) flagged = true;
          }
          if (expected) expect(flagged).toBe(true);
          // No journey anywhere that is impossible → nothing flagged.
          const anyPair = events.some((a, i) =>
            events.slice(i + 1).some((b) => {
              if (a.type !== "card.transaction" || b.type !== "card.transaction") return false;
              const km = distanceKm(
                a.merchant as { lat: number; lon: number },
                b.merchant as { lat: number; lon: number },
              );
              return impossible(km, speedKmh(km, Date.parse(a.occurredAt), Date.parse(b.occurredAt)));
            }),
          );
          if (!anyPair) expect(flagged).toBe(false);
        },
      ),
      { numRuns: 150, seed: 20261122 },
    );
  });
});
