/**
 * Invariants that once had no test guarding them: each test here failed on a hand-made mutant of
 * the production code that every other test let through (see the mutation-testing issue).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateBatch, RulesetCache } from "../engine/evaluate.ts";
import type { TouchpointEvent } from "../engine/events.ts";
import { CustomerState } from "../engine/features/state.ts";
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

  /** What a worker hands evaluateBatch, built here so a test can run a batch by hand. */
  const evaluateDeps = () => ({
    sql: t.tp.db.sql,
    state: new CustomerState(t.tp.redis, t.tp.keyPrefix),
    rulesets: new RulesetCache(t.tp.db.sql),
    metrics: t.tp.metrics,
    log: t.tp.log,
  });
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
  /** Puts stored events in a waiting batch of their own, as migration 011 leaves an old job's. */
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
    // The same batch again, as BullMQ retries a job whose worker died after storing its decisions.
    const deps = evaluateDeps();
    // Its worker died after storing the decisions and before marking the batch evaluated.
    const [{ batch_id: batch }] = (await t.tp.db.sql`
      update event_batches set evaluated_at = null
      where id in (select batch_id from events where id = any(${events.map((e) => e.id)}))
      returning id as batch_id`) as unknown as [{ batch_id: string }];
    await evaluateBatch(deps, { batch, events, receivedAt: Date.now() });
    await expectFirstDecisionsKept(before);
  });

  it("does not evaluate again a batch that was slow rather than lost, so its decisions do not depend on timing", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const before = await t.tp.db.sql`select event_id, rule from decisions order by event_id, rule`;
    const deps = evaluateDeps();
    // The reconciler's copy of a batch whose first run finished meanwhile.
    const [{ batch_id: batch }] = (await t.tp.db.sql`
      select distinct batch_id from events where id = any(${events.map((e) => e.id)})`) as unknown as [
      { batch_id: string },
    ];
    const again = await evaluateBatch(deps, { batch, events, receivedAt: Date.now() });
    expect(again.evaluated).toBe(0);
    expect(await t.tp.db.sql`select event_id, rule from decisions order by event_id, rule`).toEqual(before);
  });

  it("evaluates jobs queued before batches as the stored batch holding their events, whole and once", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    await t.api("POST", "/v1/events", events);
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const ids = events.map((e) => e.id);
    const decided = await decisions();
    // As migration 011 leaves it: the batch waiting, and two jobs from before that name no batch,
    // each holding some of its events.
    const batch = "before-011:test";
    await asWaitingBatch(batch, ids);
    const receivedAt = Date.now();
    await t.tp.queues.evaluate.addBulk([
      { name: "batch", data: { events: events.slice(0, 2), receivedAt }, opts: { jobId: "before-011-a" } },
      { name: "batch", data: { events: events.slice(2), receivedAt }, opts: { jobId: "before-011-b" } },
    ]);
    await t.drained();
    const [row] = await t.tp.db
      .sql`select evaluated_at, evaluated_version from event_batches where id = ${batch}`;
    expect(row!.evaluated_at).not.toBeNull();
    expect(row!.evaluated_version).toBeGreaterThan(0);
    // Queued once, whole: the two old jobs each asked for the same job, which BullMQ keeps one of.
    const jobs = (await t.tp.queues.evaluate.getJobs(["completed"])).filter((j) => j.data.batch === batch);
    // (The reconciler's first run may re-drive it too: a copy that evaluates nothing.)
    expect(jobs.map((j) => j.returnvalue?.evaluated).filter((n) => n > 0)).toEqual([events.length]);
    await expectFirstDecisionsKept(decided);
  });

  it("lets one of two copies of a batch's job that start together evaluate it, the other leaving it be", async () => {
    const events = loadStory("phnom-penh-paris").steps[0]!.events as TouchpointEvent[];
    // A reconciler run that finds no epoch key re-drives whatever is pending at once: make sure
    // the key is there, so the two copies here are the only ones.
    await eventually(async () =>
      (await t.tp.redis.exists(`${t.tp.keyPrefix}:epoch`)) === 1 ? true : undefined,
    );
    await t.api("POST", "/v1/events", events);
    await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await t.drained();
    const ids = events.map((e) => e.id);
    const batch = "copies-test";
    await asWaitingBatch(batch, ids);
    const evaluate = t.tp.pool!.workers.find((w) => w.name === "evaluate")!;
    await evaluate.pause();
    const data = { batch, events, receivedAt: Date.now() };
    await t.tp.queues.evaluate.addBulk([
      { name: "batch", data, opts: { jobId: "copy-a" } },
      { name: "batch", data, opts: { jobId: "copy-b" } },
    ]);
    evaluate.resume();
    await t.drained();
    const jobs = (await t.tp.queues.evaluate.getJobs(["completed"])).filter((j) => j.data.batch === batch);
    expect(jobs.map((j) => j.returnvalue?.evaluated).sort()).toEqual([0, events.length]);
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
