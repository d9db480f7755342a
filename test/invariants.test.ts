/**
 * Invariants that once had no test guarding them: each test here failed on a hand-made mutant of
 * the production code that every other test let through (see the mutation-testing issue).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateBatches, RulesetCache } from "../engine/evaluate.ts";
import type { TouchpointEvent } from "../engine/events.ts";
import { MemoryState } from "../engine/features/memory.ts";
import { partitionOf } from "../engine/partitioning.ts";
import { FencedOut, partitionOwners, takePartition } from "../engine/store/partitions.ts";
import { eventually, loadPeopleVia, loadStory, openCaseWith } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { firstCaseHandled, PARIS, PHNOM_PENH, tx } from "./support/payments.ts";

/** Great-circle distance, km, written out here so the test does not trust the code under test. */
function haversineKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(h));
}

describe("invariants", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  /**
   * What a partition's owner hands evaluateBatches, built here so a test can run batches by hand:
   * a state of its own, and the fence of the partition as it is now (a retry by its owner).
   */
  const evaluateAs = async (customerId: string) => {
    const partition = partitionOf(customerId, t.tp.partitions);
    const owner = (await partitionOwners(t.tp.db.sql)).find((o) => o.partition === partition)!;
    const deps = {
      sql: t.tp.db.sql,
      memory: new MemoryState({ maxCustomers: 100 }),
      rulesets: new RulesetCache(t.tp.db.sql),
      metrics: t.tp.metrics,
      log: t.tp.log,
    };
    return (batch: string) =>
      evaluateBatches(deps, { partition, epoch: owner.epoch }, [
        { batch, receivedAt: Date.now(), customers: [customerId] },
      ]);
  };
  const decisions = () =>
    t.tp.db.sql`select event_id, rule, decided_at from decisions order by event_id, rule`;
  /**
   * Every decision of `before` is still there, once, with its first date. (A second run may add a
   * decision for the other payment of a pair, which now sees its neighbour: same case.)
   */
  const expectFirstDecisionsKept = async (before: readonly Record<string, unknown>[]) => {
    const after = await decisions();
    const key = (d: { event_id?: unknown; rule?: unknown }) => `${String(d.event_id)}/${String(d.rule)}`;
    expect(new Set(after.map(key)).size).toBe(after.length);
    for (const d of before) expect(after.find((a) => key(a) === key(d))?.decided_at).toEqual(d.decided_at);
  };
  /** Puts stored events in a waiting batch of their own with no partition, as versions before partitions left one. */
  const asWaitingBatch = (batch: string, ids: string[]) => t.tp.db.sql`
    with made as (
      insert into event_batches (id, received_at, event_ids) values (${batch}, now(), ${ids}) returning id
    )
    update events set batch_id = (select id from made) where id = any(${ids})`;

  it("stores no decision twice when a batch is retried, and keeps each decision's first date", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    await t.api("POST", "/v1/events", events);
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const before = await decisions();
    expect(before.length).toBeGreaterThan(0);
    // Its owner died after storing the decisions and before marking the batch evaluated: the
    // next owner evaluates it again, from a state loaded afresh.
    const [{ batch_id: batch }] = (await t.tp.db.sql`
      update event_batches set evaluated_at = null
      where id in (select batch_id from events where id = any(${events.map((e) => e.id)}))
      returning id as batch_id`) as unknown as [{ batch_id: string }];
    const again = await (await evaluateAs("cus-42"))(batch);
    expect(again.evaluated).toBe(events.length);
    await expectFirstDecisionsKept(before);
  });

  it("does not evaluate again a batch that was slow rather than lost, so its decisions do not depend on timing", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const before = await t.tp.db.sql`select event_id, rule from decisions order by event_id, rule`;
    // The reconciler's copy of a batch whose first run finished meanwhile.
    const [{ batch_id: batch }] = (await t.tp.db.sql`
      select distinct batch_id from events where id = any(${events.map((e) => e.id)})`) as unknown as [
      { batch_id: string },
    ];
    const again = await (await evaluateAs("cus-42"))(batch);
    expect(again.evaluated).toBe(0);
    // Its customer is still handed on, should a decision of an earlier run be waiting for a case.
    expect(await t.tp.db.sql`select event_id, rule from decisions order by event_id, rule`).toEqual(before);
  });

  it("refuses the writes of a process whose partition was taken over since (the fence)", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const [{ batch_id: batch }] = (await t.tp.db.sql`
      update event_batches set evaluated_at = null
      where id in (select batch_id from events where id = any(${events.map((e) => e.id)}))
      returning id as batch_id`) as unknown as [{ batch_id: string }];
    await t.tp.db.sql`delete from decisions where customer_id = 'cus-42' and case_id is null`;
    const stale = await evaluateAs("cus-42");
    // Another process takes the partition (its epoch rises) while this one is about to write.
    const partition = partitionOf("cus-42", t.tp.partitions);
    await takePartition(t.tp.db.sql, partition, "someone-else", new Date());
    await expect(stale(batch)).rejects.toBeInstanceOf(FencedOut);
    const [row] = await t.tp.db.sql`select evaluated_at from event_batches where id = ${batch}`;
    expect(row!.evaluated_at).toBeNull();
    // The process holding it now evaluates it.
    // Until it runs: its own timer may hold the lock this moment.
    await eventually(() => t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 3600_000)));
    await t.drained();
    const [after] = await t.tp.db.sql`select evaluated_at from event_batches where id = ${batch}`;
    expect(after!.evaluated_at).not.toBeNull();
  });

  it("loads again a customer evicted while the batch's reads were under way, so none of its events is set aside", async () => {
    // One process's partitions share its memory: another partition's batch, settling while this
    // one awaited Postgres, may evict a customer this one found held before its reads.
    await t.api("POST", "/v1/events", [tx("evict-pp", "evict-a", "2026-11-20T10:00:00Z", PHNOM_PENH)]);
    await t.drained();
    await t.api("POST", "/v1/events", [tx("evict-paris", "evict-a", "2026-11-20T12:00:00Z", PARIS)]);
    await t.drained();
    const [{ id: batch }] = (await t.tp.db.sql`
      update event_batches set evaluated_at = null
      where id = (select batch_id from events where id = 'evict-paris') returning id`) as unknown as [
      { id: string },
    ];
    const partition = partitionOf("evict-a", t.tp.partitions);
    const owner = (await partitionOwners(t.tp.db.sql)).find((o) => o.partition === partition)!;
    const memory = new MemoryState({ maxCustomers: 1 });
    memory.load(["evict-a"], []);
    const deps = {
      sql: t.tp.db.sql,
      memory,
      rulesets: new RulesetCache(t.tp.db.sql),
      metrics: t.tp.metrics,
      log: t.tp.log,
      // After the reads, before the state: another partition's customer comes in and settles.
      fault: async (point: string) => {
        if (point !== "evaluate.before-state") return;
        memory.load(["another-partition"], []);
        memory.settle();
      },
    };
    const result = await evaluateBatches(deps, { partition, epoch: owner.epoch }, [
      { batch, receivedAt: Date.now(), customers: ["evict-a"] },
    ]);
    expect(result.evaluated).toBe(1);
    const [row] = await t.tp.db.sql`select error from events where id = 'evict-paris'`;
    expect(row!.error).toBeNull();
    expect(memory.holds("evict-a")).toBe(true);
  });

  it("splits a waiting batch of an earlier version by partition and evaluates each part once", async () => {
    const events = [
      tx("split-1", "split-a", "2026-11-20T10:00:00Z", PARIS),
      tx("split-2", "split-a", "2026-11-20T12:00:00Z", PARIS),
      tx("split-3", "split-c", "2026-11-20T12:00:00Z", PARIS),
    ];
    // Different partitions, or the test proves nothing.
    expect(partitionOf("split-a", t.tp.partitions)).not.toBe(partitionOf("split-c", t.tp.partitions));
    await t.api("POST", "/v1/events", events);
    await t.drained();
    const decided = await decisions();
    const ids = events.map((e) => e.id);
    await asWaitingBatch("before-partitions", ids);
    // Until it runs: its own timer may hold the lock this moment.
    await eventually(() => t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 3600_000)));
    await t.drained();
    const rows = await t.tp.db.sql`
      select id, partition, evaluated_at is not null as evaluated, cardinality(event_ids)::int as n
      from event_batches where id like 'before-partitions%' order by id`;
    expect(rows.map((r) => ({ ...r }))).toEqual(
      [
        { partition: partitionOf("split-c", t.tp.partitions), n: 1 },
        { partition: partitionOf("split-a", t.tp.partitions), n: 2 },
      ]
        .map((p) => ({
          id: `before-partitions-p${p.partition}`,
          partition: p.partition,
          evaluated: true,
          n: p.n,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    await expectFirstDecisionsKept(decided);
  });

  it("measures the Phnom Penh to Paris journey as the map does: distance, and distance over time", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as Array<
      TouchpointEvent & { merchant?: { lat: number; lon: number } }
    >;
    const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    const hit = kase.decisions.find((d: { rule: string }) => d.rule === "impossible-location-spend");
    const fact = (name: string) =>
      hit.explanation.held.find((c: { fact: string }) => c.fact === name).factValue as number;
    const pp = events.find((e) => e.id === "pp-004")!;
    const paris = events.find((e) => e.id === "pp-005")!;
    const km = haversineKm(pp.merchant!, paris.merchant!);
    const hours = (Date.parse(paris.occurredAt) - Date.parse(pp.occurredAt)) / 3_600_000;
    // Within 0.5%: earth models differ by that much (this one is the mean radius, 6,371 km).
    const near = (value: number, expected: number) =>
      expect(Math.abs(value - expected) / expected).toBeLessThan(0.005);
    near(fact("travel.distanceKm"), km);
    near(fact("travel.speedKmh"), km / hours);
  });

  it("counts a resent event as a duplicate, evaluated once", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events;
    const again = await t.api("POST", "/v1/events", events);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: events.length, rejected: 0 });
    const [counts] = await t.tp.db.sql`
      select count(*)::int as n from events where id = any(${events.map((e) => (e as { id: string }).id)})`;
    expect(counts?.n).toBe(events.length);
  });

  it("lets an ingest token post events and nothing else", async () => {
    const ingest = t.as(await t.token("ingest"));
    for (const [method, path, body] of [
      ["GET", "/v1/cases", undefined],
      ["GET", "/v1/customers/cus-42", undefined],
      ["PUT", "/v1/customers/cus-x", { name: "X", phone: "+447700900123", homeCountry: "GB" }],
      ["GET", "/v1/advocates", undefined],
      ["GET", "/v1/rulesets/current", undefined],
      ["POST", "/v1/tokens", { role: "admin" }],
    ] as const) {
      const r = await ingest(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
    }
  });

  it("refuses a latitude beyond the poles and a travel notice that ends before it starts", async () => {
    const r = await t.api("POST", "/v1/events", [
      tx("inv-lat", "cus-42", "2026-11-22T10:00:00Z", { ...PARIS, lat: 90.5 }),
      {
        id: "inv-geo",
        type: "login",
        occurredAt: "2026-11-22T10:00:00Z",
        customerId: "cus-42",
        device: { id: "dev-9" },
        geo: { country: "KH", lat: -91, lon: 104.92 },
      },
      {
        id: "inv-notice",
        type: "travel.notice",
        occurredAt: "2026-11-20T10:00:00Z",
        customerId: "cus-42",
        travel: { countries: ["KH"], from: "2026-12-10T00:00:00Z", to: "2026-12-01T00:00:00Z" },
      },
    ]);
    expect(r.body).toMatchObject({ accepted: 0, rejected: 3 });
    expect(r.body.errors.map((e: { errors: Array<{ path: string }> }) => e.errors[0]!.path)).toEqual([
      "merchant.lat",
      "geo.lat",
      "travel.to",
    ]);
  });

  const setAdvocate = (a: { id: string; name: string }, status: string, capacity: number) =>
    t.api("PUT", `/v1/advocates/${a.id}`, { name: a.name, team: "fraud", capacity, status });

  const secondCase = async (customerId: string) => {
    await t.api("POST", "/v1/events", [
      tx(`${customerId}-b1`, customerId, "2026-11-27T09:10:00Z", PARIS),
      tx(`${customerId}-b2`, customerId, "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    return openCaseWith(t.api, customerId, ["impossible-location-spend"]);
  };

  it("counts only open cases against an advocate's capacity: resolved ones do not", async () => {
    const named = await firstCaseHandled(t.api, "inv-load", "+33612345690");
    // Capacity 1, and their only case with this customer is resolved: they are free.
    await t.tp.db.sql`update cases set status = 'resolved', outcome = 'false_alarm', resolved_at = now()
      where advocate_id = ${named.id} and status = 'open'`;
    await setAdvocate(named, "online", 1);
    try {
      const second = await secondCase("inv-load");
      expect(second.advocateId).toBe(named.id);
    } finally {
      await setAdvocate(named, "online", 8);
    }
  });

  it("hands no case back to an advocate who returns at full capacity", async () => {
    const named = await firstCaseHandled(t.api, "inv-full", "+33612345691");
    await setAdvocate(named, "offline", 8);
    const second = await secondCase("inv-full");
    expect(second.advocateId).not.toBe(named.id);
    // Back online, but with room for no case at all.
    await setAdvocate(named, "online", 0);
    try {
      const now = (await t.api("GET", `/v1/cases/${second.id}`)).body;
      expect(now.advocateId).toBe(second.advocateId);
    } finally {
      await setAdvocate(named, "online", 8);
    }
  });
});
