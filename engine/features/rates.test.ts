import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../partitioning.ts";
import { countOf, countThisMinute, rateKey } from "./rates.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const PARTITIONS = 16;

describe("countThisMinute", () => {
  let redis: Redis;
  const prefix = `rates-${randomBytes(3).toString("hex")}`;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("counts each customer's events in their minute, across requests, and takes them back off", async () => {
    const at = new Date("2026-11-22T09:00:30Z");
    const customers = Array.from({ length: 200 }, (_, i) => `c-${i}`);
    const first = await countThisMinute(
      redis,
      prefix,
      PARTITIONS,
      new Map(customers.map((c, i) => [c, i + 1])),
      at,
    );
    expect(first).toEqual(new Map(customers.map((c, i) => [c, i + 1])));
    // Two requests at once for the same customers: each sees the other's events, none is lost.
    const [a, b] = await Promise.all([
      countThisMinute(
        redis,
        prefix,
        PARTITIONS,
        new Map([
          ["c-0", 5],
          ["c-1", 1],
        ]),
        at,
      ),
      countThisMinute(redis, prefix, PARTITIONS, new Map([["c-0", 3]]), at),
    ]);
    expect(Math.max(a.get("c-0")!, b.get("c-0")!)).toBe(1 + 5 + 3);
    expect(await countOf(redis, prefix, PARTITIONS, "c-0", at)).toBe(9);
    // Taken back off (events refused or resent), and a customer never seen reads 0.
    expect(await countThisMinute(redis, prefix, PARTITIONS, new Map([["c-1", -3]]), at)).toEqual(
      new Map([["c-1", 0]]),
    );
    expect(await countOf(redis, prefix, PARTITIONS, "nobody", at)).toBe(0);
    // The next minute starts from nothing.
    const next = new Date("2026-11-22T09:01:00Z");
    expect((await countThisMinute(redis, prefix, PARTITIONS, new Map([["c-0", 1]]), next)).get("c-0")).toBe(
      1,
    );
  });

  it("keeps a minute in one hash per partition, each to expire", async () => {
    const at = new Date("2026-11-22T10:00:00Z");
    const customers = Array.from({ length: 100 }, (_, i) => `k-${i}`);
    await countThisMinute(redis, prefix, PARTITIONS, new Map(customers.map((c) => [c, 1])), at);
    const minute = Math.floor(at.getTime() / 60_000);
    const partitions = new Set(customers.map((c) => partitionOf(c, PARTITIONS)));
    for (const p of partitions) {
      const key = rateKey(prefix, p, minute);
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(60);
      expect(ttl).toBeLessThanOrEqual(120);
      expect(Object.keys(await redis.hgetall(key)).sort()).toEqual(
        customers.filter((c) => partitionOf(c, PARTITIONS) === p).sort(),
      );
    }
  });
});
