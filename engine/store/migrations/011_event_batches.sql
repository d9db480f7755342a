-- Evaluation is recorded once per batch, not once per event. Marking each event evaluated was a
-- second write of every events row (a full copy of its payload, new index entries, a dead row for
-- vacuum): 29% of Postgres's statement time in the bench, 811 bytes of WAL per event. A batch is
-- what the API queued as one `evaluate` job; its row is written with its events, in the same
-- statement, and updated once when the batch is evaluated. An event is evaluated when its batch is.
create table event_batches (
  id                text primary key,
  received_at       timestamptz not null,
  -- The batch's events, for the reconciler to queue it again when Redis forgot its job.
  event_ids         text[] not null,
  evaluated_at      timestamptz,
  evaluated_version int
);
create index event_batches_pending on event_batches (received_at) where evaluated_at is null;

alter table events add column batch_id text;

-- Events evaluated before this migration: one batch per (time, version) of evaluation, which is one
-- per evaluated job (each job marked its events with one time and one version; an event set aside
-- with an error was marked alone), so evaluation times and versions are kept.
insert into event_batches (id, received_at, event_ids, evaluated_at, evaluated_version)
  select 'before-011:' || md5(evaluated_at::text || ':' || coalesce(evaluated_version::text, 'none')),
    min(received_at), array_agg(id order by id), evaluated_at, min(evaluated_version)
  from events where evaluated_at is not null
  group by evaluated_at, evaluated_version;
update events set batch_id = 'before-011:' || md5(evaluated_at::text || ':' || coalesce(evaluated_version::text, 'none'))
  where evaluated_at is not null;

-- Events still waiting: batches of at most 100 of those received together. Their jobs, queued
-- before the upgrade, name no batch: a worker evaluates each batch holding their events, whole
-- (engine/evaluate.ts evaluateUnnamedBatch); the reconciler re-queues any whose job was lost.
with waiting as (
  select id, received_at,
    'before-011:' || md5(received_at::text) || ':' || ((row_number() over (partition by received_at order by id) - 1) / 100)::text as batch
  from events where evaluated_at is null
), made as (
  insert into event_batches (id, received_at, event_ids)
    select batch, min(received_at), array_agg(id order by id) from waiting group by batch
)
update events e set batch_id = w.batch from waiting w where w.id = e.id;

alter table events alter column batch_id set not null;
drop index events_unevaluated;
alter table events drop column evaluated_at;
alter table events drop column evaluated_version;

-- Each event with its batch's evaluation, for people and tests asking "was this event evaluated?".
create view event_status as
  select e.id, e.customer_id, e.type, e.received_at, e.batch_id, b.evaluated_at, b.evaluated_version, e.error
  from events e join event_batches b on b.id = e.batch_id;
