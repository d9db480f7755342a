-- The bank's own short answers an advocate can put in the reply box with one click, per language,
-- kept by supervisors. The id is the supervisor's (PUT /v1/canned-replies/:id), so a script that
-- loads them again changes them rather than adding copies.
create table canned_replies (
  id         text primary key,
  title      text not null,
  language   text not null,
  text       text not null,
  updated_by text not null,
  updated_at timestamptz not null default now()
);
create index canned_replies_language on canned_replies (language, title);

-- The queue orders and filters every case that needs someone in SQL (engine/store/queue.ts); a
-- closed case needs someone only through one of these entries, so they are found without reading
-- every closed case's timeline.
create index case_timeline_needs on case_timeline (case_id)
  where kind in ('task.call_customer', 'advocate.alerted', 'call.received');
