-- Desk sign-ins: the cookie holds a random session id (only its SHA-256 is stored), never the
-- API token; a session expires, and logging out revokes it.
create table desk_sessions (
  id_hash    text primary key,
  token_id   text not null references api_tokens (id),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index desk_sessions_token on desk_sessions (token_id);

-- A token bound to a team that is not a team name ('' read every team) is revoked: make it again.
update api_tokens set revoked_at = now()
where revoked_at is null and team is not null and team !~ '^[a-z0-9-]{1,60}$';

-- An advocate's token reads its advocate's team, live; a stored one would outlive a move.
update api_tokens set team = null where advocate_id is not null;
