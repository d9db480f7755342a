-- An event that cannot be evaluated (its features or facts fail) is marked evaluated with the
-- reason, so it neither blocks its batch nor is swept back into the queue forever.
alter table events add column error text;
