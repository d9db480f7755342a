-- When a batch's run first wrote (or may have written) its events into the customers' Redis state.
-- A customer rebuilt after Redis forgot them replays every observed batch's events, evaluated or
-- not: a batch still in flight when Redis restarted had written its events into the state that
-- was lost, and without them neither it nor a later batch would see the other (issue 22: an
-- impossible journey missed across a Redis wipe). Set before the first observe, by the run itself.
alter table event_batches add column observed_at timestamptz;
