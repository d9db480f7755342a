/** What the customer-state tests share: a real Redis for a suite, and the brute-force references. */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { CustomerState } from "./state.ts";

/**
 * A CustomerState on the test Redis for the calling suite, under a prefix of its own (`tag` and
 * random bytes), whose keys are deleted after the suite. Read `redis` and `state` inside tests.
 */
export function stateOnRedis(tag: string): {
  readonly redis: Redis;
  readonly state: CustomerState;
  prefix: string;
} {
  const prefix = `${tag}${randomBytes(4).toString("hex")}`;
  let redis: Redis | undefined;
  let state: CustomerState | undefined;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
    state = new CustomerState(redis, prefix);
  });
  afterAll(async () => {
    if (!redis) return;
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    await redis.quit();
  });
  return {
    prefix,
    get redis() {
      if (!redis) throw new Error("Redis is opened in beforeAll");
      return redis;
    },
    get state() {
      if (!state) throw new Error("the state is made in beforeAll");
      return state;
    },
  };
}

/** The busiest window of length w that contains t (count and sum), by brute force: the reference. */
export function busiest(payments: ReadonlyArray<{ at: number; amount: number }>, t: number, w: number) {
  let n = 0;
  let sum = 0;
  for (const start of payments.map((p) => p.at).filter((a) => a <= t && a + w >= t)) {
    const inside = payments.filter((p) => p.at >= start && p.at <= start + w);
    n = Math.max(n, inside.length);
    sum = Math.max(
      sum,
      inside.reduce((a, p) => a + p.amount, 0),
    );
  }
  return { n, sum };
}
