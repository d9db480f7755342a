/**
 * Redis restarted empty three times while a shuffled stream is posted (issue 22): every impossible
 * traveller is still found by the impossible-travel rule itself, whichever batch each half of a
 * journey was in, and wherever that batch was, when Redis forgot.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { loadPeopleVia } from "../fixtures/stories.ts";
import { startRedis } from "./support/chaos.ts";
import { startTestTouchpoint } from "./support/harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `step`, or a failure naming it if it has not settled within `ms`: a hang says where it hung. */
async function within<T>(ms: number, what: string, step: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not settled in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([step, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("Redis restarted empty while a stream is posted", () => {
  it("finds every impossible traveller by the impossible-travel rule, across three wipes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-wipes-"));
    const redis = await startRedis(join(dir, "redis"));
    const t = await startTestTouchpoint({
      env: {
        REDIS_URL: redis.url,
        // Small batches, many in flight: more of them straddle each wipe.
        INGEST_BATCH_SIZE: "10",
        WORKER_CONCURRENCY: "8",
        SWEEP_EVERY_MS: "300",
        SWEEP_AFTER_MS: "1000",
      },
    });
    try {
      await loadPeopleVia(t.api);
      const stream = generateStream({ seed: 22, customers: 200, impossibleShare: 0.15, prefix: "wipe" });
      for (const { id, ...c } of stream.customers)
        expect((await t.api("PUT", `/v1/customers/${id}`, c)).status).toBe(200);
      const events = shuffle(stream.events, 22);
      const chunks: (typeof events)[] = [];
      for (let i = 0; i < events.length; i += 20) chunks.push(events.slice(i, i + 20));
      const wipeAt = new Set([0.25, 0.5, 0.75].map((f) => Math.floor(chunks.length * f)));
      let wipes = 0;
      for (const [i, chunk] of chunks.entries()) {
        if (wipeAt.has(i)) {
          // While the batches posted just before are still being evaluated.
          await within(30_000, `wipe ${wipes + 1}`, redis.restartEmpty(200));
          wipes++;
        }
        // The API refuses while Redis is away (503); a card switch sends again.
        for (let tries = 0; ; tries++) {
          const r = await within(
            30_000,
            `posting chunk ${i}, try ${tries}`,
            t.api("POST", "/v1/events", chunk),
          );
          if (r.status === 202) break;
          expect(tries, JSON.stringify(r.body)).toBeLessThan(200);
          await sleep(100);
        }
      }
      const pending = async () =>
        JSON.stringify(
          await t.tp.db.sql`select count(*)::int as batches from event_batches where evaluated_at is null`,
        );
      await within(200_000, "draining", t.drained(180_000)).catch(async (err: Error) => {
        throw new Error(`${err.message}; unevaluated: ${await within(5000, "counting", pending())}`);
      });
      expect(wipes).toBe(3);
      const found = await t.tp.db.sql`
        select distinct customer_id from decisions where rule = 'impossible-location-spend'`;
      const caught = new Set(found.map((r) => r.customer_id as string));
      expect(stream.impossible.size).toBeGreaterThanOrEqual(20);
      expect([...stream.impossible].filter((id) => !caught.has(id))).toEqual([]);
      // And no one else: a rebuilt state holds nothing that was not there.
      expect([...caught].filter((id) => !stream.impossible.has(id))).toEqual([]);
    } finally {
      await t.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
