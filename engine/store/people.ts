/**
 * Customers and advocates: who the bank texts and who takes their cases, with each advocate's
 * team, capacity and open-case load.
 */

import type postgres from "postgres";
import type { AdvocateLoad } from "../cases/routing.ts";
import { type Channel, DEFAULT_CHANNELS } from "../outreach/strategy.ts";
import type { CustomerProfile } from "../rules/facts.ts";
import type { Q } from "./database.ts";

export interface Customer {
  id: string;
  name: string;
  phone: string;
  homeCountry: string;
  timezone: string | null;
  /** Where they live, when the bank gave it: for `customer.distanceFromHomeKm`. */
  home: { city: string | null; lat: number; lon: number } | null;
  language: string;
  /** Opted out of SMS (STOP by text). */
  optedOutAt: Date | null;
  /** Opted out of WhatsApp (STOP on WhatsApp). */
  whatsappOptedOutAt: Date | null;
  /** Ordered preference of the channels they want to be reached on. */
  channels: Channel[];
  lastAdvocateId: string | null;
}

export interface Advocate {
  id: string;
  name: string;
  team: string;
  capacity: number;
  status: "online" | "away" | "offline";
  /** Where a call is put through to them: E.164 or a SIP URI; null when not given. */
  phone: string | null;
}

/** A `customers` row (all its columns, as `select *` reads them) as a Customer. */
export const customerCols = (r: postgres.Row): Customer => ({
  id: r.id,
  name: r.name,
  phone: r.phone,
  homeCountry: r.home_country,
  timezone: r.timezone,
  home: r.home_lat === null ? null : { city: r.home_city, lat: r.home_lat, lon: r.home_lon },
  language: r.language,
  optedOutAt: r.opted_out_at,
  whatsappOptedOutAt: r.whatsapp_opted_out_at ?? null,
  channels: r.channels ?? [...DEFAULT_CHANNELS],
  lastAdvocateId: r.last_advocate_id,
});

export async function upsertCustomer(
  sql: Q,
  c: {
    id: string;
    name: string;
    phone: string;
    homeCountry: string;
    timezone?: string | null;
    home?: { city?: string | undefined; lat: number; lon: number } | null | undefined;
    language?: string;
    /** Unset: the default (SMS, then a call) for a new customer, unchanged for a known one. */
    channels?: readonly Channel[] | undefined;
  },
): Promise<{ customer: Customer; created: boolean }> {
  const channels = c.channels ? [...c.channels] : null;
  const [row] = await sql`
    insert into customers (id, name, phone, home_country, timezone, home_city, home_lat, home_lon, language, channels)
    values (${c.id}, ${c.name}, ${c.phone}, ${c.homeCountry}, ${c.timezone ?? null}, ${c.home?.city ?? null},
      ${c.home?.lat ?? null}, ${c.home?.lon ?? null}, ${c.language ?? "en"}, ${channels ?? [...DEFAULT_CHANNELS]})
    on conflict (id) do update set name = excluded.name, phone = excluded.phone, home_country = excluded.home_country,
      timezone = excluded.timezone, home_city = excluded.home_city, home_lat = excluded.home_lat,
      home_lon = excluded.home_lon, language = excluded.language,
      channels = coalesce(${channels}::text[], customers.channels), updated_at = now()
    returning *, (xmax = 0) as created`;
  return { customer: customerCols(row!), created: row!.created };
}

export async function getCustomer(sql: Q, id: string): Promise<Customer | undefined> {
  const [row] = await sql`select * from customers where id = ${id}`;
  return row ? customerCols(row) : undefined;
}

export async function customerProfiles(
  sql: Q,
  ids: readonly string[],
): Promise<Map<string, CustomerProfile>> {
  if (ids.length === 0) return new Map();
  const rows = await sql`
    select id, home_country, timezone, home_lat, home_lon from customers where id = any(${ids as string[]})`;
  return new Map(
    rows.map((r) => [
      r.id as string,
      {
        id: r.id as string,
        homeCountry: r.home_country as string,
        timezone: r.timezone as string | null,
        home: r.home_lat === null ? null : { lat: r.home_lat as number, lon: r.home_lon as number },
      },
    ]),
  );
}

export async function upsertAdvocate(
  sql: Q,
  a: {
    id: string;
    name: string;
    team: string;
    capacity?: number;
    status: Advocate["status"];
    /** Unset: unchanged for a known advocate; null: removed. */
    phone?: string | null | undefined;
  },
): Promise<{ advocate: Advocate; created: boolean }> {
  const keepPhone = a.phone === undefined;
  const [row] = await sql`
    insert into advocates (id, name, team, capacity, status, phone)
    values (${a.id}, ${a.name}, ${a.team}, ${a.capacity ?? 10}, ${a.status}, ${a.phone ?? null})
    on conflict (id) do update set name = excluded.name, team = excluded.team, capacity = excluded.capacity,
      status = excluded.status, phone = case when ${keepPhone} then advocates.phone else excluded.phone end,
      updated_at = now()
    returning id, name, team, capacity, status, phone, (xmax = 0) as created`;
  const { created, ...advocate } = row!;
  return { advocate: advocate as Advocate, created };
}

export async function getAdvocate(sql: Q, id: string): Promise<Advocate | undefined> {
  const [row] = await sql`select id, name, team, capacity, status, phone from advocates where id = ${id}`;
  return row as Advocate | undefined;
}

export async function listAdvocates(sql: Q, team?: string): Promise<Array<Advocate & { open: number }>> {
  const rows = await sql`
    select a.id, a.name, a.team, a.capacity, a.status, a.phone,
      (select count(*)::int from cases c where c.advocate_id = a.id and c.status = 'open') as open
    from advocates a ${team ? sql`where a.team = ${team}` : sql``} order by a.id`;
  return rows as unknown as Array<Advocate & { open: number }>;
}

/** The teams advocates are in, sorted: the only teams a token or a rule can name (see unknownTeam). */
export async function advocateTeams(sql: Q): Promise<string[]> {
  const rows = await sql`select distinct team from advocates order by team`;
  return rows.map((r) => r.team as string);
}

/**
 * The candidates with their load, locked for this transaction. Lock first, count after: a
 * subquery in the locking statement would count from the snapshot taken before the lock wait,
 * so two workers assigning at once would both see the advocate's old load and overfill them.
 */
export async function advocateLoads(
  sql: Q,
  where: postgres.PendingQuery<postgres.Row[]>,
): Promise<AdvocateLoad[]> {
  const locked = await sql`select a.id from advocates a where ${where} order by a.id for update of a`;
  if (locked.length === 0) return [];
  const rows = await sql`
    select a.id, a.name, a.team, a.status, a.capacity,
      (select count(*)::int from cases c where c.advocate_id = a.id and c.status = 'open') as open
    from advocates a where a.id = any(${locked.map((r) => r.id as string)}) order by a.id`;
  return rows as unknown as AdvocateLoad[];
}

/** Who can route a case: its team's advocates and the customer's previous one, locked, with their load. */
export async function routingCandidates(
  tx: Q,
  team: string,
  previousId: string | null,
): Promise<AdvocateLoad[]> {
  return advocateLoads(tx, tx`a.team = ${team} or a.id = ${previousId}`);
}

/** One advocate with their load, locked for this transaction. */
export async function lockAdvocateLoad(tx: Q, advocateId: string): Promise<AdvocateLoad | undefined> {
  const [me] = await advocateLoads(tx, tx`a.id = ${advocateId}`);
  return me;
}

/** Sets an advocate's own status; undefined when there is no such advocate. */
export async function updateAdvocateStatus(
  sql: Q,
  advocateId: string,
  status: Advocate["status"],
): Promise<Advocate | undefined> {
  const [row] = await sql`
    update advocates set status = ${status}, updated_at = now() where id = ${advocateId}
    returning id, name, team, capacity, status`;
  return row as unknown as Advocate | undefined;
}

export async function advocateName(sql: Q, advocateId: string): Promise<string | undefined> {
  const [from] = await sql`select name from advocates where id = ${advocateId}`;
  return from?.name as string | undefined;
}
