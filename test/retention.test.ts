/**
 * Events are kept EVENT_RETENTION_DAYS and then dropped a week's partition at a time: ingest stays
 * idempotent, refuses what is already past the retention, never drops an event still waiting for
 * evaluation, and a case keeps showing the payment that opened it after its event is gone.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../engine/events.ts";
import { insertBatches, markEvaluated, takeBackBatches } from "../engine/store/events.ts";
import { eventPartitions, maintainEvents, makeEventPartitions } from "../engine/store/retention.ts";
import { loadStory, storiesNear } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { openTravelCase, PARIS, tx } from "./support/payments.ts";

const DAY_MS = 86_400_000;
const daysAgo = (n: number, from = new Date()) => new Date(from.getTime() - n * DAY_MS);
/** The partition (Monday 00:00 UTC) an instant falls in. */
const weekOf = (at: Date) => {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return `events_${day.toISOString().slice(0, 10).replace(/-/g, "")}`;
};

describe("event retention", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    // The harness keeps events ten years (its suites send fixed dates); this suite keeps the default.
    t = await startTestTouchpoint({ env: { EVENT_RETENTION_DAYS: "90" } });
  });
  afterAll(() => t?.close());

  it("stores an event sent twice once", async () => {
    const e = tx("ret-twice", "ret-c1", daysAgo(1).toISOString(), PARIS);
    const first = await t.api("POST", "/v1/events", [e]);
    const second = await t.api("POST", "/v1/events", [e]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(second.body).toMatchObject({ accepted: 0, duplicates: 1 });
    const [row] = await t.tp.db.sql`select count(*)::int as n from events where id = 'ret-twice'`;
    expect(row?.n).toBe(1);
  });

  it("refuses an event older than the retention, by field and with the reason", async () => {
    const r = await t.api("POST", "/v1/events", [
      tx("ret-ancient", "ret-c2", daysAgo(91).toISOString(), PARIS),
      tx("ret-fresh", "ret-c2", daysAgo(89).toISOString(), PARIS),
    ]);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(r.body.errors).toEqual([
      {
        index: 0,
        id: "ret-ancient",
        errors: [
          {
            path: "occurredAt",
            message: expect.stringMatching(/retention of 90 days \(EVENT_RETENTION_DAYS\)/),
          },
        ],
      },
    ]);
    const stored = await t.tp.db.sql`select id from events where id like 'ret-%' and customer_id = 'ret-c2'`;
    expect(stored.map((s) => s.id)).toEqual(["ret-fresh"]);
  });

  it("drops a week older than the retention, and the case it opened still shows its payment", async () => {
    const day = daysAgo(60).toISOString().slice(0, 10);
    const kase = await openTravelCase(t.api, "ret-old", "+33612349001", { day });
    await t.drained();
    const old = weekOf(new Date(`${day}T09:10:00Z`));
    const [before] = await t.tp.db.sql`select count(*)::int as n from events where customer_id = 'ret-old'`;
    expect(before?.n).toBe(2);

    const report = await t.tp.pool!.retention!.runOnce(new Date(), 30);
    expect(report.dropped).toContain(old);
    expect(report.dropped.every((p) => p <= weekOf(daysAgo(30)))).toBe(true);
    const [after] = await t.tp.db.sql`select count(*)::int as n from events where customer_id = 'ret-old'`;
    expect(after?.n).toBe(0);
    expect((await eventPartitions(t.tp.db.sql)).map((p) => p.name)).not.toContain(old);

    const page = await t.api("GET", `/v1/cases/${kase.id}`);
    expect(page.status).toBe(200);
    const events = (page.body.decisions as Array<{ event: { id: string; merchant: { city: string } } }>).map(
      (d) => d.event,
    );
    expect(events.map((e) => e.id)).toContain("ret-old-a2");
    expect(events.find((e) => e.id === "ret-old-a2")?.merchant.city).toBe("Phnom Penh");
  });

  it("stores an event whose week is missing (workers down for weeks, or a shorter retention elsewhere): ingest makes the week", async () => {
    const at = daysAgo(40);
    // The test before dropped every week older than 30 days.
    expect((await eventPartitions(t.tp.db.sql)).map((p) => p.name)).not.toContain(weekOf(at));
    const r = await t.api("POST", "/v1/events", [tx("ret-gap", "ret-c4", at.toISOString(), PARIS)]);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 0 });
    const [row] = await t.tp.db.sql`select tableoid::regclass::text as week from events where id = 'ret-gap'`;
    expect(row?.week).toBe(weekOf(at));
  });

  it("keeps a week past the retention while an event in it waits for evaluation, and its batch rows after", async () => {
    const sql = t.tp.db.sql;
    const at = daysAgo(45);
    const week = weekOf(at);
    // Stored but never queued, received now: the reconciler's sweep takes a batch only once it
    // has waited SWEEP_AFTER_MS (5 min). Received 45 days ago, the sweep could evaluate it at its
    // next pass, before this test marks it.
    await insertBatches(
      sql,
      [{ id: "ret-waiting", events: [tx("ret-w1", "ret-c3", at.toISOString(), PARIS) as TouchpointEvent] }],
      new Date(),
    );
    const kept = await t.tp.pool!.retention!.runOnce(new Date(), 30);
    expect(kept.keptUnevaluated).toContain(week);
    expect(kept.dropped).not.toContain(week);
    const [still] = await sql`select count(*)::int as n from events where id = 'ret-w1'`;
    expect(still?.n).toBe(1);

    expect(await markEvaluated(sql, "ret-waiting", new Date(), 1)).toBe(true);
    // Evaluated now, its batch row dates from when its events came: 45 days ago.
    await sql`update event_batches set received_at = ${at} where id = 'ret-waiting'`;
    const gone = await t.tp.pool!.retention!.runOnce(new Date(), 30);
    expect(gone.dropped).toContain(week);
    // Its batch, received 45 days ago, is older than every stored event (with a week's margin).
    expect(gone.batchesDeleted).toBeGreaterThanOrEqual(1);
    const [batch] = await sql`select count(*)::int as n from event_batches where id = 'ret-waiting'`;
    expect(batch?.n).toBe(0);
    // Batches of stored events stay.
    const [recent] = await sql`
      select count(*)::int as n from events e where not exists (select 1 from event_batches b where b.id = e.batch_id)`;
    expect(recent?.n).toBe(0);
  });

  it("takes back a batch whose job could not be queued, its events across two weeks", async () => {
    const sql = t.tp.db.sql;
    const events = [daysAgo(2), daysAgo(9)].map(
      (at, i) => tx(`ret-back-${i}`, "ret-c5", at.toISOString(), PARIS) as TouchpointEvent,
    );
    await insertBatches(sql, [{ id: "ret-back", events }], new Date());
    expect(await takeBackBatches(sql, ["ret-back"])).toBe(2);
    const [left] = await sql`select count(*)::int as n from events where customer_id = 'ret-c5'`;
    expect(left?.n).toBe(0);
  });

  it("makes the weeks ahead from two processes at once without failing, each week once", async () => {
    const a = postgres(t.databaseUrl!, { max: 1, onnotice: () => {} });
    const b = postgres(t.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const from = new Date("2031-01-06T00:00:00Z");
      const until = new Date("2031-03-03T00:00:00Z");
      const [x, y] = await Promise.all([
        makeEventPartitions(a as never, from, until),
        makeEventPartitions(b as never, from, until),
      ]);
      const made = [...x, ...y].sort();
      expect(made).toHaveLength(8);
      expect(new Set(made).size).toBe(8);
      expect(await makeEventPartitions(a as never, from, until)).toEqual([]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("drops a due week once when two processes' runs come at once, neither failing", async () => {
    const at = daysAgo(50);
    await insertBatches(
      t.tp.db.sql,
      [{ id: "ret-both", events: [tx("ret-both-1", "ret-c6", at.toISOString(), PARIS) as TouchpointEvent] }],
      at,
    );
    await markEvaluated(t.tp.db.sql, "ret-both", at, 1);
    const a = postgres(t.databaseUrl!, { max: 1, onnotice: () => {} });
    const b = postgres(t.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const now = new Date();
      const [x, y] = await Promise.all([
        maintainEvents(a as never, now, 30),
        maintainEvents(b as never, now, 30),
      ]);
      expect([...x.dropped, ...y.dropped].filter((p) => p === weekOf(at))).toHaveLength(1);
      expect([...x.busy, ...y.busy, ...x.keptUnevaluated, ...y.keptUnevaluated]).toEqual([]);
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe("event retention on the embedded database", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ pglite: true, env: { EVENT_RETENTION_DAYS: "90" } });
  }, 60_000);
  afterAll(() => t?.close());

  it("migrates, stores into the week and drops it past the retention", async () => {
    const at = daysAgo(60);
    const r = await t.api("POST", "/v1/events", [tx("ret-pg-1", "ret-pg", at.toISOString(), PARIS)]);
    expect(r.body).toMatchObject({ accepted: 1 });
    await t.drained();
    const report = await t.tp.pool!.retention!.runOnce(new Date(), 30);
    expect(report.dropped).toContain(weekOf(at));
    const [row] = await t.tp.db.sql`select count(*)::int as n from events where id = 'ret-pg-1'`;
    expect(row?.n).toBe(0);
  });
});

describe("the demo a first start plays", () => {
  it("is moved by whole weeks to end in the week before now, its journeys and travel notices alike", () => {
    const now = new Date("2027-06-02T10:00:00Z");
    const [pp, rc] = storiesNear([loadStory("phnom-penh-paris"), loadStory("returning-customer")], now);
    const events = [pp!, rc!].flatMap((s) => s.steps.flatMap((st) => st.events)) as Array<{
      occurredAt: string;
      travel?: { from: string };
    }>;
    const latest = Math.max(...events.map((e) => Date.parse(e.occurredAt)));
    expect(latest).toBeLessThanOrEqual(now.getTime());
    expect(latest).toBeGreaterThan(now.getTime() - 7 * DAY_MS);
    const before = loadStory("phnom-penh-paris").steps.flatMap((st) => st.events) as typeof events;
    const after = pp!.steps.flatMap((st) => st.events) as typeof events;
    const shift = Date.parse(after[0]!.occurredAt) - Date.parse(before[0]!.occurredAt);
    expect(shift % (7 * DAY_MS)).toBe(0);
    expect(Date.parse(after[0]!.travel!.from) - Date.parse(before[0]!.travel!.from)).toBe(shift);
  });

  it("plays with the default retention and opens its cases", async () => {
    const t = await startTestTouchpoint({ env: { SEED_FIXTURES: "1", EVENT_RETENTION_DAYS: "90" } });
    try {
      await t.tp.seeded;
      const [row] = await t.tp.db
        .sql`select count(*)::int as n from cases where customer_id in ('cus-42', 'cus-7')`;
      expect(row?.n).toBeGreaterThanOrEqual(2);
    } finally {
      await t.close();
    }
  }, 60_000);
});
