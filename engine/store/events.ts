/**
 * Events and their batches: stored once by id before they are queued, observed and marked
 * evaluated per batch, and read back to rebuild a customer's Redis state or re-drive lost work.
 */
import type { TouchpointEvent } from "../events.ts";
import type { Q, Sql } from "./database.ts";
import { makeEventPartitions } from "./retention.ts";

/** Events the API queues as one `evaluate` job, under an id of their own. */
export interface EventBatch {
  id: string;
  /** The evaluation partition all its events belong to (absent in batches of earlier versions). */
  partition?: number;
  events: TouchpointEvent[];
}

/**
 * Stores a request's events not seen before, each with its batch, and a row per batch that kept
 * any, in one statement: all or nothing, so a failed request leaves nothing half stored.
 * Duplicates (by id and occurredAt) are skipped. Returns the batches as stored: only their new
 * events, and only batches left with one.
 */
export async function insertBatches(
  sql: Q,
  batches: readonly EventBatch[],
  receivedAt: Date,
): Promise<EventBatch[]> {
  // Column by column, each payload its own JSON text: Postgres checks it as json (kept as text,
  // not parsed into jsonb: migration 018) and reads the columns as given. Measured (reports of
  // 60,000 events in requests of 1,000): 24 µs of Postgres CPU an event, where one JSON array
  // taken apart in SQL (jsonb_array_elements and ->> per column) cost 38, for 4 µs more of Node
  // CPU; text, not jsonb[], as the client would encode each string as a JSON string. Seven
  // parameters however many events.
  const ids: string[] = [];
  const customers: string[] = [];
  const types: string[] = [];
  const occurred: string[] = [];
  const payloads: string[] = [];
  const devices: Array<string | null> = [];
  const batchIds: string[] = [];
  const partitions = new Map(batches.map((b) => [b.id, b.partition]));
  for (const b of batches) {
    for (const e of b.events) {
      ids.push(e.id);
      customers.push(e.customerId);
      types.push(e.type);
      occurred.push(e.occurredAt);
      payloads.push(JSON.stringify(e));
      devices.push("device" in e && e.device ? e.device.id : null);
      batchIds.push(b.id);
    }
  }
  if (ids.length === 0) return [];
  const store = () => sql`
    with stored as (
      insert into events (id, customer_id, type, occurred_at, received_at, payload, device_id, batch_id)
      select id, customer_id, type, occurred_at, ${receivedAt}, payload::json, device_id, batch_id
      from unnest(${ids}::text[], ${customers}::text[], ${types}::text[], ${occurred}::timestamptz[],
        ${payloads}::text[], ${devices as string[]}::text[], ${batchIds}::text[])
        as u(id, customer_id, type, occurred_at, payload, device_id, batch_id)
      -- In id order: two requests sharing events take their locks in the same order (no deadlock).
      order by id
      -- A resent event has the same id and occurredAt: the partition key is part of the key.
      on conflict (id, occurred_at) do nothing
      returning id, batch_id, occurred_at
    ), made as (
      -- With its partition, and the span of its events' dates (a read of its events reads only those weeks).
      insert into event_batches (id, received_at, event_ids, partition, occurred_from, occurred_to)
      select s.batch_id, ${receivedAt}, array_agg(s.id), min(p.partition), min(s.occurred_at), max(s.occurred_at)
      from stored s join unnest(${[...partitions.keys()]}::text[], ${[...partitions.values()].map((p) => p ?? null)}::int[]) as p(id, partition)
        on p.id = s.batch_id
      group by s.batch_id
    )
    select id from stored`;
  let inserted: Awaited<ReturnType<typeof store>>;
  try {
    inserted = await store();
  } catch (err) {
    // 23514: an event's week has no partition (the workers, which make them ahead, were down for
    // weeks, or run with a shorter EVENT_RETENTION_DAYS): made here, then stored as usual.
    if ((err as { code?: string }).code !== "23514") throw err;
    const times = occurred.map((t) => Date.parse(t));
    await makeEventPartitions(sql, new Date(Math.min(...times)), new Date(Math.max(...times) + 1));
    inserted = await store();
  }
  const fresh = new Set(inserted.map((r) => r.id as string));
  return batches
    .map((b) => ({ ...b, events: b.events.filter((e) => fresh.has(e.id)) }))
    .filter((b) => b.events.length > 0);
}

/**
 * Takes back stored batches not yet evaluated, with their events (their jobs could not be
 * queued), in one statement. Returns how many events were taken back.
 */
export async function takeBackBatches(sql: Q, batchIds: readonly string[]): Promise<number> {
  if (batchIds.length === 0) return 0;
  const gone = await sql`
    with taken as (
      delete from event_batches where id = any(${batchIds as string[]}) and evaluated_at is null
      returning event_ids, occurred_from, occurred_to
    )
    delete from events where id in (select unnest(event_ids) from taken)
      -- Only the weeks the batches span, not every week's index (all of them if one has no span).
      and occurred_at between
        coalesce((select case when count(*) = count(occurred_from) then min(occurred_from) end from taken), '-infinity')
        and coalesce((select case when count(*) = count(occurred_to) then max(occurred_to) end from taken), 'infinity')
    returning id`;
  return gone.length;
}

/**
 * Marks a batch observed (its events may reach the customers' Redis state from now on, so a
 * rebuild must replay them: see `customerHistory`) and says whether it is stored (its events were
 * not taken back) and when it was evaluated. Written once per batch, before its first observe.
 */
export async function observeBatch(
  sql: Q,
  batchId: string,
  /** Also read the batch's events (stored once, by the API; the job carries only the batch's id). */
  withEvents = false,
): Promise<{ stored: boolean; evaluatedAt?: Date; events?: TouchpointEvent[] }> {
  // One statement: the select reads the row as it was before the update, evaluated_at unchanged
  // by it; the events of a batch not yet evaluated come in the same round trip, by primary key,
  // from the weeks its events' dates span (a batch from before 018 without them reads every week).
  const [row] = await sql`
    with observed as (
      update event_batches set observed_at = now() where id = ${batchId} and observed_at is null returning id
    )
    select b.evaluated_at,
      case when ${withEvents} and b.evaluated_at is null then
        (select coalesce(json_agg(e.payload), '[]'::json) from events e
          where e.id = any(b.event_ids) and e.batch_id = b.id
            and e.occurred_at between coalesce(b.occurred_from, '-infinity') and coalesce(b.occurred_to, 'infinity'))
      end as events
    from event_batches b where b.id = ${batchId}`;
  if (!row) return { stored: false };
  const events = (row.events as TouchpointEvent[] | null) ?? undefined;
  return {
    stored: true,
    ...(row.evaluated_at ? { evaluatedAt: row.evaluated_at as Date } : {}),
    ...(events ? { events } : {}),
  };
}

/**
 * Marks a batch evaluated, with the ruleset version that evaluated it (one row, however many
 * events), and sets aside with their reasons the events that could not be evaluated, in one
 * statement: a crash leaves both undone, and the retry evaluates the batch afresh. False when
 * the batch was already marked (a slow first run finished meanwhile) or is no longer stored.
 */
export async function markEvaluated(
  sql: Q,
  batchId: string,
  at: Date,
  version: number,
  failed: ReadonlyArray<{ id: string; error: string }> = [],
): Promise<boolean> {
  const rows = await sql`
    with marked as (
      update event_batches set evaluated_at = ${at}, evaluated_version = ${version}
      where id = ${batchId} and evaluated_at is null returning id
    ), failed as (
      update events set error = f.error
      from unnest(${failed.map((f) => f.id)}::text[], ${failed.map((f) => f.error.slice(0, 2000))}::text[]) as f(id, error)
      where events.id = f.id and exists (select 1 from marked)
    )
    select id from marked`;
  return rows.length > 0;
}

/**
 * The stored batches holding these events, whole (events may share a batch with others not
 * named), with when they were received and whether they were evaluated.
 */
export async function batchesOf(
  sql: Q,
  eventIds: readonly string[],
): Promise<Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date; evaluated: boolean }>> {
  const batches = await sql`
    select b.id, b.received_at, b.event_ids, b.evaluated_at, b.occurred_from, b.occurred_to from event_batches b
    where b.id in (select batch_id from events where id = any(${eventIds as string[]}))
    order by b.received_at, b.id`;
  return withEvents(sql, batches);
}

/** Batch rows (`event_batches`) with their stored events, in each batch's order. */
async function withEvents(
  sql: Q,
  batches: readonly Record<string, unknown>[],
): Promise<
  Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date; evaluated: boolean; partition?: number }>
> {
  const ids = batches.flatMap((b) => b.event_ids as string[]);
  // Only the weeks the batches' events span (a batch from before migration 018 has no span).
  const spans = batches.map((b) => [b.occurred_from, b.occurred_to] as [Date | null, Date | null]);
  const spanned = spans.every(([from, to]) => from && to);
  const from = spanned ? new Date(Math.min(...spans.map(([f]) => (f as Date).getTime()))) : null;
  const to = spanned ? new Date(Math.max(...spans.map(([, t]) => (t as Date).getTime()))) : null;
  const rows =
    ids.length > 0
      ? await sql`
        select id, payload from events where id = any(${ids})
          and occurred_at between coalesce(${from}::timestamptz, '-infinity') and coalesce(${to}::timestamptz, 'infinity')`
      : [];
  const payloads = new Map(rows.map((r) => [r.id as string, r.payload as TouchpointEvent]));
  return batches.map((b) => ({
    id: b.id as string,
    receivedAt: b.received_at as Date,
    evaluated: b.evaluated_at != null,
    ...(b.partition != null ? { partition: b.partition as number } : {}),
    events: (b.event_ids as string[]).flatMap((id) => payloads.get(id) ?? []),
  }));
}

/**
 * What a customer's Redis state is rebuilt from: their stored events from `since` on (at most
 * `perCustomer` of each one's latest), plus, however old, the travel notices still running at
 * `since` and the first sighting of each device (state keeps those by end date and for as long as
 * the customer is active). Events of batches observed (see `observeBatch`), evaluated or not: a
 * batch in flight may have written its events into a Redis that then forgot them, and unless the
 * rebuilt state holds them, neither it nor a later batch sees the other (an impossible journey
 * missed). Batches not yet observed are left to their own runs (replaying every unevaluated event
 * doubled the state work of first-seen customers: 2.8k events/s end to end instead of 3.6k).
 * Events of the batch at hand (`exclude`) are left to it, and events set aside with an error stay out.
 */
export async function customerHistory(
  sql: Q,
  customerIds: readonly string[],
  /** From when, for every customer, or for each (in the order of `customerIds`). */
  since: Date | readonly Date[],
  perCustomer: number,
  exclude: readonly string[],
  /**
   * Only events of evaluated batches: a partition's owner, which evaluates every other batch of
   * its customers itself, after the events at hand (the Redis state also takes batches observed).
   */
  evaluatedOnly = false,
): Promise<TouchpointEvent[]> {
  if (customerIds.length === 0) return [];
  const ids = customerIds as string[];
  const times = (since instanceof Date ? ids.map(() => since) : since).map((d) => d.getTime());
  // As text: the driver sends a Date[] as one timestamptz.
  const sinces = times.map((t) => new Date(t).toISOString());
  if (sinces.length !== ids.length) throw new Error("customerHistory: one since a customer");
  const skip = exclude as string[];
  // Evaluated before migration 012 had no observed_at; every batch observed since has one.
  const observed = evaluatedOnly
    ? sql`exists (select 1 from event_batches b where b.id = e.batch_id and b.evaluated_at is not null)`
    : sql`exists (
    select 1 from event_batches b
    where b.id = e.batch_id and (b.observed_at is not null or b.evaluated_at is not null))`;
  // Each part keeps the constant conditions the planner prunes weeks and picks the customer index
  // by (`customer_id = any`, the earliest and latest since), and only then each customer's own
  // since: a join on it alone planned a scan of every week's rows (143,000 blocks read a second
  // in the full bench's latency minute).
  const earliest = new Date(Math.min(...times));
  const latest = new Date(Math.max(...times));
  const rows = await sql`
    with c as (select * from unnest(${ids}::text[], ${sinces}::timestamptz[]) as c(id, since))
    select h.payload from c
    cross join lateral (
      select payload from events e
      where e.customer_id = c.id and e.occurred_at >= c.since and e.occurred_at >= ${earliest}
        and e.error is null and e.id <> all(${skip}) and ${observed}
      order by e.occurred_at desc limit ${perCustomer}
    ) h
    union all
    select e.payload from events e join c on c.id = e.customer_id
    where e.customer_id = any(${ids}) and e.type = 'travel.notice' and e.occurred_at < ${latest}
      and e.occurred_at < c.since and (e.payload->'travel'->>'to')::timestamptz >= c.since
      and ${observed} and e.error is null and e.id <> all(${skip})
    union all
    select payload from (
      select distinct on (e.customer_id, e.device_id) e.payload from events e join c on c.id = e.customer_id
      where e.customer_id = any(${ids}) and e.occurred_at < ${latest} and e.occurred_at < c.since
        and e.device_id is not null and ${observed} and e.error is null and e.id <> all(${skip})
      order by e.customer_id, e.device_id, e.occurred_at
    ) d`;
  return rows.map((r) => r.payload as TouchpointEvent);
}

/**
 * Batches accepted but never evaluated (their job lost with a Redis that kept nothing), oldest
 * first, as many as hold `maxEvents` events (at least one batch), with their events.
 */
export async function unevaluatedBatches(
  sql: Q,
  olderThan: Date,
  maxEvents: number,
): Promise<Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date; partition?: number }>> {
  const batches = await sql`
    select id, received_at, event_ids, partition, occurred_from, occurred_to from (
      select id, received_at, event_ids, partition, occurred_from, occurred_to,
        sum(cardinality(event_ids)) over (order by received_at, id) - cardinality(event_ids) as before
      from (
        -- Every batch holds an event: no more than maxEvents batches can be wanted.
        select id, received_at, event_ids, partition, occurred_from, occurred_to from event_batches
        where evaluated_at is null and received_at < ${olderThan}
        order by received_at, id limit ${maxEvents}
      ) pending
    ) b
    where before < ${maxEvents}
    order by received_at, id`;
  return withEvents(sql, batches);
}

/**
 * Stored batches as a partition's owner reads them, in one statement: each one's status, and the
 * events of those not yet evaluated. A batch missing from the answer was taken back at ingest.
 */
export async function readBatches(
  sql: Q,
  batchIds: readonly string[],
  /**
   * Every event of these batches occurred within it, when the caller knows (the stream entries
   * say): Postgres then plans only those weeks' partitions. Planning every week's was two thirds
   * of this statement's cost, on every call (pg_stat_statements, track_planning on).
   */
  span?: { from: Date; to: Date },
): Promise<Array<{ id: string; evaluated: boolean; events: TouchpointEvent[] }>> {
  if (batchIds.length === 0) return [];
  const within = span ? sql`and e.occurred_at between ${span.from} and ${span.to}` : sql``;
  const rows = await sql`
    select b.id, b.evaluated_at is not null as evaluated, cardinality(b.event_ids) as size,
      case when b.evaluated_at is null then
        (select coalesce(json_agg(e.payload), '[]'::json) from events e
          where e.id = any(b.event_ids) and e.batch_id = b.id
            -- Only the weeks its events span (a batch from before migration 018 reads every week).
            and e.occurred_at between coalesce(b.occurred_from, '-infinity') and coalesce(b.occurred_to, 'infinity')
            ${within})
      end as events
    from event_batches b where b.id = any(${batchIds as string[]})`;
  // A span that left an event out (it should not: the API measured it on these very events) must
  // not cost the event its evaluation: read again, every week.
  if (span && rows.some((r) => !r.evaluated && (r.events as unknown[]).length !== Number(r.size)))
    return readBatches(sql, batchIds);
  return rows.map((r) => ({
    id: r.id as string,
    evaluated: r.evaluated as boolean,
    events: (r.events as TouchpointEvent[] | null) ?? [],
  }));
}

/**
 * The customer's latest located event (a payment where the card was present, or any event with a
 * place), for their current time zone: the newest first along the customer's index.
 */
export async function latestLocatedEvent(sql: Q, customerId: string): Promise<TouchpointEvent | undefined> {
  const [row] = await sql`
    select payload from events
    where customer_id = ${customerId} and error is null
      and case when type = 'card.transaction'
        then payload->>'channel' <> 'ecommerce' and payload->'merchant'->'lat' is not null
        else payload->'geo' is not null end
    order by occurred_at desc limit 1`;
  return row ? (row.payload as TouchpointEvent) : undefined;
}

/**
 * Splits a batch of an earlier version (events of several partitions, no partition of its own)
 * into one batch per partition, in one transaction, so each goes to its partition's owner. The
 * new batches' ids are the old one's with the partition: splitting again (a retry) finds them.
 * Answers the batches to queue; none when the batch was evaluated or taken back meanwhile.
 */
export async function splitBatch(
  sql: Sql,
  batch: { id: string; receivedAt: Date; events: readonly TouchpointEvent[] },
  partitionOfCustomer: (customerId: string) => number,
): Promise<Array<{ id: string; partition: number; customers: string[] }>> {
  const parts = new Map<number, TouchpointEvent[]>();
  for (const e of batch.events) {
    const p = partitionOfCustomer(e.customerId);
    parts.set(p, [...(parts.get(p) ?? []), e]);
  }
  const made = [...parts].map(([partition, events]) => ({
    id: `${batch.id}-p${partition}`,
    partition,
    events,
    customers: [...new Set(events.map((e) => e.customerId))],
  }));
  return sql.begin(async (tx) => {
    const [gone] = await tx`
      delete from event_batches where id = ${batch.id} and evaluated_at is null and partition is null
      returning id`;
    if (!gone) return [];
    for (const b of made) {
      const ids = b.events.map((e) => e.id);
      const times = b.events.map((e) => Date.parse(e.occurredAt));
      await tx`
        insert into event_batches (id, received_at, event_ids, partition, observed_at, occurred_from, occurred_to)
        values (${b.id}, ${batch.receivedAt}, ${ids}, ${b.partition}, now(),
          ${new Date(Math.min(...times))}, ${new Date(Math.max(...times))})
        on conflict (id) do nothing`;
      await tx`update events set batch_id = ${b.id} where id = any(${ids})`;
    }
    return made.map(({ id, partition, customers }) => ({ id, partition, customers }));
  });
}
