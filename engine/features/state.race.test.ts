/**
 * Review (i24): a rebuild reads its history before BEGIN sets its token, so a Redis that forgets
 * the customer after that read and before BEGIN loses every event written into the state in
 * between by a batch observed after the read: neither half of a journey sees the other.
 */
import { describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../events.ts";
import { stateOnRedis } from "./state.testkit.ts";

const pay = (id: string, c: string, at: string, city: string, lat: number, lon: number): TouchpointEvent => ({
  id,
  type: "card.transaction",
  occurredAt: at,
  customerId: c,
  card: { id: "card", last4: "1234" },
  amount: { value: 10, currency: "EUR" },
  merchant: { name: "Shop", city, country: "FR", lat, lon },
  channel: "card_present",
});

describe("a rebuild whose history was read before Redis forgot the customer", () => {
  const on = stateOnRedis("race");

  it("still lets one half of a journey see the other", async () => {
    const c = "race-1";
    const x = pay("x", c, "2026-11-21T09:00:00Z", "Lyon", 45.76, 4.83);
    const b = pay("b", c, "2026-11-22T12:00:00Z", "Paris", 48.85, 2.35);
    const a = pay("a", c, "2026-11-22T14:00:00Z", "Phnom Penh", 11.55, 104.92);
    // Postgres: the events of observed batches (observeBatch commits before a batch's first state write).
    const observed: TouchpointEvent[] = [];
    const historyOf = (own: TouchpointEvent) => async () => observed.filter((e) => e !== own);
    const forget = async () => {
      const keys = await on.redis.keys(`${on.prefix}:c:{${c}}:*`);
      if (keys.length > 0) await on.redis.del(...keys);
    };

    // Batch X (x) is observed, finds the customer unbuilt and reads its history: nothing else yet.
    observed.push(x);
    const xHistory = await historyOf(x)();
    // Batch B (b) is observed and finds the customer unbuilt too.
    observed.push(b);
    let aSnap: unknown;
    let first = true;
    const [bSnap] = await on.state.observeBuilt([b], {
      marks: new Map([[c, undefined]]),
      history: async () => {
        // B's history query: x (A is not observed yet).
        const h = await historyOf(b)();
        if (!first) return h;
        first = false;
        // Before B's BEGIN: X finishes its rebuild (from what it read) and observes x ...
        await on.state.observeBuilt([x], { marks: new Map([[c, undefined]]), history: async () => xHistory });
        // ... batch A is observed, finds X's mark, and writes a into X's state (no b in it yet) ...
        observed.push(a);
        [aSnap] = await on.state.observeBuilt([a], { history: historyOf(a) });
        // ... and Redis restarts empty.
        await forget();
        return h;
      },
    });
    const aSaw = (aSnap as { previousLocation?: { city?: string } }).previousLocation?.city;
    const bSaw = (bSnap as { nextLocation?: { city?: string } }).nextLocation?.city;
    // One of the pair must see the other: a's previous place is Paris, or b's next is Phnom Penh.
    expect({ aSaw, bSaw }).not.toEqual({ aSaw: "Lyon", bSaw: undefined });
    expect(aSaw === "Paris" || bSaw === "Phnom Penh").toBe(true);
  });
});
