/**
 * Migrations run on databases that hold data: each is tested from the schema before it, with rows
 * an earlier version wrote, to the schema after it, with nothing lost.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKey, normaliseItems } from "../engine/rules/lists.ts";
import { migrate } from "../engine/store/database.ts";
import { caseCards } from "../engine/store/decisions.ts";
import {
  customerHistory,
  insertBatches,
  markEvaluated,
  observeBatch,
  unevaluatedBatches,
} from "../engine/store/events.ts";
import { getList, patchList } from "../engine/store/lists.ts";
import { maintainEvents } from "../engine/store/retention.ts";
import { createDatabase } from "./support/harness.ts";
import { LYON, tx } from "./support/payments.ts";

/** A database of its own for the describe block it is called in (empty: no migration run), dropped after it. */
function ownDatabase(use: (sql: postgres.Sql) => void) {
  let db: Awaited<ReturnType<typeof createDatabase>> | undefined;
  let sql: postgres.Sql | undefined;
  beforeAll(async () => {
    db = await createDatabase();
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    use(sql);
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });
}

/** A payment of cus-1 in Lyon. */
const event = (id: string, at: string) => tx(id, "cus-1", at, LYON);

describe("011: evaluation recorded per batch", () => {
  let sql: postgres.Sql;
  ownDatabase((s) => {
    sql = s;
  });

  it("keeps when and by which version each event was evaluated, and batches the waiting ones for the reconciler", async () => {
    await migrate(sql, undefined, "010_message_authors.sql");
    const rows: Array<[string, string, string | null, number | null, string | null]> = [
      // [id, received_at, evaluated_at, evaluated_version, error]: two batches, one failed event, two waiting.
      ["a1", "2026-11-01T10:00:00Z", "2026-11-01T10:00:01Z", 3, null],
      ["a2", "2026-11-01T10:00:00Z", "2026-11-01T10:00:01Z", 3, null],
      ["b1", "2026-11-01T11:00:00Z", "2026-11-01T11:00:02Z", 4, null],
      ["f1", "2026-11-01T11:00:00Z", "2026-11-01T11:00:03Z", null, "no zone for the place"],
      ["w1", "2026-11-02T09:00:00Z", null, null, null],
      ["w2", "2026-11-02T09:00:00Z", null, null, null],
    ];
    for (const [id, received, evaluated, version, error] of rows)
      await sql`
        insert into events (id, customer_id, type, occurred_at, received_at, payload, evaluated_at, evaluated_version, error)
        values (${id}, 'cus-1', 'card.transaction', ${received}, ${received},
          ${sql.json(event(id, received) as never)}, ${evaluated}, ${version}, ${error})`;

    expect(await migrate(sql)).toContain("011_event_batches.sql");

    const status = await sql`
      select id, evaluated_at, evaluated_version, error from event_status order by id`;
    expect(
      status.map((r) => [
        r.id,
        (r.evaluated_at as Date | null)?.toISOString() ?? null,
        r.evaluated_version,
        r.error,
      ]),
    ).toEqual(
      rows.map(([id, , evaluated, version, error]) => [
        id,
        evaluated ? new Date(evaluated).toISOString() : null,
        version,
        error,
      ]),
    );
    // Events evaluated together are one batch, as they were one job.
    const [{ n }] =
      (await sql`select count(distinct batch_id)::int as n from events where id in ('a1', 'a2')`) as unknown as [
        { n: number },
      ];
    expect(n).toBe(1);

    // The waiting events are one batch, found by the reconciler with their payloads.
    const waiting = await unevaluatedBatches(sql as never, new Date("2026-11-03T00:00:00Z"), 10);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.events.map((e) => e.id)).toEqual(["w1", "w2"]);
    expect(waiting[0]!.receivedAt.toISOString()).toBe("2026-11-02T09:00:00.000Z");

    // A rebuild reads the evaluated events, not the waiting ones: no run has observed them yet.
    const history = await customerHistory(sql as never, ["cus-1"], new Date("2026-10-01T00:00:00Z"), 100, []);
    expect(history.map((e) => e.id).sort()).toEqual(["a1", "a2", "b1"]);
  });

  it("hands the reconciler whole batches, oldest first, as many as hold its share of events", async () => {
    const at = new Date("2026-11-05T08:00:00Z");
    const stored = await insertBatches(
      sql as never,
      [
        { id: "b1", events: [event("r1", "2026-11-05T07:00:00Z")] },
        { id: "b2", events: [event("r2", "2026-11-05T07:01:00Z")] },
        { id: "b3", events: ["r3", "r4", "r5"].map((id) => event(id, "2026-11-05T07:02:00Z")) },
      ] as never,
      at,
    );
    expect(stored.map((b) => [b.id, b.events.length])).toEqual([
      ["b1", 1],
      ["b2", 1],
      ["b3", 3],
    ]);
    const pending = (max: number) =>
      unevaluatedBatches(sql as never, new Date("2026-11-06T00:00:00Z"), max).then((bs) =>
        bs
          .filter((b) => b.receivedAt.getTime() === at.getTime())
          .map((b) => b.id)
          .sort(),
      );
    // The migrated waiting batch (received earlier) comes first and holds two events.
    expect(await pending(3)).toEqual(["b1"]);
    expect(await pending(4)).toEqual(["b1", "b2"]);
    expect(await pending(5)).toEqual(["b1", "b2", "b3"]);
    // A batch larger than the share still goes, alone, rather than never.
    expect((await unevaluatedBatches(sql as never, new Date("2026-11-06T00:00:00Z"), 1)).length).toBe(1);
  });
});

describe("018: events partitioned by week, decisions keeping their event", () => {
  let sql: postgres.Sql;
  ownDatabase((s) => {
    sql = s;
  });

  it("moves every event into its week, copies each decision's event onto it, and a case keeps its payment once the week is dropped", async () => {
    await migrate(sql, undefined, "017_rules_as_written.sql");
    const now = new Date();
    const recent = new Date(now.getTime() - 3_600_000).toISOString();
    const old = "2025-06-04T10:00:00.000Z";
    await sql`
      insert into event_batches (id, received_at, event_ids, evaluated_at, evaluated_version, observed_at) values
        ('old-batch', ${old}, '{o1}', ${old}, 1, ${old}),
        ('new-batch', ${recent}, '{n1}', null, null, null)`;
    const withDevice = { ...event("n1", recent), device: { id: "dev-9" } };
    await sql`
      insert into events (id, customer_id, type, occurred_at, received_at, payload, batch_id) values
        ('o1', 'cus-1', 'card.transaction', ${old}, ${old}, ${sql.json(event("o1", old) as never)}, 'old-batch'),
        ('n1', 'cus-1', 'card.transaction', ${recent}, ${recent}, ${sql.json(withDevice as never)}, 'new-batch')`;
    await sql`insert into cases (id, customer_id, severity, team, title) values ('case-o', 'cus-1', 'high', 'fraud', 'Lyon')`;
    await sql`
      insert into decisions (event_id, customer_id, rule, ruleset_version, severity, title, team, explanation, case_id)
      values ('o1', 'cus-1', 'big-spend', 1, 'high', 'Lyon', 'fraud', '{}', 'case-o')`;

    expect(await migrate(sql)).toContain("018_event_partitions.sql");

    const parts = await sql`select id, tableoid::regclass::text as week from events order by id`;
    expect(parts.map((r) => [r.id, r.week])).toEqual([
      ["n1", expect.stringMatching(/^events_\d{8}$/)],
      ["o1", "events_20250602"],
    ]);
    const [d] = await sql`select event_occurred_at, event_received_at, event_payload from decisions`;
    expect((d!.event_occurred_at as Date).toISOString()).toBe(old);
    expect(d!.event_payload).toEqual(event("o1", old));

    // The waiting batch is read back whole by the run that observes it; its device is known.
    expect((await observeBatch(sql as never, "new-batch", true)).events).toEqual([withDevice]);
    await markEvaluated(sql as never, "new-batch", now, 1);
    const history = await customerHistory(sql as never, ["cus-1"], new Date(now.getTime() + 60_000), 1, []);
    expect(history.map((e) => e.id)).toContain("n1");
    // A resent event is a duplicate still.
    expect(await insertBatches(sql as never, [{ id: "again", events: [withDevice as never] }], now)).toEqual(
      [],
    );

    const report = await maintainEvents(sql as never, now, 90);
    expect(report.dropped).toContain("events_20250602");
    expect(report.batchesDeleted).toBe(1);
    expect(await sql`select id from events`).toHaveLength(1);
    expect(await caseCards(sql as never, "case-o")).toEqual([{ id: "cus-1-card", last4: "4242" }]);
  });
});

describe("020: list items kept as lookups compare them", () => {
  const PRIYA = { by: "Priya (fraud strategy)", tokenId: "tok-priya" };
  let sql: postgres.Sql;
  ownDatabase((s) => {
    sql = s;
  });

  it("rewrites padded and decomposed items to their key, once per key, so a PATCH can remove them", async () => {
    await migrate(sql, undefined, "019_partitions.sql");
    // As lists were stored before listKey: one item padded, one decomposed, one decomposed twin of
    // an item already in NFC, one blank once trimmed, and a plain one.
    const legacy = [
      "  Shop X ",
      "Galerie Lumie\u0300re",
      "Café",
      "Cafe\u0301",
      "\u00a0",
      "Casino Royale Online",
    ];
    await sql`insert into lists (name, version, size, updated_by) values ('legacy', 3, ${legacy.length}, 'priya')`;
    for (const item of legacy) await sql`insert into list_items (list_name, item) values ('legacy', ${item})`;

    expect(await migrate(sql)).toContain("020_list_items_keyed.sql");

    const items = [...(await getList(sql as never, "legacy")).items].sort();
    expect(items).toEqual(["Café", "Casino Royale Online", "Galerie Lumière", "Shop X"].map(listKey).sort());
    const [list] = await sql`select size, version from lists where name = 'legacy'`;
    expect(list).toEqual({ size: 4, version: 3 });
    // What the issue was: removing the item as an analyst types it now finds it.
    const removed = await patchList(
      sql as never,
      "legacy",
      { add: [], remove: normaliseItems(["Galerie Lumière", "Shop X"]) },
      PRIYA,
    );
    expect(removed).toMatchObject({ removed: 2, size: 2 });
  });
});
