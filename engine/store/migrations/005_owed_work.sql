-- Every job that changes something for a person (a text owed, a reminder or call task due, a
-- deferred text, a wait for an advocate, a card block for the card system, a webhook to apply)
-- is recorded here before it is queued, so it can be found from Postgres alone and queued again
-- when Redis has forgotten it. Evaluation is not here: events.evaluated_at and unlinked
-- decisions already say what is owed there.
create table owed_work (
  key        text primary key,                 -- the BullMQ job id
  queue      text not null,
  name       text not null,
  data       jsonb not null,
  due_at     timestamptz not null,
  created_at timestamptz not null default now(),
  done_at    timestamptz,
  -- Attempts exhausted: a person looks at it (BullMQ keeps the failed job); not re-driven.
  failed_at  timestamptz
);
create index owed_work_open on owed_work (due_at) where done_at is null and failed_at is null;
create index owed_work_finished on owed_work (coalesce(done_at, failed_at)) where done_at is not null or failed_at is not null;

-- One row: this database's identity. Redis keys of per-customer state carry it, so a new
-- database (a deleted DATA_DIR, a restored backup of another) never reads another's state.
create table deployment (
  singleton  boolean primary key default true check (singleton),
  id         text not null,
  created_at timestamptz not null default now()
);
insert into deployment (id) values (substr(md5(random()::text || clock_timestamp()::text), 1, 10));
