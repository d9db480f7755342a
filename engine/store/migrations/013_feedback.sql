-- After a case resolves, at most one short question to its customer ("How did we handle this?
-- Reply 1 (poor) to 5 (great)"), when the bank turns it on (FEEDBACK_AFTER_RESOLUTION=1): one row
-- per case asked, its answer when it comes. The case's advocate and team are kept as they were when
-- asked, so a later reassignment does not move the score; its rules are the case's decisions'.
create table feedback (
  case_id     text primary key references cases (id),
  customer_id text not null,
  advocate_id text references advocates (id),
  team        text not null,
  channel     text not null default 'sms',
  asked_at    timestamptz not null,
  score       smallint check (score between 1 and 5),
  answered_at timestamptz,
  comment     text
);
create index feedback_customer on feedback (customer_id, asked_at desc);
create index feedback_asked on feedback (asked_at);
