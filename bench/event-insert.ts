/**
 * `npx tsx bench/event-insert.ts`: what storing an event costs Postgres, and what each candidate
 * change to the events table or its insert would save, measured alone (no workers, no Redis) so
 * the figure is the server's CPU an event, not a rate other work on the machine moves.
 *
 * Each variant gets a fresh database migrated as touchpoint migrates it, then altered as the
 * variant says; `--prefill` events already stored (a run part-way through); a checkpoint, so the
 * first change to each page after it writes a full-page image as it would in production; then the
 * bench's stream posted in requests of `--chunk` events on one connection. Measured: the backend's
 * CPU (/proc, so the server must be local), the WAL written (use a cluster of your own: the
 * count is cluster-wide), this process's CPU, and the sizes after. Variants are alternated
 * run by run, so a change in what else the machine does falls on each alike.
 *
 *   npx tsx bench/event-insert.ts --database-url postgres://postgres@127.0.0.1:55432/postgres --runs 2
 */
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import postgres from "postgres";
import type { TouchpointEvent } from "../engine/events.ts";
import { migrate } from "../engine/store/database.ts";
import { type EventBatch, insertBatches } from "../engine/store/events.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { processCpuUs } from "./machine.ts";

const program = new Command("event-insert")
  .option(
    "--database-url <url>",
    "a local Postgres to create the databases on",
    "postgres://postgres@127.0.0.1:5432/postgres",
  )
  .option("--events <n>", "events inserted and measured", "60000")
  .option("--customers <n>", "their customers", "10000")
  .option("--prefill <n>", "events stored before the measured ones", "200000")
  .option("--chunk <n>", "events a request (one statement)", "1000")
  .option("--batch <n>", "events a batch (INGEST_BATCH_SIZE)", "100")
  .option("--runs <n>", "rounds of every variant", "2")
  .option("--only <names>", "comma-separated variants");
program.parse();
const o = program.opts();
const N = Number(o.events);
const chunk = Number(o.chunk);
const batchSize = Number(o.batch);

interface Variant {
  name: string;
  what: string;
  /** The last migration applied (default: all of them). */
  through?: string;
  /** DDL after the migrations. */
  alter?: string;
  /** Stores one request's batches; default: touchpoint's own insertBatches. */
  insert?: (sql: postgres.Sql, batches: EventBatch[], at: Date) => Promise<unknown>;
  /** The prefill's id of the i-th event, and the measured events' id (default: theirs). */
  idOf?: (e: TouchpointEvent, batch: string, i: number) => string;
}

/** touchpoint's statement with its pieces swappable: the payload's type and text, the order, the id. */
function unnestInsert(opts: {
  payloadType?: "jsonb" | "json";
  payload?: (e: TouchpointEvent) => string;
  order?: boolean;
  /** The conflict target: touchpoint's (id, occurred_at), the unpartitioned table's id, or none. */
  conflict?: "id" | false;
  idOf?: (e: TouchpointEvent, batch: string, i: number) => string;
}) {
  return async (sql: postgres.Sql, batches: EventBatch[], at: Date) => {
    const ids: string[] = [];
    const customers: string[] = [];
    const types: string[] = [];
    const occurred: string[] = [];
    const payloads: string[] = [];
    const batchIds: string[] = [];
    for (const b of batches)
      b.events.forEach((e, i) => {
        ids.push(opts.idOf ? opts.idOf(e, b.id, i) : e.id);
        customers.push(e.customerId);
        types.push(e.type);
        occurred.push(e.occurredAt);
        payloads.push((opts.payload ?? JSON.stringify)(e));
        batchIds.push(b.id);
      });
    const cast = sql.unsafe(opts.payloadType ?? "json");
    const order = opts.order === false ? sql`` : sql`order by id`;
    const conflict =
      opts.conflict === false
        ? sql``
        : opts.conflict === "id"
          ? sql`on conflict (id) do nothing`
          : sql`on conflict (id, occurred_at) do nothing`;
    return sql`
      with stored as (
        insert into events (id, customer_id, type, occurred_at, received_at, payload, batch_id)
        select id, customer_id, type, occurred_at, ${at}, payload::${cast}, batch_id
        from unnest(${ids}::text[], ${customers}::text[], ${types}::text[], ${occurred}::timestamptz[],
          ${payloads}::text[], ${batchIds}::text[]) as u(id, customer_id, type, occurred_at, payload, batch_id)
        ${order}
        ${conflict}
        returning id, batch_id
      ), made as (
        insert into event_batches (id, received_at, event_ids)
        select batch_id, ${at}, array_agg(id) from stored group by batch_id
      )
      select id from stored`;
  };
}

/** The payload without what the row's own columns already hold. */
const slim = (e: TouchpointEvent) => {
  const { id: _id, customerId: _c, type: _t, occurredAt: _o, ...rest } = e;
  return JSON.stringify(rest);
};
/** A time-ordered key: the batch's id (received time first) and the event's place in it. */
const orderedId = (_e: TouchpointEvent, batch: string, i: number) => `${batch}-${String(i).padStart(3, "0")}`;

const VARIANTS: Variant[] = [
  { name: "current", what: "touchpoint today (insertBatches): weekly partitions, json payload" },
  {
    name: "before-018",
    what: "before migration 018: one unpartitioned table, primary key id, jsonb payload",
    through: "017_rules_as_written.sql",
    insert: unnestInsert({ payloadType: "jsonb", conflict: "id" }),
  },
  {
    name: "jsonb",
    what: "weekly partitions with a jsonb payload (parsed into a tree) instead of json",
    alter: "drop view event_status; alter table events alter column payload type jsonb using payload::jsonb",
    insert: unnestInsert({ payloadType: "jsonb" }),
  },
  {
    name: "no-order",
    what: "the same without `order by id`",
    insert: unnestInsert({ order: false }),
  },
  {
    name: "slim-payload",
    what: "payload without id, customerId, type, occurredAt (already columns)",
    insert: unnestInsert({ payload: slim }),
  },
  {
    name: "ordered-key",
    what: "primary key time-ordered (batch id + place) instead of the client's random id",
    insert: unnestInsert({ idOf: orderedId }),
    idOf: orderedId,
  },
  {
    name: "no-pk",
    what: "no primary key on events (no dedupe: a bound, not a design)",
    alter: "alter table events drop constraint events_pkey",
    insert: unnestInsert({ conflict: false }),
  },
  {
    name: "no-customer-index",
    what: "without events_customer (customer_id, occurred_at) (a bound: rebuilds read by it)",
    alter: "drop index events_customer",
  },
  {
    name: "copy",
    what: "COPY of the events (no dedupe) then the batches in a second statement, one transaction",
    insert: async (sql, batches, at) => {
      const iso = at.toISOString();
      // COPY's text format: tab-separated, backslash and control characters escaped.
      const esc = (s: string) =>
        s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
      const lines: string[] = [];
      for (const b of batches)
        for (const e of b.events)
          lines.push(
            `${esc(e.id)}\t${esc(e.customerId)}\t${esc(e.type)}\t${e.occurredAt}\t${iso}\t${esc(JSON.stringify(e))}\t${esc(b.id)}\n`,
          );
      await sql.begin(async (tx) => {
        const w =
          await tx`copy events (id, customer_id, type, occurred_at, received_at, payload, batch_id) from stdin`.writable();
        await new Promise<void>((done, fail) => {
          w.on("error", fail);
          w.end(lines.join(""), () => done());
        });
        await tx`insert into event_batches ${tx(
          batches.map((b) => ({ id: b.id, received_at: at, event_ids: b.events.map((e) => e.id) })),
          "id",
          "received_at",
          "event_ids",
        )}`;
      });
    },
  },
];

function stream(prefix: string, events: number, customers: number, seed: number) {
  const s = generateStream({
    seed,
    customers,
    impossibleShare: 0.05,
    prefix,
    payments: [Math.max(1, Math.round(events / customers) - 3), Math.round(events / customers) + 3],
  });
  return shuffle(s.events, seed + 1).slice(0, events);
}

/** Requests of `chunk` events, each cut into batches as the API cuts them. */
function requests(events: TouchpointEvent[], t0: number): EventBatch[][] {
  const out: EventBatch[][] = [];
  for (let i = 0, k = 0; i < events.length; i += chunk, k++) {
    const req = events.slice(i, i + chunk);
    const batches: EventBatch[] = [];
    for (let j = 0; j < req.length; j += batchSize)
      batches.push({
        id: `${(t0 + k).toString(36)}-${randomBytes(8).toString("hex")}`,
        events: req.slice(j, j + batchSize),
      });
    out.push(batches);
  }
  return out;
}

async function measure(
  admin: postgres.Sql,
  v: Variant,
  prefill: TouchpointEvent[],
  measured: TouchpointEvent[],
) {
  const db = `tp_insert_${v.name.replace(/\W/g, "_")}_${randomBytes(3).toString("hex")}`;
  await admin`create database ${admin(db)}`;
  const url = new URL(o.databaseUrl);
  url.pathname = `/${db}`;
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await migrate(sql as never, undefined, v.through);
    if (v.alter) await sql.unsafe(v.alter);
    const insert =
      v.insert ?? ((s: postgres.Sql, b: EventBatch[], at: Date) => insertBatches(s as never, b, at));
    const base = Date.now() - 86_400_000;
    // The prefill goes in the variant's own way (its keys, its payload), a day before.
    const pre = requests(prefill, Math.floor(base / 1000));
    for (const [k, r] of pre.entries()) {
      const batches = v.idOf
        ? r.map((b) => ({ ...b, events: b.events.map((e, i) => ({ ...e, id: v.idOf!(e, b.id, i) })) }))
        : r;
      await insert(sql, batches, new Date(base + k));
    }
    await sql`vacuum analyze`;
    await admin`checkpoint`;
    const [b] = await sql`select pg_backend_pid() as pid, pg_current_wal_lsn()::text as lsn`;
    const pid = Number(b!.pid);
    const reqs = requests(measured, Math.floor(Date.now() / 1000));
    const cpu0 = processCpuUs(pid)!;
    const node0 = process.cpuUsage();
    const t0 = performance.now();
    for (const r of reqs) await insert(sql, r, new Date());
    const wallMs = performance.now() - t0;
    const node = process.cpuUsage(node0);
    const cpu1 = processCpuUs(pid)!;
    const [w] = await sql`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${b!.lsn}::pg_lsn)::float8 as bytes`;
    // A partitioned table or index is the sum of its partitions (an unpartitioned one its own).
    const sizes = await sql`
      select name, coalesce((select sum(pg_relation_size(t.relid)) from pg_partition_tree(name::regclass) t),
        pg_relation_size(name::regclass))::float8 as bytes
      from unnest(array['events', 'events_pkey', 'events_customer', 'event_batches', 'event_batches_pkey',
        'event_batches_received']) as name
      where to_regclass(name) is not null`;
    const [count] = await sql`select count(*)::int as n from events`;
    const size = Object.fromEntries(
      sizes.map((r) => [r.name as string, Math.round((r.bytes as number) / 2 ** 20)]),
    );
    return {
      variant: v.name,
      stored: count!.n as number,
      pgUsPerEvent: Math.round(((cpu1 - cpu0) / measured.length) * 10) / 10,
      nodeUsPerEvent: Math.round(((node.user + node.system) / measured.length) * 10) / 10,
      walBytesPerEvent: Math.round(Number(w!.bytes) / measured.length),
      wallUsPerEvent: Math.round((wallMs * 1000) / measured.length),
      mib: size,
    };
  } finally {
    await sql.end();
    await admin`drop database if exists ${admin(db)} with (force)`;
  }
}

async function main() {
  const admin = postgres(o.databaseUrl, { max: 1, onnotice: () => {} });
  const only = o.only ? new Set(String(o.only).split(",")) : undefined;
  const variants = VARIANTS.filter((v) => !only || only.has(v.name));
  const prefill = stream("pre", Number(o.prefill), Math.max(1, Math.round(Number(o.prefill) / 6)), 11);
  const measured = stream("m", N, Number(o.customers), 1);
  process.stdout.write(
    `events insert, ${measured.length} events in requests of ${chunk} (batches of ${batchSize}) after ${prefill.length} stored; CPU of the Postgres backend from /proc\n`,
  );
  const results: Array<Awaited<ReturnType<typeof measure>>> = [];
  try {
    for (let run = 0; run < Number(o.runs); run++)
      for (const v of run % 2 === 0 ? variants : [...variants].reverse()) {
        const r = await measure(admin, v, prefill, measured);
        results.push(r);
        process.stdout.write(
          `  run ${run + 1} ${v.name.padEnd(18)} Postgres ${String(r.pgUsPerEvent).padStart(6)} µs/event, Node ${String(r.nodeUsPerEvent).padStart(5)}, WAL ${String(r.walBytesPerEvent).padStart(5)} B/event, wall ${String(r.wallUsPerEvent).padStart(5)} µs/event; MiB ${JSON.stringify(r.mib)}\n`,
        );
      }
  } finally {
    await admin.end();
  }
  process.stdout.write("median by variant:\n");
  for (const v of variants) {
    const rs = results.filter((r) => r.variant === v.name);
    const med = (k: "pgUsPerEvent" | "nodeUsPerEvent" | "walBytesPerEvent" | "wallUsPerEvent") => {
      const xs = rs.map((r) => r[k]).sort((a, b) => a - b);
      const m = xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
      return Math.round(m * 10) / 10;
    };
    process.stdout.write(
      `  ${v.name.padEnd(18)} Postgres ${String(med("pgUsPerEvent")).padStart(6)} µs/event, Node ${String(med("nodeUsPerEvent")).padStart(5)}, WAL ${String(med("walBytesPerEvent")).padStart(5)} B/event  ${v.what}\n`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
