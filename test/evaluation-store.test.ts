/**
 * What a partition's owner reads and writes in Postgres: a read of stored batches within the span
 * the stream entry names (engine/store/events.ts, `readBatches`), and the evaluation records of
 * several partitions written in one statement (engine/store/decisions.ts, `recordEvaluations` and
 * `RecordWriter`): each record under its own fence, each answered its own decisions and customers,
 * and one record Postgres refuses failing only its own partition.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TouchpointEvent } from "../engine/events.ts";
import type { Hit } from "../engine/rules/reference.ts";
import { openDatabase, type Sql } from "../engine/store/database.ts";
import {
  type EvaluationRecord,
  type NewDecision,
  RecordWriter,
  recordEvaluations,
} from "../engine/store/decisions.ts";
import { EvaluationReads, type ReadKind } from "../engine/store/evaluation-reads.ts";
import { customerHistory, insertBatches, readBatches } from "../engine/store/events.ts";
import { FencedOut, partitionCount, takePartition } from "../engine/store/partitions.ts";
import { spanOf } from "../workers/partitions.ts";
import { PARIS, tx } from "./support/channels.ts";
import { createDatabase } from "./support/harness.ts";

let database: { url: string; drop(): Promise<void> };
let sql: Sql;
let closeDb: () => Promise<void>;
const epochs: number[] = [];

beforeAll(async () => {
  database = await createDatabase();
  const db = await openDatabase({ url: database.url, dataDir: "" });
  sql = db.sql;
  closeDb = db.close;
  await partitionCount(sql, 3);
  for (const p of [0, 1, 2]) epochs[p] = await takePartition(sql, p, "me", new Date());
});

afterAll(async () => {
  await closeDb();
  await database.drop();
});

const hit = (rule: string): Hit => ({
  rule,
  mode: "live",
  severity: "high",
  title: rule,
  team: "fraud",
  eventType: "card.transaction",
  explanation: { held: [], tree: {} },
});

/** A stored batch of one event in `partition`, and a record deciding `rule` on it. */
async function stored(partition: number, rule = "impossible-travel") {
  const tag = randomBytes(4).toString("hex");
  const customer = `c-${tag}`;
  const event = tx(`e-${tag}`, customer, "2026-11-20T10:00:00Z", PARIS) as TouchpointEvent;
  const batch = `b-${tag}`;
  await sql`insert into event_batches (id, received_at, event_ids, partition) values (${batch}, now(), ${[event.id]}, ${partition})`;
  const decision: NewDecision = {
    event,
    hit: hit(rule),
    rulesetVersion: 1,
    decidedAt: new Date(),
    batch,
  };
  const record: EvaluationRecord = {
    fence: { partition, epoch: epochs[partition]! },
    decisions: [decision],
    batches: [batch],
    customers: [],
    version: 1,
    failed: [],
  };
  return { customer, event, batch, record };
}

const evaluatedAt = async (batch: string) =>
  ((await sql`select evaluated_at from event_batches where id = ${batch}`)[0]?.evaluated_at as Date | null) ??
  null;
const decisionsOf = async (customer: string) =>
  (await sql`select rule from decisions where customer_id = ${customer}`).map((r) => r.rule as string);

describe("evaluation records of several partitions in one statement", () => {
  it("writes each record under its own fence and answers each its own decisions and customers", async () => {
    const a = await stored(0);
    const b = await stored(1, "new-device");
    const stale = await stored(2);
    const [ra, rb, rs] = await recordEvaluations(
      sql,
      [a.record, b.record, { ...stale.record, fence: { partition: 2, epoch: epochs[2]! - 1 } }],
      new Date(),
    );
    expect(rs).toBeInstanceOf(FencedOut);
    expect(await evaluatedAt(stale.batch)).toBeNull();
    expect(await decisionsOf(stale.customer)).toEqual([]);
    for (const [r, s, rule] of [
      [ra, a, "impossible-travel"],
      [rb, b, "new-device"],
    ] as const) {
      expect(r).not.toBeInstanceOf(FencedOut);
      if (r instanceof FencedOut || !r) throw new Error("fenced");
      expect(r.inserted.map((d) => [d.rule, d.customerId])).toEqual([[rule, s.customer]]);
      expect(r.customersToCase).toEqual([s.customer]);
      expect(await evaluatedAt(s.batch)).not.toBeNull();
      expect(await decisionsOf(s.customer)).toEqual([rule]);
    }
  });

  it("answers a record's waiting customers from a batch found evaluated, and nothing twice on a retry", async () => {
    const a = await stored(0);
    const [first] = await recordEvaluations(sql, [a.record], new Date());
    expect(first).not.toBeInstanceOf(FencedOut);
    // The same record again (a retry after a crash past the commit): the batch is already marked,
    // nothing new is written, and the customer, passed as waiting, is still handed on.
    const other = await stored(1);
    const [again, beside] = await recordEvaluations(
      sql,
      [{ ...a.record, batches: [], customers: [a.customer] }, other.record],
      new Date(),
    );
    if (again instanceof FencedOut || beside instanceof FencedOut) throw new Error("fenced");
    expect(again!.inserted).toEqual([]);
    expect(again!.customersToCase).toEqual([a.customer]);
    expect(beside!.customersToCase).toEqual([other.customer]);
    expect(await decisionsOf(a.customer)).toEqual(["impossible-travel"]);
  });

  it("sets aside a failed event only where its batch was marked", async () => {
    const a = await stored(0);
    await sql`insert into events (id, occurred_at, received_at, customer_id, type, batch_id, payload)
      values (${a.event.id}, ${a.event.occurredAt}, now(), ${a.customer}, ${a.event.type}, ${a.batch}, ${sql.json(a.event as never)})`;
    const fenced = { ...a.record, fence: { partition: 0, epoch: epochs[0]! - 1 } };
    const failed = [{ id: a.event.id, occurredAt: a.event.occurredAt, batch: a.batch, error: "no rate" }];
    await recordEvaluations(sql, [{ ...fenced, decisions: [], failed }], new Date());
    const errorOf = async () =>
      (await sql`select error from events where id = ${a.event.id}`)[0]?.error as string | null;
    expect(await errorOf()).toBeNull();
    await recordEvaluations(sql, [{ ...a.record, decisions: [], failed }], new Date());
    expect(await errorOf()).toBe("no rate");
  });
});

describe("reading stored batches within their span", () => {
  it("reads every event of a batch spanning two weeks, and still every one when the span given misses some", async () => {
    const events = [
      tx("span-1", "span-c", "2026-11-01T23:59:59.9996Z", PARIS),
      tx("span-2", "span-c", "2026-11-02T00:00:00.0004Z", PARIS),
      tx("span-3", "span-c", "2026-11-09T10:00:00Z", PARIS),
    ] as TouchpointEvent[];
    await insertBatches(sql, [{ id: "span-batch", partition: 0, events }], new Date());
    const ids = (r: Awaited<ReturnType<typeof readBatches>>) =>
      r.flatMap((b) => b.events.map((e) => e.id)).sort();
    // As the evaluator asks: the span of the events, a millisecond either side (microseconds).
    const [from, to] = spanOf(events)!;
    expect(
      ids(await readBatches(sql, ["span-batch"], { from: new Date(from - 1), to: new Date(to + 1) })),
    ).toEqual(["span-1", "span-2", "span-3"]);
    // A span that leaves the last week out is caught by the count and read again, every week.
    expect(
      ids(
        await readBatches(sql, ["span-batch"], {
          from: new Date(from),
          to: new Date("2026-11-03T00:00:00Z"),
        }),
      ),
    ).toEqual(["span-1", "span-2", "span-3"]);
  });
});

describe("EvaluationReads", () => {
  it("answers each round of a shared read exactly what its own read would", async () => {
    const [a, b, c] = ["reads-a", "reads-b", "reads-c"];
    const events = [
      tx("reads-a1", a, "2026-11-01T10:00:00Z", PARIS),
      tx("reads-a2", a, "2026-11-15T10:00:00Z", PARIS),
      tx("reads-a3", a, "2026-11-20T10:00:00Z", PARIS),
      // Filed long before the read's since, still running at it: kept however old.
      {
        id: "reads-a-notice",
        type: "travel.notice",
        occurredAt: "2026-09-01T00:00:00Z",
        customerId: a,
        travel: { countries: ["KH"], from: "2026-09-02T00:00:00Z", to: "2026-12-31T00:00:00Z" },
      },
      tx("reads-b1", b, "2026-10-20T10:00:00Z", PARIS),
      tx("reads-b2", b, "2026-11-18T10:00:00Z", PARIS),
      // A device's first sighting: kept however old.
      {
        id: "reads-b-login",
        type: "login",
        occurredAt: "2026-09-05T00:00:00Z",
        customerId: b,
        device: { id: "dev-b" },
      },
      tx("reads-c1", c, "2026-11-10T10:00:00Z", PARIS),
    ] as TouchpointEvent[];
    await insertBatches(
      sql,
      [
        { id: "reads-old", partition: 0, events },
        {
          id: "reads-new-1",
          partition: 1,
          events: [tx("reads-n1", a, "2026-11-21T10:00:00Z", PARIS) as TouchpointEvent],
        },
        {
          id: "reads-new-2",
          partition: 2,
          events: [tx("reads-n2", b, "2026-11-22T10:00:00Z", PARIS) as TouchpointEvent],
        },
      ],
      new Date(),
    );
    await sql`update event_batches set evaluated_at = now() where id = 'reads-old'`;
    const history = [
      { customers: [a], since: new Date("2026-11-10T00:00:00Z") },
      { customers: [b], since: new Date("2026-11-01T00:00:00Z") },
      { customers: [c], since: new Date("2026-10-01T00:00:00Z") },
    ];
    const batches = [
      {
        ids: ["reads-new-1"],
        span: { from: new Date("2026-11-21T00:00:00Z"), to: new Date("2026-11-21T23:00:00Z") },
      },
      {
        ids: ["reads-new-2", "reads-gone"],
        span: { from: new Date("2026-11-22T00:00:00Z"), to: new Date("2026-11-22T23:00:00Z") },
      },
      { ids: ["reads-old"] },
    ];
    const ids = (events: readonly TouchpointEvent[]) => events.map((e) => e.id).sort();
    // Each read on its own, as the oracle.
    const alone = await Promise.all(
      history.map((h) => customerHistory(sql, h.customers, h.since, 500, [], true).then(ids)),
    );
    expect(alone).toEqual([
      ["reads-a-notice", "reads-a2", "reads-a3"],
      ["reads-b-login", "reads-b2"],
      ["reads-c1"],
    ]);
    const batchesAlone = await Promise.all(batches.map((r) => readBatches(sql, r.ids, r.span)));
    // The same reads come together: the first goes alone, the others share a statement.
    const groups: Array<[ReadKind, number]> = [];
    const reads = new EvaluationReads(sql, (kind, n) => groups.push([kind, n]));
    const shared = await Promise.all(history.map((h) => reads.history(h).then(ids)));
    const batchesShared = await Promise.all(batches.map((r) => reads.batches(r)));
    const profiles = await Promise.all([reads.profiles([a]), reads.profiles([b, c]), reads.profiles([])]);
    expect(shared).toEqual(alone);
    expect(batchesShared).toEqual(batchesAlone);
    expect(batchesShared[1]!.map((b) => b.id)).toEqual(["reads-new-2"]);
    expect(batchesShared[2]![0]!.evaluated).toBe(true);
    expect(groups).toEqual([
      ["history", 1],
      ["history", 2],
      ["batches", 1],
      ["batches", 2],
      ["profiles", 1],
      ["profiles", 1],
    ]);
    expect(profiles[2]!.size).toBe(0);
  });
});

describe("RecordWriter", () => {
  it("writes what comes while a statement is under way together in the next one", async () => {
    const sizes: number[] = [];
    const writer = new RecordWriter(sql, (n) => sizes.push(n));
    const three = await Promise.all([stored(0), stored(1), stored(2)]);
    const results = await Promise.all(three.map((s) => writer.write(s.record)));
    expect(sizes).toEqual([1, 2]);
    expect(results.map((r) => r.customersToCase)).toEqual(three.map((s) => [s.customer]));
  });

  it("fails only the record Postgres refuses: the others of its statement are written", async () => {
    const writer = new RecordWriter(sql);
    const [busy, good, bad] = await Promise.all([stored(0), stored(1), stored(2)]);
    const broken: EvaluationRecord = {
      ...bad.record,
      decisions: bad.record.decisions.map((d) => ({ ...d, event: { ...d.event, occurredAt: "not a time" } })),
    };
    const written = Promise.allSettled([
      writer.write(busy.record),
      writer.write(good.record),
      writer.write(broken),
    ]);
    const [first, second, third] = await written;
    expect(first.status).toBe("fulfilled");
    expect(second.status).toBe("fulfilled");
    expect(third.status).toBe("rejected");
    expect(await evaluatedAt(good.batch)).not.toBeNull();
    expect(await evaluatedAt(bad.batch)).toBeNull();
  });

  it("rejects a fenced record with FencedOut and writes the rest", async () => {
    const writer = new RecordWriter(sql);
    const [busy, good, stale] = await Promise.all([stored(0), stored(1), stored(2)]);
    const results = await Promise.allSettled([
      writer.write(busy.record),
      writer.write(good.record),
      writer.write({ ...stale.record, fence: { partition: 2, epoch: epochs[2]! - 1 } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(FencedOut);
    expect(await evaluatedAt(stale.batch)).toBeNull();
  });
});
