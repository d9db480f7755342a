/**
 * Review (i24): a Redis refusing every write for a while (MISCONF: it cannot persist, e.g. a full
 * disk under the child redis-server's append-only file) is the batch's problem, as OOM is. Taken
 * for a fault of the event's own data, each event is set aside with the error (events.error), so
 * it is never evaluated, and never replayed into a rebuilt state.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../events.ts";
import { freePort } from "../store/database.ts";
import { redisAnswers } from "../store/redis.ts";
import { CustomerState } from "./state.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a Redis that refuses writes for a while (MISCONF)", () => {
  let child: ChildProcess | undefined;
  let redis: Redis | undefined;
  afterAll(async () => {
    await redis?.quit().catch(() => {});
    child?.kill("SIGKILL");
  });

  it("fails the batch, to be retried, instead of setting each event aside", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-misconf-"));
    const url = `redis://127.0.0.1:${await freePort()}`;
    child = spawn(
      "redis-server",
      ["--port", url.split(":")[2]!, "--dir", dir, "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    for (let i = 0; i < 100 && !(await redisAnswers(url)); i++) await sleep(50);
    redis = new Redis(url);
    const state = new CustomerState(redis, "misconf");
    const marks = await state.rebuild(["c1"], []);
    expect(marks.get("c1")).toBeDefined();
    // The disk goes away: a snapshot fails, and Redis stops taking writes until one succeeds.
    rmSync(dir, { recursive: true, force: true });
    await redis.bgsave();
    for (let i = 0; i < 100; i++) {
      if (/rdb_last_bgsave_status:err/.test(await redis.info("persistence"))) break;
      await sleep(50);
    }
    await redis.config("SET", "save", "3600 1");

    const pay: TouchpointEvent = {
      id: "p1",
      type: "card.transaction",
      occurredAt: "2026-11-22T12:00:00Z",
      customerId: "c1",
      card: { id: "card", last4: "1234" },
      amount: { value: 10, currency: "EUR" },
      merchant: { name: "Shop", city: "Paris", country: "FR", lat: 48.85, lon: 2.35 },
      channel: "card_present",
    };
    const observed = state.observeBuilt([pay], { history: async () => [] });
    await expect(observed).rejects.toThrow(/MISCONF/);
  });
});
