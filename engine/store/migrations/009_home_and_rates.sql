-- Where a customer lives (optional), for the distance-from-home fact.
alter table customers add column home_city text;
alter table customers add column home_lat double precision;
alter table customers add column home_lon double precision;

-- The bank's exchange rates, kept current through PUT /v1/fx-rates: units of each currency per
-- euro, each with the date it is of. Empty until the bank sends some; the shipped table holds then.
create table fx_rates (
  currency   text primary key,
  per_eur    double precision not null check (per_eur > 0),
  as_of      date not null,
  updated_at timestamptz not null default now(),
  updated_by text not null
);
