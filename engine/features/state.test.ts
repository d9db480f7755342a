import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../events.ts";
import { busiest } from "./state.testkit.ts";
import { CustomerState, MAX_KEPT, VELOCITY_SIDE } from "./state.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const pay = (
  id: string,
  at: string,
  city: string,
  lat: number,
  lon: number,
  amount = 10,
): TouchpointEvent => ({
  id,
  type: "card.transaction",
  occurredAt: at,
  customerId: "c1",
  card: { id: "card", last4: "1234" },
  amount: { value: amount, currency: "EUR" },
  merchant: { name: "Shop", city, country: "FR", lat, lon },
  channel: "card_present",
});

describe("CustomerState, on a real Redis", () => {
  let redis: Redis;
  let state: CustomerState;
  const prefix = `st${randomBytes(4).toString("hex")}`;
  // Each test has its own customer id, so they share one prefix without meeting.
  let n = 0;
  const forCustomer = (e: TouchpointEvent, c: string): TouchpointEvent => ({
    ...e,
    customerId: c,
    id: `${c}-${e.id}`,
  });

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    state = new CustomerState(redis, prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("compares a late payment with the one after it in event time", async () => {
    const c = `c${++n}`;
    const [paris] = await state.observe([
      forCustomer(pay("paris", "2026-11-22T11:05:00Z", "Paris", 48.85, 2.35), c),
    ]);
    expect(paris?.previousLocation).toBeUndefined();
    const [pp] = await state.observe([
      forCustomer(pay("pp", "2026-11-22T09:10:00Z", "Phnom Penh", 11.55, 104.92), c),
    ]);
    expect(pp?.previousLocation).toBeUndefined();
    expect(pp?.nextLocation).toMatchObject({ city: "Paris", at: Date.parse("2026-11-22T11:05:00Z") });
  });

  it("gives the same answer when an event is replayed, as a retried job would", async () => {
    const c = `c${++n}`;
    const a = forCustomer(pay("a", "2026-11-22T08:00:00Z", "Lyon", 45.76, 4.83), c);
    const b = forCustomer(pay("b", "2026-11-22T09:00:00Z", "Paris", 48.85, 2.35), c);
    await state.observe([a]);
    const first = await state.observe([b]);
    const again = await state.observe([b]);
    expect(again).toEqual(first);
    expect(first[0]?.txCount1h).toBe(2);
  });

  it("counts the busiest hour containing a payment whatever order the burst arrives in", async () => {
    const c = `c${++n}`;
    const burst = [0, 8, 16, 24, 32].map((m) =>
      forCustomer(
        pay(
          `v${m}`,
          new Date(Date.parse("2026-11-22T10:00:00Z") + m * 60_000).toISOString(),
          "Paris",
          48.85,
          2.35,
          100,
        ),
        c,
      ),
    );
    const snaps = [];
    for (const e of [...burst].reverse()) snaps.push((await state.observe([e]))[0]!);
    // The last to arrive is the earliest payment: it still sees all five, and their sum.
    expect(snaps.at(-1)).toMatchObject({ txCount1h: 5, txSum1h: 500 });
  });

  it("knows a device by its first sighting in event time, even when that sighting arrives last", async () => {
    const c = `c${++n}`;
    const login = (id: string, at: string, device: string): TouchpointEvent => ({
      id,
      type: "login",
      occurredAt: at,
      customerId: c,
      device: { id: device },
    });
    await state.observe([login("l-old", "2026-11-01T10:00:00Z", "phone")]);
    const [late] = await state.observe([login("l2", "2026-11-22T12:00:00Z", "laptop")]);
    expect(late).toMatchObject({
      deviceFirstSeenAt: Date.parse("2026-11-22T12:00:00Z"),
      devicesBeforeLatest: 1,
    });
    const [early] = await state.observe([login("l1", "2026-11-22T09:00:00Z", "laptop")]);
    expect(early?.deviceFirstSeenAt).toBe(Date.parse("2026-11-22T09:00:00Z"));
  });

  it("returns the travel notices still running at the event's time", async () => {
    const c = `c${++n}`;
    const notice: TouchpointEvent = {
      id: "n1",
      type: "travel.notice",
      occurredAt: "2026-11-14T10:00:00Z",
      customerId: c,
      travel: { countries: ["KH"], from: "2026-11-15T00:00:00Z", to: "2026-11-30T00:00:00Z" },
    };
    await state.observe([notice]);
    const [during] = await state.observe([
      forCustomer(pay("p", "2026-11-20T10:00:00Z", "Phnom Penh", 11.55, 104.92), c),
    ]);
    expect(during?.notices).toEqual([
      {
        id: "n1",
        countries: ["KH"],
        from: Date.parse("2026-11-15T00:00:00Z"),
        to: Date.parse("2026-11-30T00:00:00Z"),
      },
    ]);
    const [after] = await state.observe([
      forCustomer(pay("q", "2026-12-02T10:00:00Z", "Phnom Penh", 11.55, 104.92), c),
    ]);
    expect(after?.notices).toEqual([]);
  });

  it("answers with every field intact whatever text the events hold (separators, control characters, emoji)", async () => {
    const c = `c${++n}`;
    // The script answers one NUL-separated string; NUL is the one character ingest refuses.
    const odd = "Saint|Denis \u0001\u001e\u001f\n\t🙂 ''\\";
    const notice: TouchpointEvent = {
      id: `${c}-n|\u0001🙂`,
      type: "travel.notice",
      occurredAt: "2026-11-14T10:00:00Z",
      customerId: c,
      travel: { countries: ["KH", "TH"], from: "2026-11-15T00:00:00Z", to: "2026-11-30T00:00:00Z" },
    };
    const login: TouchpointEvent = {
      id: `${c}-login|\u001f|x`,
      type: "login",
      occurredAt: "2026-11-20T09:00:00Z",
      customerId: c,
      device: { id: "dev|\u0001" },
    };
    await state.observe([
      notice,
      login,
      forCustomer(pay("a", "2026-11-20T08:00:00Z", odd, 48.93, 2.35, 12.5), c),
      forCustomer(pay("b", "2026-11-20T10:00:00Z", `${odd}2`, 48.94, 2.36, 3), c),
    ]);
    const [between] = await state.observe([
      forCustomer(pay("m", "2026-11-20T09:30:00Z", "Paris", 48.85, 2.35, 7), c),
    ]);
    expect(between).toMatchObject({
      previousLocation: { city: odd, country: "FR", lat: 48.93, lon: 2.35 },
      nextLocation: { city: `${odd}2`, lat: 48.94, lon: 2.36 },
      txCount1h: 2,
      txSum1h: 10,
      txCount24h: 3,
      txSum24h: 22.5,
      latestNewDeviceAt: Date.parse("2026-11-20T09:00:00Z"),
      devicesBeforeLatest: 0,
      notices: [{ id: notice.id, countries: ["KH", "TH"] }],
      recent: [
        { type: "login", id: login.id, at: Date.parse("2026-11-20T09:00:00Z") },
        { type: "travel.notice", id: notice.id, at: Date.parse("2026-11-14T10:00:00Z") },
      ],
    });
  });

  it("keeps the latest located event for the customer's current time zone", async () => {
    const c = `c${++n}`;
    await state.observe([
      forCustomer(pay("x", "2026-11-22T11:00:00Z", "Paris", 48.85, 2.35), c),
      forCustomer(pay("y", "2026-11-22T09:00:00Z", "Phnom Penh", 11.55, 104.92), c),
    ]);
    expect(await state.latestLocation(c)).toMatchObject({ city: "Paris" });
  });

  it("finds the card-present payment before and after, past any number of online ones in between", async () => {
    const c = `c${++n}`;
    const online = Array.from(
      { length: 40 },
      (_, i) =>
        ({
          ...pay(
            `o${i}`,
            new Date(Date.parse("2026-11-22T10:01:00Z") + i * 60_000).toISOString(),
            "Web",
            0,
            0,
          ),
          channel: "ecommerce",
        }) as TouchpointEvent,
    );
    await state.observe([
      forCustomer(pay("paris", "2026-11-22T10:00:00Z", "Paris", 48.85, 2.35), c),
      ...online.map((e) => forCustomer(e, c)),
      forCustomer(pay("lyon", "2026-11-22T13:00:00Z", "Lyon", 45.76, 4.84), c),
    ]);
    const [mid] = await state.observe([
      forCustomer(pay("pp", "2026-11-22T11:30:00Z", "Phnom Penh", 11.55, 104.92), c),
    ]);
    expect(mid?.previousLocation).toMatchObject({ city: "Paris", lat: 48.85, lon: 2.35, country: "FR" });
    expect(mid?.nextLocation).toMatchObject({ city: "Lyon", lat: 45.76, lon: 4.84, country: "FR" });
    // The online payments still count in the day's velocity: 40 of them, and the three in person.
    expect(mid?.txCount24h).toBe(43);
  });

  it("rebuilds a customer whose state is in the old layout, and frees its old keys", async () => {
    const c = `c${++n}`;
    const old = ["phys2", "seen2", "tx2", "dev", "newdev", "built2"].map((k) => `${prefix}:c:{${c}}:${k}`);
    await redis.set(old[5]!, "1");
    await redis.zadd(old[2]!, Date.parse("2026-11-22T09:00:00Z"), "abcdefghijkl|10");
    // A laptop first seen two months ago: beyond what a rebuild replays, known only to `newdev`.
    const laptopSeen = Date.parse("2026-09-20T09:00:00Z");
    await redis.zadd(old[4]!, laptopSeen, "laptop");
    expect((await state.marks([c])).get(c)).toBeUndefined();
    const built = await state.rebuild(
      [c],
      [forCustomer(pay("a", "2026-11-22T09:00:00Z", "Paris", 48.85, 2.35), c)],
    );
    expect(built.get(c)).toMatch(/^\d+:/);
    expect((await state.marks([c])).get(c)).toBe(built.get(c));
    expect(await redis.exists(...old)).toBe(0);
    const [next] = await state.observe([
      forCustomer(pay("b", "2026-11-22T09:30:00Z", "Paris", 48.85, 2.35), c),
    ]);
    expect(next?.txCount1h).toBe(2);
    const login: TouchpointEvent = {
      id: "l",
      type: "login",
      occurredAt: "2026-11-22T10:00:00Z",
      customerId: c,
      device: { id: "laptop" },
    };
    const [known] = await state.observe([forCustomer(login, c)]);
    expect(known?.deviceFirstSeenAt).toBe(laptopSeen);
  });

  it("carries the old layout's devices (earliest sighting kept) and latest place over a rebuild", async () => {
    const c = `c${++n}`;
    const k = (x: string) => `${prefix}:c:{${c}}:${x}`;
    const seenAt = Date.parse("2026-09-01T12:00:00Z");
    await redis.zadd(k("seen2"), seenAt, "11.5564|104.9282|KH|abcdefghijkl|Phnom Penh");
    const laptopSeen = Date.parse("2026-09-20T09:00:00Z");
    await redis.zadd(k("newdev"), laptopSeen, "laptop");
    const login = (id: string, at: string): TouchpointEvent => ({
      id,
      type: "login",
      occurredAt: at,
      customerId: c,
      device: { id: "laptop" },
    });
    // The replay sees the laptop again within the window; the old set knows it from before.
    await state.rebuild([c], [login(`${c}-l1`, "2026-11-20T08:00:00Z")]);
    expect(await state.latestLocation(c)).toEqual({
      id: "abcdefghijkl",
      lat: 11.5564,
      lon: 104.9282,
      country: "KH",
      city: "Phnom Penh",
      at: seenAt,
    });
    const [next] = await state.observe([login(`${c}-l2`, "2026-11-22T08:00:00Z")]);
    expect(next?.deviceFirstSeenAt).toBe(laptopSeen);
    expect(await redis.exists(k("seen2"), k("newdev"))).toBe(0);
  });

  it("keeps one member per payment when a retry records it with another amount (new rates)", async () => {
    const c = `c${++n}`;
    const paris = forCustomer(pay("a", "2026-11-22T10:00:00Z", "Paris", 48.85, 2.35, 10), c);
    const phnomPenh = forCustomer(pay("b", "2026-11-22T10:40:00Z", "Phnom Penh", 11.55, 104.92, 5), c);
    await state.observe([paris, phnomPenh]);
    const [again] = await state.observe([paris], (e) => (e.id === paris.id ? 25 : e.amount.value));
    // Not its own neighbour (which would read as 0 km), and counted once, at its new amount.
    expect(again?.previousLocation).toBeUndefined();
    expect(again?.nextLocation).toMatchObject({ city: "Phnom Penh" });
    expect(again).toMatchObject({ txCount1h: 2, txSum1h: 30 });
    expect(await redis.zcard(`${prefix}:c:{${c}}:pay3`)).toBe(2);
  });

  describe("against what a careless or hostile stream can do", () => {
    const at = (c: string, e: TouchpointEvent) => forCustomer(e, c);

    it("keeps a customer's history when one event is dated decades ahead", async () => {
      // History is kept 30 days back from now, so this story happens today.
      const ago = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
      await state.observe([at("h1", pay("paris", ago(3), "Paris", 48.85, 2.35))]);
      await state.observe([at("h1", pay("future", "2099-01-01T00:00:00Z", "Lyon", 45.76, 4.83))]);
      const [tokyo] = await state.observe([at("h1", pay("tokyo", ago(2), "Tokyo", 35.68, 139.69))]);
      expect(tokyo?.previousLocation).toMatchObject({ city: "Paris" });
    });

    it("still sees a password reset behind a burst of logins", async () => {
      const ev = (
        id: string,
        type: "password.reset" | "login" | "payee.added",
        minute: number,
      ): TouchpointEvent => ({
        id,
        type,
        occurredAt: new Date(Date.parse("2026-11-22T10:00:00Z") + minute * 60_000).toISOString(),
        customerId: "h2",
        device: { id: "d1" },
      });
      await state.observe([ev("reset", "password.reset", 0)]);
      await state.observe(Array.from({ length: 60 }, (_, i) => ev(`login-${i}`, "login", 1 + i * 0.5)));
      const [payee] = await state.observe([ev("payee", "payee.added", 40)]);
      expect(payee?.recent.find((r) => r.type === "password.reset")).toMatchObject({ id: "reset" });
    });
  });

  describe("bounded work per event, whatever the customer's history", () => {
    const HOUR = 3_600_000;
    it("counts velocity exactly while a window holds fewer than the cap (fast-check against brute force)", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              minute: fc.integer({ min: 0, max: 6 * 60 }),
              amount: fc.integer({ min: 1, max: 500 }),
            }),
            {
              minLength: 1,
              maxLength: 40,
            },
          ),
          async (rows) => {
            const c = `v${++n}`;
            const base = Date.parse("2026-11-22T06:00:00Z");
            const payments = rows.map((r, i) => ({ at: base + r.minute * 60_000 + i, amount: r.amount }));
            const events = payments.map((p, i) =>
              forCustomer(pay(`p${i}`, new Date(p.at).toISOString(), "Paris", 48.85, 2.35, p.amount), c),
            );
            await state.observe(events);
            // Observed again, every event sees the whole history: compare with the reference.
            const snaps = await state.observe(events);
            payments.forEach((p, i) => {
              expect(snaps[i]!.txCount1h).toBe(busiest(payments, p.at, HOUR).n);
              expect(snaps[i]!.txSum1h).toBe(busiest(payments, p.at, HOUR).sum);
              expect(snaps[i]!.txCount24h).toBe(busiest(payments, p.at, 24 * HOUR).n);
            });
          },
        ),
        { numRuns: 25 },
      );
    });

    it("saturates instead of reading every payment when one customer sends 10,000 in ten seconds", async () => {
      const c = `dense${++n}`;
      const base = Date.parse("2026-11-22T06:00:00Z");
      const events = Array.from({ length: 10_000 }, (_, i) =>
        forCustomer(pay(`d${i}`, new Date(base + i).toISOString(), "Paris", 48.85, 2.35, 1), c),
      );
      for (let i = 0; i < events.length; i += 1000) await state.observe(events.slice(i, i + 1000));
      // The newest MAX_KEPT payments are kept: one in the middle of those.
      const [middle] = await state.observe([events[7500]!]);
      expect(middle!.txCount1h).toBe(2 * VELOCITY_SIDE + 1);
      expect(middle!.txCount24h).toBe(2 * VELOCITY_SIDE + 1);
      expect(await redis.zcard(`${prefix}:c:{${c}}:pay3`)).toBe(MAX_KEPT);
    });
  });
});
