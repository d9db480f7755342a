-- A case may wait a while for the customer's previous advocate (away, or at capacity) before
-- falling back to someone else: how long depends on its severity.
alter table cases add column wait_until timestamptz;
create index cases_waiting on cases (team, wait_until) where status = 'open' and advocate_id is null;
