-- Every evaluated batch asks which of its customers have decisions not yet on a case.
create index decisions_unlinked on decisions (customer_id) where case_id is null;
