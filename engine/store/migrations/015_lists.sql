-- Named lists the risk team keeps (merchants, BINs, countries, devices, compromised cards), looked
-- up by rules with inList / notInList. A list changes without a new ruleset version: each change
-- bumps the list's own version and leaves a row in list_changes (who, when, what came and went).
create table lists (
  name        text primary key,
  version     integer not null,
  size        integer not null default 0,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  updated_by  text not null
);

create table list_items (
  list_name text not null references lists (name) on delete cascade,
  item      text not null,
  primary key (list_name, item)
);

-- The history outlives a deleted list (no foreign key), and a list made again under the same name
-- goes on from its last version, so (name, version) names one state for good. `added` and
-- `removed` keep the first 1,000 items of a change (a daily change whole, an import summarised);
-- the counts are exact.
create table list_changes (
  id        bigserial primary key,
  list_name text not null,
  version   integer not null,
  kind      text not null check (kind in ('put', 'patch', 'delete')),
  added     text[] not null default '{}',
  removed   text[] not null default '{}',
  added_count   integer not null default 0,
  removed_count integer not null default 0,
  size      integer not null,
  at        timestamptz not null default now(),
  by        text not null,
  by_token  text not null,
  unique (list_name, version)
);
