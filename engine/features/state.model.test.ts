/**
 * The state script against a model: a plain in-memory account of the same customer, written from
 * what each field means rather than how the script gets it. Whatever kinds of events arrive
 * (payments present and online, logins, devices, resets, payees, travel notices), in whatever
 * order, in whatever batches, replayed or not, and with Redis forgetting the customer now and
 * then (rebuilt from what had arrived), also after the customer was found built and before the
 * script ran, or in the middle of their rebuild, every snapshot must be the model's.
 */
import { setFlagsFromString } from "node:v8";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../events.ts";
import { MemoryState } from "./memory.ts";
import { busiest, stateOnRedis } from "./state.testkit.ts";
import { BEHAVIOURS, type CustomerSnapshot } from "./state.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE = Date.parse("2026-11-15T00:00:00Z");
const PLACES = [
  { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 },
  { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 },
  { city: "Saint|Denis", country: "FR", lat: 48.9362, lon: 2.3574 },
  { country: "GB", lat: 51.5072, lon: -0.1276 },
];

const at = (e: TouchpointEvent) => Date.parse(e.occurredAt);
const deviceOf = (e: TouchpointEvent) => ("device" in e && e.device ? e.device.id : undefined);
const placeOf = (e: TouchpointEvent) =>
  e.type === "card.transaction"
    ? e.channel === "ecommerce" || e.merchant.lat === undefined
      ? undefined
      : e.merchant
    : e.geo;

/** What the state should say about `e`, given every event of the customer that has arrived (e among them). */
function model(arrived: readonly TouchpointEvent[], e: TouchpointEvent) {
  const t = at(e);
  const payments = arrived.filter((x) => x.type === "card.transaction");
  const placed = payments
    .filter((x) => x.id !== e.id && placeOf(x))
    .map((x) => ({ at: at(x), place: placeOf(x)! }));
  const near = (list: typeof placed) =>
    list[0] && {
      lat: list[0].place.lat,
      lon: list[0].place.lon,
      country: list[0].place.country,
      city: "city" in list[0].place ? list[0].place.city : undefined,
      at: list[0].at,
    };
  const isPayment = e.type === "card.transaction";
  const amounts = payments.map((x) => ({ at: at(x), amount: x.amount.value }));
  const h1 = isPayment ? busiest(amounts, t, HOUR) : { n: 0, sum: 0 };
  const h24 = isPayment ? busiest(amounts, t, DAY) : { n: 0, sum: 0 };

  const firstSeen = new Map<string, number>();
  for (const x of arrived) {
    const d = deviceOf(x);
    if (d) firstSeen.set(d, Math.min(firstSeen.get(d) ?? Number.POSITIVE_INFINITY, at(x)));
  }
  const sightings = [...firstSeen.values()].filter((s) => s <= t);
  const latest = sightings.length > 0 ? Math.max(...sightings) : undefined;
  const device = deviceOf(e);

  const notices = arrived
    .flatMap((x) => (x.type === "travel.notice" ? [x] : []))
    .map((x) => ({
      id: x.id,
      countries: x.travel.countries,
      from: Date.parse(x.travel.from),
      to: Date.parse(x.travel.to),
    }))
    .filter((n) => n.to >= t)
    .sort((a, b) => a.to - b.to);
  const recent = BEHAVIOURS.flatMap((type) =>
    arrived
      .filter((x) => x.type === type && at(x) <= t && at(x) >= t - 7 * DAY)
      .sort((a, b) => at(b) - at(a))
      .slice(0, 2)
      .map((x) => ({ type, id: x.id, at: at(x) })),
  );
  // Neighbours are looked for around a payment where the card was present, and only then.
  const present = isPayment && placeOf(e) !== undefined;
  return {
    previousLocation: present ? near(placed.filter((p) => p.at <= t).sort((a, b) => b.at - a.at)) : undefined,
    nextLocation: present ? near(placed.filter((p) => p.at >= t).sort((a, b) => a.at - b.at)) : undefined,
    txCount1h: h1.n,
    txSum1h: h1.sum,
    txCount24h: h24.n,
    txSum24h: h24.sum,
    deviceFirstSeenAt: device ? firstSeen.get(device) : undefined,
    latestNewDeviceAt: latest,
    devicesBeforeLatest: latest === undefined ? 0 : sightings.filter((s) => s < latest).length,
    notices,
    recent,
  };
}

/** A snapshot in the model's terms (the place's digest id is the script's own business). */
function comparable(s: CustomerSnapshot) {
  const place = (p: CustomerSnapshot["previousLocation"]) =>
    p && { lat: p.lat, lon: p.lon, country: p.country, city: p.city, at: p.at };
  return {
    previousLocation: place(s.previousLocation),
    nextLocation: place(s.nextLocation),
    txCount1h: s.txCount1h,
    txSum1h: s.txSum1h,
    txCount24h: s.txCount24h,
    txSum24h: s.txSum24h,
    deviceFirstSeenAt: s.deviceFirstSeenAt,
    latestNewDeviceAt: s.latestNewDeviceAt,
    devicesBeforeLatest: s.devicesBeforeLatest,
    notices: s.notices,
    recent: s.recent,
  };
}

type Spec = {
  kind: "present" | "atm" | "online" | (typeof BEHAVIOURS)[number];
  minute: number;
  place: number;
  geo: boolean;
  device: number;
  amount: number;
  noticeDays: number;
};

const specFields = {
  kind: fc.constantFrom(
    "present",
    "present",
    "present",
    "atm",
    "online",
    "online",
    ...BEHAVIOURS,
  ) as fc.Arbitrary<Spec["kind"]>,
  // Five days, so every event is within the velocity windows and the kept month of some others.
  minute: fc.integer({ min: 0, max: 5 * 24 * 60 }),
  place: fc.integer({ min: 0, max: PLACES.length - 1 }),
  geo: fc.boolean(),
  // 0: no device.
  device: fc.integer({ min: 0, max: 3 }),
  amount: fc.integer({ min: 1, max: 500 }),
  noticeDays: fc.integer({ min: -2, max: 6 }),
};
const spec: fc.Arbitrary<Spec> = fc.record(specFields);
const spec0: Spec = { kind: "present", minute: 0, place: 0, geo: false, device: 0, amount: 1, noticeDays: 0 };

function eventOf(customerId: string, s: Spec, i: number): TouchpointEvent {
  // A millisecond apart at least, so "before" and "after" never hang on a tie.
  const occurred = BASE + s.minute * 60_000 + i;
  const base = { id: `${customerId}-e${i}`, occurredAt: new Date(occurred).toISOString(), customerId };
  const device = s.device > 0 ? { device: { id: `dev-${s.device}` } } : {};
  const place = PLACES[s.place]!;
  if (s.kind === "present" || s.kind === "atm" || s.kind === "online")
    return {
      ...base,
      type: "card.transaction",
      card: { id: "card", last4: "4242" },
      amount: { value: s.amount, currency: "EUR" },
      merchant: { name: "Shop", ...place },
      channel: s.kind === "present" ? "card_present" : s.kind === "atm" ? "atm" : "ecommerce",
      ...device,
    };
  const geo = s.geo ? { geo: place } : {};
  if (s.kind === "travel.notice") {
    const from = occurred + s.noticeDays * DAY;
    return {
      ...base,
      type: "travel.notice",
      travel: {
        countries: [place.country],
        from: new Date(from).toISOString(),
        // Ends apart from every other notice's end, so their order is the model's.
        to: new Date(from + 3 * DAY + i).toISOString(),
      },
      ...device,
      ...geo,
    };
  }
  return { ...base, type: s.kind, ...device, ...geo } as TouchpointEvent;
}

describe("the state script against a model of what each snapshot means (fast-check, real Redis)", () => {
  const on = stateOnRedis("sm");
  let run = 0;

  it("gives the model's snapshot for every event, in any arrival order and batching, replayed or rebuilt", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 24 }),
        // Arrival order, batch sizes, replays and forgetting, each from its own stream.
        fc.func(fc.integer()),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 24, maxLength: 24 }),
        fc.array(
          fc.constantFrom("none", "none", "none", "replay", "forget", "forget-checked", "forget-replayed"),
          { minLength: 24, maxLength: 24 },
        ),
        async (specs, order, sizes, twists) => {
          const customerId = `m${++run}`;
          const events = specs.map((s, i) => eventOf(customerId, s, i));
          const arrival = events
            .map((e, i) => ({ e, k: order(i) }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          const arrived: TouchpointEvent[] = [];
          // Redis forgets the customer (a restart, a flush): every key of theirs goes.
          const forget = async () => {
            const keys = await on.redis.keys(`${on.prefix}:c:{${customerId}}:*`);
            if (keys.length > 0) await on.redis.del(...keys);
          };
          const once = (f: () => Promise<void>) => {
            let done = false;
            return async () => {
              if (!done) await f();
              done = true;
            };
          };
          for (let i = 0, b = 0; i < arrival.length; b++) {
            const batch = arrival.slice(i, i + sizes[b % sizes.length]!);
            i += batch.length;
            const twist = twists[b % twists.length];
            // Before the batch; or after the customer was found built and before the script runs;
            // or in the middle of their rebuild, between its replay and the built mark.
            if (twist === "forget" || twist === "forget-replayed") await forget();
            // A replayed event (a retried job) goes again with the batch: it must change nothing.
            const replay = twist === "replay" && arrived.length > 0 ? [arrived[b % arrived.length]!] : [];
            const snaps = (
              await on.state.observeBuilt([...replay, ...batch], {
                // What Postgres holds of the customer: every event of the earlier batches.
                history: async () => [...arrived],
                ...(twist === "forget-checked" ? { beforeObserve: once(forget) } : {}),
                ...(twist === "forget-replayed" ? { afterReplay: once(forget) } : {}),
              })
            ).map((s) => {
              if (s instanceof Error) throw s;
              return s;
            });
            replay.forEach((e, k) => {
              expect(comparable(snaps[k]!), `replay of ${e.id}`).toEqual(model(arrived, e));
            });
            batch.forEach((e, k) => {
              arrived.push(e);
              expect(comparable(snaps[replay.length + k]!), `${e.type} ${e.id}`).toEqual(model(arrived, e));
            });
          }
          // And the customer's clock: the latest located event of any kind.
          const located = events.filter((e) => placeOf(e)).sort((a, b) => at(b) - at(a))[0];
          const latest = await on.state.latestLocation(customerId);
          expect(latest && { city: latest.city, country: latest.country, at: latest.at }).toEqual(
            located && { city: placeOf(located)!.city, country: placeOf(located)!.country, at: at(located) },
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("the in-memory state against the same model (fast-check)", () => {
  let run = 0;

  it("gives the model's snapshot for every event, in any arrival order and batching, replayed, evicted or taken over", () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 40 }),
        fc.func(fc.integer()),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 24, maxLength: 24 }),
        // "drop": the partition moved away and back, or the customer was evicted: loaded again.
        fc.array(fc.constantFrom("none", "none", "none", "replay", "drop"), { minLength: 24, maxLength: 24 }),
        (specs, order, sizes, twists) => {
          const customerId = `mm${++run}`;
          const state = new MemoryState({ maxCustomers: 10 });
          const events = specs.map((s, i) => eventOf(customerId, s, i));
          const arrival = events
            .map((e, i) => ({ e, k: order(i) }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          const arrived: TouchpointEvent[] = [];
          for (let i = 0, b = 0; i < arrival.length; b++) {
            const batch = arrival.slice(i, i + sizes[b % sizes.length]!);
            i += batch.length;
            const twist = twists[b % twists.length];
            if (twist === "drop") state.drop((c) => c === customerId);
            // What Postgres holds of the customer: every event of the earlier batches.
            if (!state.holds(customerId)) state.load([customerId], [...arrived]);
            if (twist === "replay" && arrived.length > 0) {
              const e = arrived[b % arrived.length]!;
              expect(comparable(state.observe(e)), `replay of ${e.id}`).toEqual(model(arrived, e));
            }
            for (const e of batch) {
              arrived.push(e);
              expect(comparable(state.observe(e)), `${e.type} ${e.id}`).toEqual(model(arrived, e));
            }
          }
          const located = events.filter((e) => placeOf(e)).sort((a, b) => at(b) - at(a))[0];
          const latest = state.latestLocation(customerId);
          expect(latest && { city: latest.city, country: latest.country, at: latest.at }).toEqual(
            located && { city: placeOf(located)!.city, country: placeOf(located)!.country, at: at(located) },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("counts a payment exactly an hour or a day away as inside the window, ties included", () => {
    // On a half-hour grid, so payments fall on each other and on the windows' edges: the events
    // above are a millisecond apart and never do. Online payments: velocity alone is in question.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ slot: fc.integer({ min: 0, max: 60 }), amount: fc.integer({ min: 1, max: 500 }) }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (payments) => {
          const customerId = `mg${++run}`;
          const state = new MemoryState({ maxCustomers: 1 });
          state.load([customerId], []);
          const events = payments.map(({ slot, amount }, i) => ({
            ...eventOf(customerId, { ...spec0, kind: "online", amount }, i),
            occurredAt: new Date(BASE + slot * 30 * 60_000).toISOString(),
          }));
          const arrived: Array<{ at: number; amount: number }> = [];
          for (const [i, e] of events.entries()) {
            arrived.push({ at: at(e), amount: payments[i]!.amount });
            const s = state.observe(e);
            const model = arrived;
            expect([s.txCount1h, s.txSum1h, s.txCount24h, s.txSum24h]).toEqual([
              busiest(model, at(e), HOUR).n,
              busiest(model, at(e), HOUR).sum,
              busiest(model, at(e), DAY).n,
              busiest(model, at(e), DAY).sum,
            ]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("holds numbers unboxed, once the code that writes them is optimised", () => {
    // What a major GC marks: an array of doubles is one object, an array of objects one more per
    // number. V8 says which an array is through a native, allowed here for this check alone.
    setFlagsFromString("--allow-natives-syntax");
    const unboxed = new Function("a", "return %HasDoubleElements(a)") as (a: unknown) => boolean;
    const state = new MemoryState({ maxCustomers: 1000 });
    const customers = Array.from({ length: 200 }, (_, c) => `mu${++run}-${c}`);
    state.load(customers, []);
    // Enough events, of every kind and out of order, for the writing code to be optimised.
    const sample = fc.sample(fc.tuple(fc.constantFrom(...customers), spec), { numRuns: 6000, seed: 5 });
    for (const [i, [c, s]] of sample.entries()) state.observe(eventOf(c, s, i));
    const accounts = (state as unknown as { accounts: Map<string, { num: number[] }> }).accounts;
    const boxed = [...accounts].filter(([, a]) => !unboxed(a.num)).map(([c]) => c);
    expect(boxed).toEqual([]);
  });

  it("keeps at most maxCustomers, the least recently evaluated going first", () => {
    const state = new MemoryState({ maxCustomers: 2 });
    const e = (c: string, i: number) =>
      eventOf(c, { kind: "login", minute: i, place: 0, geo: true, device: 0, amount: 1, noticeDays: 0 }, i);
    state.load(["a", "b"], []);
    state.observe(e("a", 1));
    state.load(["c"], []);
    // Loading never evicts (the read at hand needs every customer it loaded or holds)...
    expect(["a", "b", "c"].filter((c) => state.holds(c))).toEqual(["a", "b", "c"]);
    // ...settling after the read does.
    state.settle();
    expect(["a", "b", "c"].filter((c) => state.holds(c))).toEqual(["a", "c"]);
  });
});

describe("the in-memory state against the Redis script, where the model stops (velocity saturated)", () => {
  const on = stateOnRedis("smx");
  let run = 0;

  it("answers as the script does for a customer with more payments a day than VELOCITY_SIDE", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ...specFields,
            // Mostly payments, most within a day: windows of more than VELOCITY_SIDE on a side.
            kind: fc.constantFrom("present", "online", "atm", "present", "online", "login") as fc.Arbitrary<
              Spec["kind"]
            >,
            minute: fc.integer({ min: 0, max: 30 * 60 }),
          }),
          {
            minLength: 150,
            maxLength: 260,
          },
        ),
        fc.integer({ min: 20, max: 120 }),
        async (specs, size) => {
          const customerId = `mx${++run}`;
          const memory = new MemoryState({ maxCustomers: 1 });
          memory.load([customerId], []);
          const events = specs.map((s, i) => eventOf(customerId, s, i));
          for (let i = 0; i < events.length; i += size) {
            const batch = events.slice(i, i + size);
            const fromRedis = await on.state.observe(batch);
            batch.forEach((e, k) => {
              // Marks name their event: by its id in memory, by a digest of it in Redis.
              const fromMemory = memory.observe(e);
              const redis = fromRedis[k]!;
              const id = (m?: { id: string }) => m && { ...m, id: "" };
              expect(
                {
                  ...fromMemory,
                  previousLocation: id(fromMemory.previousLocation),
                  nextLocation: id(fromMemory.nextLocation),
                },
                e.id,
              ).toEqual({
                ...redis,
                previousLocation: id(redis.previousLocation),
                nextLocation: id(redis.nextLocation),
              });
            });
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});
