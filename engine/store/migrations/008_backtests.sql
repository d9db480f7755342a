-- Backtests run as jobs: the request, its progress and its report live here, so a backtest
-- survives the worker that runs it and Redis forgetting its queue.
create table backtests (
  id                text primary key,
  status            text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  requested_by      text not null,
  request           jsonb not null,
  published_version int not null,
  done_events       int not null default 0,
  total_events      int,
  report            jsonb,
  error             text,
  created_at        timestamptz not null default now(),
  started_at        timestamptz,
  finished_at       timestamptz
);
create index backtests_recent on backtests (created_at desc);
