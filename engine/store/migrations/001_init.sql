-- touchpoint schema, version 1: people, rulesets, events, decisions, cases and their timeline.

create table customers (
  id               text primary key,
  name             text not null,
  phone            text not null,            -- E.164
  home_country     text not null,            -- ISO 3166-1 alpha-2
  timezone         text,                     -- IANA; null → derived from the home country
  language         text not null default 'en',
  opted_out_at     timestamptz,
  last_advocate_id text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index customers_phone on customers (phone);

create table advocates (
  id         text primary key,
  name       text not null,
  team       text not null,
  capacity   integer not null default 10 check (capacity >= 0),
  status     text not null check (status in ('online', 'away', 'offline')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index advocates_team on advocates (team, status);

create table api_tokens (
  id          text primary key,
  token_hash  text not null unique,          -- sha-256 hex of the bearer token; the token itself is never stored
  role        text not null check (role in ('ingest', 'risk', 'advocate', 'supervisor', 'admin')),
  advocate_id text references advocates (id),
  team        text,
  label       text not null default '',
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);

create table rulesets (
  version      serial primary key,
  rules        jsonb not null,
  note         text not null default '',
  created_by   text not null,
  created_at   timestamptz not null default now(),
  published_at timestamptz
);

create table events (
  id           text primary key,
  customer_id  text not null,
  type         text not null,
  occurred_at  timestamptz not null,
  received_at  timestamptz not null default now(),
  payload      jsonb not null,
  evaluated_at timestamptz
);
create index events_customer on events (customer_id, occurred_at);
create index events_unevaluated on events (received_at) where evaluated_at is null;

create table cases (
  id                    text primary key,
  customer_id           text not null,
  status                text not null default 'open' check (status in ('open', 'resolved')),
  outcome               text check (outcome in ('confirmed_fraud', 'false_alarm')),
  severity              text not null check (severity in ('low', 'medium', 'high')),
  team                  text not null,
  title                 text not null,
  advocate_id           text references advocates (id),
  preferred_advocate_id text references advocates (id),
  opened_at             timestamptz not null default now(),
  first_decision_at     timestamptz,
  resolved_at           timestamptz,
  updated_at            timestamptz not null default now()
);
-- One open case per customer: a second hit joins it. Enforced here, not by timing.
create unique index cases_one_open_per_customer on cases (customer_id) where status = 'open';
create index cases_advocate on cases (advocate_id, status);
create index cases_customer on cases (customer_id, opened_at desc);

create table decisions (
  id              bigserial primary key,
  event_id        text not null references events (id),
  customer_id     text not null,
  rule            text not null,
  ruleset_version integer not null,
  severity        text not null,
  title           text not null,
  team            text not null,
  explanation     jsonb not null,
  decided_at      timestamptz not null default now(),
  case_id         text references cases (id),
  unique (event_id, rule)
);
create index decisions_case on decisions (case_id);
create index decisions_rule on decisions (rule, decided_at);

-- The case timeline: every step, oldest first. `idem_key` makes each step happen once across retries.
create table case_timeline (
  id       bigserial primary key,
  case_id  text not null references cases (id),
  at       timestamptz not null default now(),
  kind     text not null,
  actor    text not null default 'system',
  detail   jsonb not null default '{}',
  idem_key text not null unique
);
create index case_timeline_case on case_timeline (case_id, id);

create table audit_log (
  id     bigserial primary key,
  at     timestamptz not null default now(),
  actor  text not null,
  action text not null,
  target text not null,
  detail jsonb not null default '{}'
);

-- Texts in and out. An outbound text exists once per send decision (`idem_key`, also Vonage's client_ref).
create table messages (
  id            bigserial primary key,
  case_id       text references cases (id),
  customer_id   text,
  direction     text not null check (direction in ('outbound', 'inbound')),
  kind          text not null,                -- fraud_check, reminder, card_blocked, reply, …
  body          text not null,
  to_number     text not null,
  from_number   text not null,
  transport     text not null check (transport in ('vonage', 'outbox')),
  status        text not null,                -- pending, submitted, delivered, rejected, undeliverable, not_sent, received, failed
  idem_key      text not null unique,
  provider_id   text unique,                  -- Vonage message_uuid
  error         jsonb,
  attempts      integer not null default 0,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
create index messages_case on messages (case_id, created_at);
create index messages_customer on messages (customer_id, created_at);
