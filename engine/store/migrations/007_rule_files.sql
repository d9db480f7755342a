-- Rule files are the unit of a version: each stored version holds { files: [{ rule, tests }] }.
-- Versions stored before held { rules: [rule] }; each rule becomes a file with no test cases.
update rulesets
set rules = jsonb_build_object(
  'files',
  coalesce(
    (select jsonb_agg(jsonb_build_object('rule', r.value, 'tests', '[]'::jsonb) order by r.ordinality)
     from jsonb_array_elements(rulesets.rules -> 'rules') with ordinality as r),
    '[]'::jsonb))
where rules ? 'rules';

-- Who published, by the token's label as people know it, and by the token's id for the audit.
alter table rulesets add column created_by_token text;

-- A shadow rule's decisions are recorded like any other, and never reach a case.
alter table decisions add column mode text not null default 'live';
drop index decisions_unlinked;
create index decisions_unlinked on decisions (customer_id) where case_id is null and mode = 'live';

-- The ruleset version that evaluated each event: one per batch, so an audit (and a test) can see
-- which rules an event met, hit or not.
alter table events add column evaluated_version int;
