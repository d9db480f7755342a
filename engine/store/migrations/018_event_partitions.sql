-- Events kept for EVENT_RETENTION_DAYS and no longer: `events` is partitioned by week of
-- occurred_at, and retention drops a week's partition whole (engine/store/retention.ts) instead of
-- deleting millions of rows (dead tuples, WAL, vacuum). Weekly, not daily: a lookup by id alone
-- (a batch's events) probes every partition's index, ~17 weekly ones at 90 days against ~105 daily.

-- A decision keeps the event it is about: a case outlives its events' retention, and its page,
-- texts and search read the payment from here. An FK to a partitioned table would need the
-- partition key, and would forbid dropping the partition anyway.
alter table decisions drop constraint decisions_event_id_fkey;
alter table decisions
  add column event_occurred_at timestamptz,
  add column event_received_at timestamptz,
  add column event_payload jsonb;
update decisions d
  set event_occurred_at = e.occurred_at, event_received_at = e.received_at, event_payload = e.payload
  from events e where e.id = d.event_id;
alter table decisions
  alter column event_occurred_at set not null,
  alter column event_received_at set not null,
  alter column event_payload set not null;

-- Makes the weekly partitions (Monday 00:00 UTC to the next) that cover [from_ts, until_ts) and do
-- not exist yet; returns their names. One caller at a time (the advisory lock): two processes
-- creating one partition at once would otherwise collide in the catalogue.
create function make_event_partitions(from_ts timestamptz, until_ts timestamptz) returns setof text
language plpgsql as $$
declare
  w timestamptz := date_trunc('week', from_ts at time zone 'UTC') at time zone 'UTC';
  name text;
begin
  perform pg_advisory_xact_lock(74658);
  while w < until_ts loop
    name := 'events_' || to_char(w at time zone 'UTC', 'YYYYMMDD');
    if to_regclass(name) is null then
      execute format('create table %I partition of events for values from (%L) to (%L)',
        name, w, w + interval '7 days');
      return next name;
    end if;
    w := w + interval '7 days';
  end loop;
end $$;

drop view event_status;
alter table events rename to events_before_018;
alter index events_pkey rename to events_before_018_pkey;
alter index events_customer rename to events_before_018_customer;

-- The primary key holds the partition key: a resent event has the same id and occurredAt, so
-- `on conflict (id, occurred_at) do nothing` still makes ingest idempotent.
create table events (
  id           text not null,
  customer_id  text not null,
  type         text not null,
  occurred_at  timestamptz not null,
  received_at  timestamptz not null default now(),
  -- json, not jsonb: the text as sent, not parsed into a tree; measured (bench/event-insert.ts)
  -- 11 µs of Postgres CPU an event instead of 14, 764 B of WAL instead of 849, 18% less heap.
  payload      json not null,
  -- The event's device, for a rebuild's first sighting of each (customerHistory): read from json
  -- text, every older event of the customer would be parsed again (measured: 477 us of Postgres
  -- CPU to rebuild a customer of 150 events, 220 with jsonb).
  device_id    text,
  error        text,
  batch_id     text not null,
  primary key (id, occurred_at)
) partition by range (occurred_at);
create index events_customer on events (customer_id, occurred_at);

-- A partition for every week holding an event, and the weeks around now (ingest refuses events
-- more than a week ahead; the workers' maintenance keeps three weeks made ahead and one behind,
-- and ingest makes an older week when a late event first needs it).
select count(*) from (
  select make_event_partitions(w, w + interval '1 day')
  from (select distinct date_trunc('week', occurred_at at time zone 'UTC') at time zone 'UTC' as w
        from events_before_018) weeks
) made;
select count(*) from make_event_partitions(now() - interval '13 weeks', now() + interval '3 weeks');

-- A batch's events by id alone would probe every week's index (observeBatch reads them for each
-- batch: measured 14.4 us of Postgres CPU an event in 14 weeks, 3.4 before 018); the span of their
-- dates, kept on the batch, narrows the read to the weeks it covers (run-time partition pruning):
-- 2.4 to 3.0 us.
alter table event_batches add column occurred_from timestamptz, add column occurred_to timestamptz;
update event_batches b set occurred_from = s.lo, occurred_to = s.hi
  from (select batch_id, min(occurred_at) as lo, max(occurred_at) as hi from events_before_018
        where batch_id in (select id from event_batches where evaluated_at is null) group by batch_id) s
  where s.batch_id = b.id;

insert into events (id, customer_id, type, occurred_at, received_at, payload, device_id, error, batch_id)
  select id, customer_id, type, occurred_at, received_at, payload::json, payload->'device'->>'id', error, batch_id
  from events_before_018;
drop table events_before_018;

create view event_status as
  select e.id, e.customer_id, e.type, e.received_at, e.batch_id, b.evaluated_at, b.evaluated_version, e.error
  from events e join event_batches b on b.id = e.batch_id;

-- Retention deletes batch rows by age (engine/store/retention.ts): they are small, one per ~100
-- events, so an index on received_at costs little where a partitioned table would cost a second
-- set of partitions to keep.
create index event_batches_received on event_batches (received_at);
