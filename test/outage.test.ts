/**
 * Postgres goes away mid-stream (stopped as an operator or a failover would) and comes back:
 * the process stays up, clients are told to retry, and nothing is lost or done twice.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { type Api, apiClient, eventually, loadPeopleVia } from "../fixtures/stories.ts";
import { ONCE_PER_CASE } from "./support/chaos.ts";
import { type FakeVonage, startFakeVonage } from "./support/fake-vonage.ts";
import { deleteKeys, TEST_REDIS_URL } from "./support/harness.ts";
import { freePort, running, spawnTouchpoint, untilListening } from "./support/processes.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "./support/throwaway-postgres.ts";

describe("a Postgres restart mid-stream", () => {
  let pg: ThrowawayPostgres;
  let fake: FakeVonage;
  let app: ChildProcess;
  let api: Api;
  let base: string;
  let stderr: () => string = () => "";
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const token = `outage-admin-${randomBytes(12).toString("hex")}`;

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    fake = await startFakeVonage();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const started = spawnTouchpoint({
      PORT: String(port),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN: token,
      SEED_FIXTURES: "0",
      LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? "warn",
      INGEST_BATCH_SIZE: "25",
      VONAGE_API_KEY: "k",
      VONAGE_API_SECRET: "s",
      VONAGE_API_HOST: fake.url,
      VONAGE_REST_HOST: fake.url,
    });
    app = started.child;
    stderr = started.stderr;
    api = apiClient((path, init) => fetch(base + path, init), token);
    await untilListening(base);
    await loadPeopleVia(api);
  });
  afterAll(async () => {
    if (app && running(app)) app.kill("SIGKILL");
    await fake?.close();
    await pg?.destroy();
    await deleteKeys(prefix);
  });

  it("keeps the process up, answers 503 while down and 202 after, and loses and repeats nothing", async () => {
    const stream = generateStream({ seed: 16, customers: 120, impossibleShare: 0.3, prefix: "outage" });
    for (const { id, ...c } of stream.customers) {
      expect((await api("PUT", `/v1/customers/${id}`, c)).status).toBe(200);
    }
    const events = shuffle(stream.events, 16);
    const chunks: (typeof events)[] = [];
    for (let i = 0; i < events.length; i += 50) chunks.push(events.slice(i, i + 50));
    const half = Math.floor(chunks.length / 2);

    // A client as a card switch would be: a chunk refused with 503 is sent again after Retry-After.
    const statuses: number[] = [];
    let accepted = 0;
    const post = async (chunk: (typeof events)[number][], deadlineMs = 60_000) => {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const res = await fetch(`${base}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(chunk),
        });
        statuses.push(res.status);
        const body = (await res.json()) as { accepted?: number; duplicates?: number };
        if (res.status === 202) {
          accepted += body.accepted ?? 0;
          return;
        }
        expect(res.status).toBe(503);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        if (Date.now() > deadline) throw new Error("still refused after the outage");
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    for (const chunk of chunks.slice(0, half)) await post(chunk);
    // Postgres stops while the workers are still busy with what was just accepted.
    await pg.stop("fast");
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    const why = (await down.json()) as { checks: Record<string, boolean>; reasons?: Record<string, string> };
    expect(why.checks.postgres).toBe(false);
    expect(why.reasons?.postgres).toBeTruthy();
    const refused = await fetch(`${base}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(chunks[half]),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    await new Promise((r) => setTimeout(r, 3000));
    expect(app.exitCode, stderr()).toBeNull();
    await pg.start();

    for (const chunk of chunks.slice(half)) await post(chunk);
    expect(accepted).toBe(events.length);
    expect(statuses).toContain(202);

    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await eventually(
        async () => {
          const [r] = await sql`
            select (select count(*) from event_status where evaluated_at is null)::int as pending,
                   (select count(*) from decisions where case_id is null)::int as unlinked,
                   (select count(*) from cases c where not exists (
                      select 1 from messages m where m.case_id = c.id and m.kind = 'fraud_check'
                        and m.status in ('submitted', 'delivered')))::int as untexted`;
          return r?.pending === 0 && r.unlinked === 0 && r.untexted === 0 ? true : undefined;
        },
        60_000,
        "every event evaluated, every decision on a case and every case texted",
      ).catch(async (err) => {
        const stuck = await sql`
          select c.id, c.customer_id, m.status, m.error, m.attempts from cases c
          left join messages m on m.case_id = c.id and m.kind = 'fraud_check'
          where m.status is distinct from 'submitted' and m.status is distinct from 'delivered'`;
        const owed =
          await sql`select key, due_at, done_at, failed_at from owed_work where key like 'check-%' and done_at is null`;
        throw new Error(`${err.message}: ${JSON.stringify({ stuck, owed })}\n${stderr().slice(-3000)}`);
      });
      const [counts] =
        await sql`select count(*)::int as n, count(evaluated_at)::int as evaluated from event_status`;
      expect(counts).toEqual({ n: events.length, evaluated: events.length });
      const cases = await sql`select customer_id, count(*)::int as n from cases group by customer_id`;
      expect(new Set(cases.map((c) => c.customer_id))).toEqual(stream.impossible);
      expect(cases.filter((c) => c.n !== 1)).toEqual([]);
      // One text per impossible traveller reached Vonage, none twice.
      const phones = new Map(stream.customers.map((c) => [c.phone.replace("+", ""), c.id]));
      const texted = fake.messages.map((m) => phones.get(m.to));
      expect(new Set(texted)).toEqual(stream.impossible);
      expect(texted).toHaveLength(stream.impossible.size);
      const [dupes] = await sql`
        select count(*)::int as n from (select case_id, kind, detail from case_timeline
          where kind = any(${ONCE_PER_CASE})
          group by case_id, kind, detail having count(*) > 1) d`;
      expect(dupes?.n).toBe(0);
    } finally {
      await sql.end();
    }

    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(stderr()).not.toContain("TypeError");
    expect(app.exitCode).toBeNull();
    app.kill("SIGTERM");
    const [code] = await once(app, "exit");
    expect(code).toBe(0);
  });
});

describe("SIGTERM while Postgres is gone", () => {
  it("still exits, after at most SHUTDOWN_TIMEOUT_MS of draining", async () => {
    const pg = await startThrowawayPostgres();
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const port = await freePort();
    const { child: app } = spawnTouchpoint({
      PORT: String(port),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN: `outage-admin-${randomBytes(12).toString("hex")}`,
      SEED_FIXTURES: "0",
      LOG_LEVEL: "error",
      SHUTDOWN_TIMEOUT_MS: "2000",
    });
    try {
      await untilListening(`http://127.0.0.1:${port}`);
      await pg.stop("immediate");
      const exited = once(app, "exit");
      app.kill("SIGTERM");
      const ended = await Promise.race([
        exited,
        new Promise((r) => setTimeout(() => r("still running"), 20_000)),
      ]);
      expect(ended).not.toBe("still running");
    } finally {
      if (running(app)) app.kill("SIGKILL");
      await pg.destroy();
      await deleteKeys(prefix);
    }
  });
});
