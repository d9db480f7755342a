-- Evaluation by partition: a customer's events are evaluated by the one process that holds their
-- partition (a Redis lease), which keeps their state in memory. Each taking of a partition raises
-- its epoch; a process writes decisions and marks batches evaluated only while the epoch it took
-- is the partition's (the fencing token): one that stalled past its lease, or lost it with a Redis
-- that forgot the lease, finds its writes refused and lets its state go.
create table evaluation_partitions (
  partition int primary key,
  epoch     bigint not null default 0,
  owner     text,
  taken_at  timestamptz
);

-- A batch now holds one partition's events (the API splits a request by partition); batches of
-- earlier versions, which may hold several partitions' events, have none: the reconciler splits
-- them before they are queued again.
alter table event_batches add column partition int;
