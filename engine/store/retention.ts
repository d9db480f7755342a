/**
 * Event retention: `events` is partitioned by week of occurred_at (migration 018); the weeks ahead
 * are made before events reach them (an older week when a late event first needs it: see
 * insertBatches), and a week wholly older than the retention is dropped whole, with the batch rows
 * of its time, instead of deleting its rows one by one.
 */
import type { Q, Sql } from "./database.ts";

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Partitions kept made ahead of now: ingest takes events up to a week ahead (engine/ingest.ts). */
const PARTITIONS_AHEAD_MS = 3 * WEEK_MS;
/**
 * And behind, for events a little late. Older weeks are made when an event first needs one: made
 * for the whole retention, they would be empty partitions every read by id alone still probes.
 */
const PARTITIONS_BEHIND_MS = WEEK_MS;
/**
 * A batch's events may be dated up to a week after the batch was received (MAX_AHEAD_MS in
 * engine/ingest.ts), so a batch row goes this long after the oldest kept week began, and never
 * while one of its events is stored. ms.
 */
const BATCH_MARGIN_MS = 8 * DAY_MS;
/** A drop waits this long for queries on `events` to finish, then is left for the next run. */
const DROP_LOCK_TIMEOUT = "2s";
/** Batch rows deleted per statement: a short transaction each, however many are due. */
const BATCH_DELETE_CHUNK = 10_000;

/** Partitions are named for the Monday (UTC) their week starts: `events_20261130`. */
const PARTITION_NAME = /^events_(\d{4})(\d{2})(\d{2})$/;

/** The oldest occurred_at kept: anything before is gone, or goes at the next maintenance. */
export function retentionStart(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

/** The weeks kept made around `now`, never before the retention's start. */
export function partitionWindow(now: Date, retentionDays: number): { from: Date; until: Date } {
  const behind = Math.max(now.getTime() - PARTITIONS_BEHIND_MS, retentionStart(now, retentionDays).getTime());
  return { from: new Date(behind), until: new Date(now.getTime() + PARTITIONS_AHEAD_MS) };
}

/**
 * Makes the weekly partitions that cover [from, until) and are missing; returns their names.
 * Safe to run from several processes at once (the SQL function takes an advisory lock).
 */
export async function makeEventPartitions(sql: Q, from: Date, until: Date): Promise<string[]> {
  const rows = await sql`select make_event_partitions(${from}, ${until}) as name`;
  return rows.map((r) => r.name as string);
}

export interface EventPartition {
  name: string;
  /** Its first instant, and the first after it. */
  from: Date;
  until: Date;
}

/** The event partitions, oldest first. */
export async function eventPartitions(sql: Q): Promise<EventPartition[]> {
  const rows = await sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'events'::regclass`;
  return rows
    .flatMap((r) => {
      const m = PARTITION_NAME.exec(r.name as string);
      if (!m) return [];
      const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return [{ name: r.name as string, from, until: new Date(from.getTime() + WEEK_MS) }];
    })
    .sort((a, b) => a.from.getTime() - b.from.getTime());
}

export interface RetentionReport {
  /** Partitions made ahead (and the week behind). */
  created: string[];
  /** Partitions dropped: every event in them older than the retention. */
  dropped: string[];
  /** Partitions due but kept: they hold events not yet evaluated. */
  keptUnevaluated: string[];
  /** Partitions due but left for the next run: a query held `events` past the lock timeout. */
  busy: string[];
  /** Evaluated batch rows deleted. */
  batchesDeleted: number;
}

/**
 * One maintenance run: makes the partitions of `partitionWindow`, drops those wholly older than
 * the retention (never one holding an event whose batch is not evaluated), then deletes evaluated
 * batch rows older than every stored event.
 */
export async function maintainEvents(sql: Sql, now: Date, retentionDays: number): Promise<RetentionReport> {
  const keptFrom = retentionStart(now, retentionDays);
  const window = partitionWindow(now, retentionDays);
  const report: RetentionReport = {
    created: await makeEventPartitions(sql, window.from, window.until),
    dropped: [],
    keptUnevaluated: [],
    busy: [],
    batchesDeleted: 0,
  };
  for (const p of await eventPartitions(sql)) {
    if (p.until.getTime() > keptFrom.getTime()) break;
    const outcome = await dropPartition(sql, p.name);
    if (outcome === "dropped") report.dropped.push(p.name);
    else if (outcome === "unevaluated") report.keptUnevaluated.push(p.name);
    else if (outcome === "busy") report.busy.push(p.name);
  }
  const oldest = (await eventPartitions(sql))[0]?.from ?? keptFrom;
  const before = new Date(Math.min(oldest.getTime(), keptFrom.getTime()) - BATCH_MARGIN_MS);
  for (;;) {
    const gone = await sql`
      delete from event_batches where id in (
        select id from event_batches where received_at < ${before} and evaluated_at is not null
        limit ${BATCH_DELETE_CHUNK})`;
    report.batchesDeleted += gone.count;
    if (gone.count < BATCH_DELETE_CHUNK) break;
  }
  return report;
}

/**
 * Drops one partition unless an event in it waits for evaluation. `events` is locked first, as
 * the drop would lock it anyway (parent before partition, the order inserts take them in: no
 * deadlock), so no event reaches the partition between the check and the drop; a lock not had in
 * DROP_LOCK_TIMEOUT leaves it for the next run rather than stall ingest behind a long query.
 */
async function dropPartition(sql: Sql, name: string): Promise<"dropped" | "unevaluated" | "busy" | "gone"> {
  try {
    return await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(74658)`;
      // Another worker process's run dropped it while this one waited for the lock.
      const [here] = await tx`select to_regclass(${name}) is not null as here`;
      if (!here?.here) return "gone" as const;
      await tx`select set_config('lock_timeout', ${DROP_LOCK_TIMEOUT}, true)`;
      await tx`lock table events in access exclusive mode`;
      const [waiting] = await tx`
        select exists (
          select 1 from event_batches b
          where b.evaluated_at is null
            and exists (select 1 from ${tx(name)} e where e.id = any(b.event_ids) and e.batch_id = b.id)
        ) as any`;
      if (waiting?.any) return "unevaluated" as const;
      await tx`drop table ${tx(name)}`;
      return "dropped" as const;
    });
  } catch (err) {
    // 55P03: lock_not_available (the lock timeout).
    if ((err as { code?: string }).code === "55P03") return "busy";
    throw err;
  }
}
