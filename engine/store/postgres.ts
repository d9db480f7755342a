/**
 * The Postgres adapter: people, tokens, rulesets, events, decisions, cases and their timeline.
 * Every write that a retry could repeat carries its idempotency key into a unique constraint.
 */
import { createHash, randomBytes } from "node:crypto";
import type postgres from "postgres";
import {
  assertResolvable,
  type CaseOutcome,
  maxSeverity,
  newCaseId,
  type TimelineKind,
} from "../cases/cases.ts";
import { type AdvocateLoad, chooseAdvocate } from "../cases/routing.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import type { TouchpointEvent } from "../events.ts";
import { type Channel, DEFAULT_CHANNELS } from "../outreach/strategy.ts";
import { unknownTeam } from "../people.ts";
import type { CustomerProfile } from "../rules/facts.ts";
import type { Hit } from "../rules/reference.ts";
import type { Severity } from "../rules/schema.ts";
import type { Sql } from "./database.ts";
import { type OwedJob, recordOwed } from "./work.ts";

/** A connection or a transaction: both take tagged-template queries. */
export type Q = Sql | postgres.TransactionSql<Record<string, never>>;

// ---------------------------------------------------------------- people

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

const customerCols = (r: postgres.Row): Customer => ({
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

/** Whether `actor` asked (audited) to see this customer's number within the last `withinMs`. */
export async function phoneRevealedTo(
  sql: Q,
  actor: string,
  customerId: string,
  withinMs: number,
): Promise<boolean> {
  const rows = await sql`
    select 1 from audit_log where actor = ${actor} and action = 'customer.phone_revealed'
      and target = ${`customer:${customerId}`} and at > ${new Date(Date.now() - withinMs)} limit 1`;
  return rows.length > 0;
}

export async function audit(
  sql: Q,
  actor: string,
  action: string,
  target: string,
  detail: object = {},
): Promise<void> {
  await sql`insert into audit_log (actor, action, target, detail) values (${actor}, ${action}, ${target}, ${sql.json(detail as postgres.JSONValue)})`;
}

// ---------------------------------------------------------------- tokens

export type Role = "ingest" | "risk" | "advocate" | "supervisor" | "admin";

export interface Principal {
  tokenId: string;
  /** What people call the token (a person, a team, a system); versions and audits show it. */
  label: string;
  role: Role;
  advocateId: string | null;
  team: string | null;
  /** The advocate's name, for the desk's header; read with a desk session only. */
  advocateName?: string | null;
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** Creates a bearer token; the plaintext is returned once and never stored. */
export async function createToken(
  sql: Q,
  t: {
    role: Role;
    advocateId?: string | null;
    team?: string | null;
    label?: string;
    token?: string;
    id?: string;
  },
): Promise<{ id: string; token: string }> {
  const token = t.token ?? `tp_${randomBytes(24).toString("base64url")}`;
  const id = t.id ?? `tok-${randomBytes(6).toString("hex")}`;
  // An advocate's token takes its team from the advocate, live: stored, it would outlive a move.
  const team = t.advocateId ? null : (t.team ?? null);
  await sql`
    insert into api_tokens (id, token_hash, role, advocate_id, team, label)
    values (${id}, ${hashToken(token)}, ${t.role}, ${t.advocateId ?? null}, ${team}, ${t.label ?? ""})
    on conflict (id) do update set token_hash = excluded.token_hash, role = excluded.role, revoked_at = null`;
  // A token made again under the same id (ADMIN_TOKEN changed, the local CLI token at each start)
  // ends the desk sessions opened with its earlier secret.
  await sql`update desk_sessions set revoked_at = now() where token_id = ${id} and revoked_at is null`;
  return { id, token };
}

/**
 * Revokes a token and the desk sessions opened with it (the sessions die with the token anyway;
 * marking them says when). False when no live token has that id.
 */
export async function revokeToken(sql: Q, id: string, now: Date): Promise<boolean> {
  const rows =
    await sql`update api_tokens set revoked_at = ${now} where id = ${id} and revoked_at is null returning id`;
  await sql`update desk_sessions set revoked_at = ${now} where token_id = ${id} and revoked_at is null`;
  return rows.length > 0;
}

export async function principalFor(sql: Q, token: string): Promise<Principal | undefined> {
  const [row] = await sql`
    select t.id, t.label, t.role, t.advocate_id, case when t.advocate_id is null then t.team else a.team end as team
    from api_tokens t left join advocates a on a.id = t.advocate_id
    where t.token_hash = ${hashToken(token)} and t.revoked_at is null`;
  return row
    ? { tokenId: row.id, label: row.label, role: row.role, advocateId: row.advocate_id, team: row.team }
    : undefined;
}

/**
 * Refuses a token request that would read more than it should: an unknown advocate, an
 * advocate's token for another team than theirs, a team no advocate is in. The API and the CLI
 * both ask here.
 */
export async function checkTokenRequest(
  sql: Q,
  t: { role: Role; advocateId?: string | undefined; team?: string | undefined },
): Promise<void> {
  const advocate = t.advocateId ? await getAdvocate(sql, t.advocateId) : undefined;
  if (t.advocateId && !advocate) {
    throw new ValidationError("unknown advocate", [
      { path: "advocateId", message: `no advocate ${t.advocateId}` },
    ]);
  }
  if (t.role === "advocate" && !advocate) {
    throw new ValidationError("an advocate token names its advocate", [
      { path: "advocateId", message: "required for role advocate" },
    ]);
  }
  // An advocate's token reads their own team's cases: another team would be a way round that.
  if (advocate && t.team && t.team !== advocate.team) {
    throw new ValidationError("an advocate token carries its advocate's team", [
      { path: "team", message: `advocate ${advocate.id} is in team ${advocate.team}, not ${t.team}` },
    ]);
  }
  const unknown = t.team && !advocate ? unknownTeam(t.team, await advocateTeams(sql)) : undefined;
  if (unknown) throw new ValidationError("unknown team", [{ path: "team", message: unknown }]);
}

/** The teams advocates are in, sorted: the only teams a token or a rule can name (see unknownTeam). */
export async function advocateTeams(sql: Q): Promise<string[]> {
  const rows = await sql`select distinct team from advocates order by team`;
  return rows.map((r) => r.team as string);
}

/** Opens a desk session for a token; the returned id goes in the cookie and is never stored. */
export async function createDeskSession(sql: Q, tokenId: string, ttlMs: number, now: Date): Promise<string> {
  const id = randomBytes(32).toString("base64url");
  await sql`
    insert into desk_sessions (id_hash, token_id, expires_at)
    values (${hashToken(id)}, ${tokenId}, ${new Date(now.getTime() + ttlMs)})`;
  return id;
}

/** The principal of a live desk session: not expired, not revoked, and its token not revoked. */
export async function principalForSession(
  sql: Q,
  sessionId: string,
  now: Date,
): Promise<Principal | undefined> {
  const [row] = await sql`
    select t.id, t.label, t.role, t.advocate_id, a.name as advocate_name,
      case when t.advocate_id is null then t.team else a.team end as team
    from desk_sessions s join api_tokens t on t.id = s.token_id left join advocates a on a.id = t.advocate_id
    where s.id_hash = ${hashToken(sessionId)} and s.revoked_at is null and s.expires_at > ${now}
      and t.revoked_at is null`;
  return row
    ? {
        tokenId: row.id,
        label: row.label,
        role: row.role,
        advocateId: row.advocate_id,
        team: row.team,
        advocateName: row.advocate_name ?? null,
      }
    : undefined;
}

export async function revokeDeskSession(sql: Q, sessionId: string, now: Date): Promise<void> {
  await sql`update desk_sessions set revoked_at = ${now} where id_hash = ${hashToken(sessionId)} and revoked_at is null`;
}

/**
 * Makes sure an admin can get in: ADMIN_TOKEN when set (replacing an earlier one), otherwise a
 * token generated once, on the first start, and returned so the caller can print it.
 */
export async function ensureAdminToken(sql: Q, configured: string | undefined): Promise<string | undefined> {
  if (configured) {
    await createToken(sql, { id: "admin-env", role: "admin", token: configured, label: "ADMIN_TOKEN" });
    return undefined;
  }
  const [any] = await sql`select 1 from api_tokens where role = 'admin' and revoked_at is null`;
  if (any) return undefined;
  const { token } = await createToken(sql, {
    id: "admin-generated",
    role: "admin",
    label: "generated at first start",
  });
  return token;
}

// ---------------------------------------------------------------- events

/** Events the API queues as one `evaluate` job, under an id of their own. */
export interface EventBatch {
  id: string;
  events: TouchpointEvent[];
}

/**
 * Stores a request's events not seen before, each with its batch, and a row per batch that kept
 * any, in one statement: all or nothing, so a failed request leaves nothing half stored.
 * Duplicates (by id) are skipped. Returns the batches as stored: only their new events, and only
 * batches left with one.
 */
export async function insertBatches(
  sql: Q,
  batches: readonly EventBatch[],
  receivedAt: Date,
): Promise<EventBatch[]> {
  // Column by column, each payload its own JSON text: Postgres parses each into jsonb and reads
  // the columns as given. Measured (reports of 60,000 events in requests of 1,000): 24 µs of
  // Postgres CPU an event, where one JSON array taken apart in SQL (jsonb_array_elements and
  // ->> per column) cost 38, for 4 µs more of Node CPU; text, not jsonb[], as the client would
  // encode each string as a JSON string. Six parameters however many events.
  const ids: string[] = [];
  const customers: string[] = [];
  const types: string[] = [];
  const occurred: string[] = [];
  const payloads: string[] = [];
  const batchIds: string[] = [];
  for (const b of batches) {
    for (const e of b.events) {
      ids.push(e.id);
      customers.push(e.customerId);
      types.push(e.type);
      occurred.push(e.occurredAt);
      payloads.push(JSON.stringify(e));
      batchIds.push(b.id);
    }
  }
  if (ids.length === 0) return [];
  const inserted = await sql`
    with stored as (
      insert into events (id, customer_id, type, occurred_at, received_at, payload, batch_id)
      select id, customer_id, type, occurred_at, ${receivedAt}, payload::jsonb, batch_id
      from unnest(${ids}::text[], ${customers}::text[], ${types}::text[], ${occurred}::timestamptz[],
        ${payloads}::text[], ${batchIds}::text[]) as u(id, customer_id, type, occurred_at, payload, batch_id)
      -- In id order: two requests sharing events take their locks in the same order (no deadlock).
      order by id
      on conflict (id) do nothing
      returning id, batch_id
    ), made as (
      insert into event_batches (id, received_at, event_ids)
      select batch_id, ${receivedAt}, array_agg(id) from stored group by batch_id
    )
    select id from stored`;
  const fresh = new Set(inserted.map((r) => r.id as string));
  return batches
    .map((b) => ({ id: b.id, events: b.events.filter((e) => fresh.has(e.id)) }))
    .filter((b) => b.events.length > 0);
}

/**
 * Takes back stored batches not yet evaluated, with their events (their jobs could not be
 * queued), in one statement. Returns how many events were taken back.
 */
export async function takeBackBatches(sql: Q, batchIds: readonly string[]): Promise<number> {
  if (batchIds.length === 0) return 0;
  const gone = await sql`
    with taken as (
      delete from event_batches where id = any(${batchIds as string[]}) and evaluated_at is null
      returning event_ids
    )
    delete from events where id in (select unnest(event_ids) from taken) returning id`;
  return gone.length;
}

/**
 * Marks a batch observed (its events may reach the customers' Redis state from now on, so a
 * rebuild must replay them: see `customerHistory`) and says whether it is stored (its events were
 * not taken back) and when it was evaluated. Written once per batch, before its first observe.
 */
export async function observeBatch(
  sql: Q,
  batchId: string,
): Promise<{ stored: boolean; evaluatedAt?: Date }> {
  // One statement: the select reads the row as it was before the update, evaluated_at unchanged by it.
  const [row] = await sql`
    with observed as (
      update event_batches set observed_at = now() where id = ${batchId} and observed_at is null returning id
    )
    select evaluated_at from event_batches where id = ${batchId}`;
  if (!row) return { stored: false };
  return row.evaluated_at ? { stored: true, evaluatedAt: row.evaluated_at as Date } : { stored: true };
}

/**
 * Marks a batch evaluated, with the ruleset version that evaluated it (one row, however many
 * events), and sets aside with their reasons the events that could not be evaluated, in one
 * statement: a crash leaves both undone, and the retry evaluates the batch afresh. False when
 * the batch was already marked (a slow first run finished meanwhile) or is no longer stored.
 */
export async function markEvaluated(
  sql: Q,
  batchId: string,
  at: Date,
  version: number,
  failed: ReadonlyArray<{ id: string; error: string }> = [],
): Promise<boolean> {
  const rows = await sql`
    with marked as (
      update event_batches set evaluated_at = ${at}, evaluated_version = ${version}
      where id = ${batchId} and evaluated_at is null returning id
    ), failed as (
      update events set error = f.error
      from unnest(${failed.map((f) => f.id)}::text[], ${failed.map((f) => f.error.slice(0, 2000))}::text[]) as f(id, error)
      where events.id = f.id and exists (select 1 from marked)
    )
    select id from marked`;
  return rows.length > 0;
}

/**
 * The stored batches holding these events, whole (events may share a batch with others not
 * named), with when they were received and whether they were evaluated.
 */
export async function batchesOf(
  sql: Q,
  eventIds: readonly string[],
): Promise<Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date; evaluated: boolean }>> {
  const batches = await sql`
    select b.id, b.received_at, b.event_ids, b.evaluated_at from event_batches b
    where b.id in (select batch_id from events where id = any(${eventIds as string[]}))
    order by b.received_at, b.id`;
  return withEvents(sql, batches);
}

/** Batch rows (`event_batches`) with their stored events, in each batch's order. */
async function withEvents(
  sql: Q,
  batches: readonly Record<string, unknown>[],
): Promise<Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date; evaluated: boolean }>> {
  const ids = batches.flatMap((b) => b.event_ids as string[]);
  const rows = ids.length > 0 ? await sql`select id, payload from events where id = any(${ids})` : [];
  const payloads = new Map(rows.map((r) => [r.id as string, r.payload as TouchpointEvent]));
  return batches.map((b) => ({
    id: b.id as string,
    receivedAt: b.received_at as Date,
    evaluated: b.evaluated_at != null,
    events: (b.event_ids as string[]).flatMap((id) => payloads.get(id) ?? []),
  }));
}

/**
 * What a customer's Redis state is rebuilt from: their stored events from `since` on (at most
 * `perCustomer` of each one's latest), plus, however old, the travel notices still running at
 * `since` and the first sighting of each device (state keeps those by end date and for as long as
 * the customer is active). Events of batches observed (see `observeBatch`), evaluated or not: a
 * batch in flight may have written its events into a Redis that then forgot them, and unless the
 * rebuilt state holds them, neither it nor a later batch sees the other (an impossible journey
 * missed). Batches not yet observed are left to their own runs (replaying every unevaluated event
 * doubled the state work of first-seen customers: 2.8k events/s end to end instead of 3.6k).
 * Events of the batch at hand (`exclude`) are left to it, and events set aside with an error stay out.
 */
export async function customerHistory(
  sql: Q,
  customerIds: readonly string[],
  since: Date,
  perCustomer: number,
  exclude: readonly string[],
): Promise<TouchpointEvent[]> {
  if (customerIds.length === 0) return [];
  const ids = customerIds as string[];
  const skip = exclude as string[];
  // Evaluated before migration 012 had no observed_at; every batch observed since has one.
  const observed = sql`exists (
    select 1 from event_batches b
    where b.id = events.batch_id and (b.observed_at is not null or b.evaluated_at is not null))`;
  const rows = await sql`
    select e.payload from unnest(${ids}::text[]) as c(id)
    cross join lateral (
      select payload from events
      where customer_id = c.id and occurred_at >= ${since} and error is null and id <> all(${skip})
        and ${observed}
      order by occurred_at desc limit ${perCustomer}
    ) e
    union all
    select payload from events
    where customer_id = any(${ids}) and type = 'travel.notice' and occurred_at < ${since}
      and (payload->'travel'->>'to')::timestamptz >= ${since} and ${observed} and error is null and id <> all(${skip})
    union all
    select payload from (
      select distinct on (customer_id, payload->'device'->>'id') payload from events
      where customer_id = any(${ids}) and occurred_at < ${since} and payload ? 'device'
        and ${observed} and error is null and id <> all(${skip})
      order by customer_id, payload->'device'->>'id', occurred_at
    ) d`;
  return rows.map((r) => r.payload as TouchpointEvent);
}

/**
 * Batches accepted but never evaluated (their job lost with a Redis that kept nothing), oldest
 * first, as many as hold `maxEvents` events (at least one batch), with their events.
 */
export async function unevaluatedBatches(
  sql: Q,
  olderThan: Date,
  maxEvents: number,
): Promise<Array<{ id: string; events: TouchpointEvent[]; receivedAt: Date }>> {
  const batches = await sql`
    select id, received_at, event_ids from (
      select id, received_at, event_ids,
        sum(cardinality(event_ids)) over (order by received_at, id) - cardinality(event_ids) as before
      from (
        -- Every batch holds an event: no more than maxEvents batches can be wanted.
        select id, received_at, event_ids from event_batches
        where evaluated_at is null and received_at < ${olderThan}
        order by received_at, id limit ${maxEvents}
      ) pending
    ) b
    where before < ${maxEvents}
    order by received_at, id`;
  return withEvents(sql, batches);
}

// ---------------------------------------------------------------- decisions

export interface NewDecision {
  event: TouchpointEvent;
  hit: Hit;
  rulesetVersion: number;
  decidedAt: Date;
}

/** Stores decisions once per (event, rule); returns those that were new. */
export async function insertDecisions(
  sql: Q,
  decisions: readonly NewDecision[],
): Promise<Array<{ id: string; rule: string; customerId: string }>> {
  if (decisions.length === 0) return [];
  const rows = decisions.map((d) => ({
    event_id: d.event.id,
    customer_id: d.event.customerId,
    rule: d.hit.rule,
    mode: d.hit.mode,
    ruleset_version: d.rulesetVersion,
    severity: d.hit.severity,
    title: d.hit.title,
    team: d.hit.team,
    explanation: d.hit.explanation,
    decided_at: d.decidedAt,
  }));
  const out = await sql`
    insert into decisions ${sql(rows as never, "event_id", "customer_id", "rule", "mode", "ruleset_version", "severity", "title", "team", "explanation", "decided_at")}
    on conflict (event_id, rule) do update set mode = excluded.mode, ruleset_version = excluded.ruleset_version
      where decisions.case_id is null
        and (decisions.mode, decisions.ruleset_version) is distinct from (excluded.mode, excluded.ruleset_version)
    returning id, rule, customer_id, (xmax = 0) as inserted`;
  // A retry under a newer version whose rule changed mode takes that mode (a rule made live
  // must reach a case; one made shadow must not), as long as no case has the decision yet; its
  // first date stays. Only new rows count as new.
  return out
    .filter((r) => r.inserted)
    .map((r) => ({ id: String(r.id), rule: r.rule as string, customerId: r.customer_id as string }));
}

/** The cards in a case's evidence, oldest first: what a NO blocks and what texts name by last four. */
export async function caseCards(sql: Q, caseId: string): Promise<Array<{ id: string; last4: string }>> {
  const rows = await sql`
    select e.payload->'card'->>'id' as id, e.payload->'card'->>'last4' as last4, min(e.occurred_at) as first
    from decisions d join events e on e.id = d.event_id
    where d.case_id = ${caseId} and e.payload->'card' is not null
    group by 1, 2 order by first`;
  return rows.map((r) => ({ id: r.id as string, last4: r.last4 as string }));
}

/** Customers with decisions not yet on a case. */
export async function customersWithUnlinkedDecisions(
  sql: Q,
  customerIds: readonly string[],
): Promise<string[]> {
  if (customerIds.length === 0) return [];
  const rows =
    await sql`select distinct customer_id from decisions where case_id is null and mode = 'live' and customer_id = any(${customerIds as string[]})`;
  return rows.map((r) => r.customer_id as string);
}

// ---------------------------------------------------------------- cases

export async function addTimeline(
  sql: Q,
  caseId: string,
  kind: TimelineKind,
  idemKey: string,
  detail: object,
  opts: { actor?: string; at?: Date } = {},
): Promise<boolean> {
  const rows = await sql`
    insert into case_timeline (case_id, kind, actor, detail, idem_key, at)
    values (${caseId}, ${kind}, ${opts.actor ?? "system"}, ${sql.json(detail as postgres.JSONValue)}, ${idemKey}, ${opts.at ?? new Date()})
    on conflict (idem_key) do nothing returning id`;
  return rows.length > 0;
}

/** The detail of the timeline entry recorded under `idemKey`, if any. */
export async function timelineDetailByKey(
  sql: Q,
  idemKey: string,
): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql`select detail from case_timeline where idem_key = ${idemKey}`;
  return row?.detail as Record<string, unknown> | undefined;
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

export interface CaseUpdate {
  caseId: string;
  created: boolean;
  linked: number;
  advocateId: string | null;
  severity: Severity;
  /** The case became more severe with this update (a reason to contact the customer sooner). */
  escalated: boolean;
  /** The case waits for the customer's previous advocate until then; reroute it at that time. */
  waitUntil: Date | null;
}

/**
 * Puts a customer's unlinked decisions on their open case, opening (and routing) one if there is
 * none. Safe to run twice and concurrently: the partial unique index allows one open case per
 * customer, and every timeline step has its idempotency key.
 *
 * `owing` names the work the update makes owed (the check text, the end of a wait); it is
 * recorded in the same transaction, so a case is never committed without it: should the job
 * that opened it then be lost with Redis, the reconciler still finds its text owed.
 */
export async function openOrJoinCase(
  sql: Sql,
  customerId: string,
  now: Date,
  owing: (update: CaseUpdate) => readonly OwedJob[] = () => [],
): Promise<CaseUpdate | undefined> {
  return sql.begin(async (tx) => {
    const decisions = await tx`
      select d.id, d.event_id, d.rule, d.severity, d.title, d.team, d.decided_at, e.occurred_at
      from decisions d join events e on e.id = d.event_id
      where d.customer_id = ${customerId} and d.case_id is null and d.mode = 'live' order by e.occurred_at, d.id for update of d`;
    if (decisions.length === 0) return undefined;
    const first = decisions[0]!;
    const severity = decisions.reduce<Severity>((s, d) => maxSeverity(s, d.severity), "low");
    const top = decisions.find((d) => d.severity === severity) ?? first;

    const inserted = await tx`
      insert into cases (id, customer_id, severity, team, title, opened_at, first_decision_at)
      values (${newCaseId(now)}, ${customerId}, ${severity}, ${top.team}, ${top.title}, ${now}, ${first.decided_at})
      on conflict (customer_id) where status = 'open' do nothing returning id`;
    const created = inserted.length > 0;
    const [kase] =
      await tx`select id, severity, advocate_id from cases where customer_id = ${customerId} and status = 'open' for update`;
    const caseId = kase!.id as string;

    if (created) {
      await addTimeline(
        tx,
        caseId,
        "case.opened",
        `opened:${caseId}`,
        { severity, title: top.title, team: top.team },
        { at: now },
      );
    }
    const escalated = !created && maxSeverity(kase!.severity, severity) !== kase!.severity;
    if (escalated) {
      await tx`update cases set severity = ${severity}, updated_at = now() where id = ${caseId}`;
      await addTimeline(
        tx,
        caseId,
        "case.escalated",
        `escalated:${caseId}:${severity}`,
        { from: kase!.severity, to: severity },
        { at: now },
      );
    }
    await tx`update decisions set case_id = ${caseId} where id = any(${decisions.map((d) => d.id)})`;
    for (const d of decisions) {
      await addTimeline(
        tx,
        caseId,
        "evidence.added",
        `decision:${d.id}`,
        { decisionId: String(d.id), eventId: d.event_id, rule: d.rule, severity: d.severity, title: d.title },
        { at: now },
      );
    }

    let advocateId = kase!.advocate_id as string | null;
    let waitUntil: Date | null = null;
    if (escalated && !advocateId) {
      // More urgent now: a high case stops waiting for the customer's advocate; others wait less.
      const assigned = await assignCase(tx, caseId, now, "case escalated");
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    if (created) {
      await tx`
        update cases set preferred_advocate_id = (select last_advocate_id from customers where id = ${customerId})
        where id = ${caseId}`;
      const assigned = await assignCase(tx, caseId, now, "case opened");
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    const update: CaseUpdate = {
      caseId,
      created,
      escalated,
      waitUntil,
      linked: decisions.length,
      advocateId,
      severity: maxSeverity(kase!.severity, severity),
    };
    for (const job of owing(update)) await recordOwed(tx, job);
    return update;
  });
}

/**
 * Assigns an open, unassigned case: to the customer's previous advocate if they can take it; else,
 * by severity, waits a while for them (setting `wait_until`); else to the least-loaded advocate of
 * the team. Every change goes on the timeline with its reason. Call inside a transaction.
 */
async function assignCase(
  tx: Q,
  caseId: string,
  now: Date,
  trigger: string,
  opts: { waitOver?: boolean } = {},
): Promise<{ advocateId: string | null; waitUntil: Date | null } | undefined> {
  const [c] = await tx`
    select id, customer_id, team, severity, status, advocate_id, preferred_advocate_id, wait_until
    from cases where id = ${caseId} for update`;
  if (!c || c.status !== "open" || c.advocate_id) return undefined;
  const previousId = (c.preferred_advocate_id as string | null) ?? null;
  const loads = await advocateLoads(tx, tx`a.team = ${c.team} or a.id = ${previousId}`);
  const previous = loads.find((a) => a.id === previousId);
  const waitUntil = (c.wait_until as Date | null) ?? null;
  const choice = chooseAdvocate({
    previousId,
    ...(previous ? { previous } : {}),
    team: loads.filter((a) => a.team === c.team),
    teamName: c.team,
    severity: c.severity,
    waitExpired: waitUntil !== null && (opts.waitOver === true || waitUntil <= now),
  });
  const [{ n }] = (await tx`
    select count(*)::int as n from case_timeline where case_id = ${caseId} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
    { n: number },
  ];
  const step = (kind: "case.assigned" | "case.unassigned", detail: object) =>
    addTimeline(
      tx,
      caseId,
      kind,
      `assigned:${caseId}:${n}`,
      { ...detail, trigger, previousAdvocateId: previousId },
      { at: now },
    );

  if (choice.waitMinutes) {
    if (waitUntil) {
      // Still waiting; new evidence may have made the case more urgent, so the wait can only shorten.
      const capped = new Date(Math.min(waitUntil.getTime(), now.getTime() + choice.waitMinutes * 60_000));
      if (capped < waitUntil)
        await tx`update cases set wait_until = ${capped}, updated_at = now() where id = ${caseId}`;
      return { advocateId: null, waitUntil: capped };
    }
    const until = new Date(now.getTime() + choice.waitMinutes * 60_000);
    await tx`update cases set wait_until = ${until}, updated_at = now() where id = ${caseId}`;
    await step("case.unassigned", {
      advocateId: null,
      advocateName: null,
      reason: choice.reason,
      fallback: choice.fallback ?? null,
      waitUntil: until.toISOString(),
    });
    return { advocateId: null, waitUntil: until };
  }
  if (!choice.advocateId) {
    const detail = {
      advocateId: null,
      advocateName: null,
      reason: choice.reason,
      fallback: choice.fallback ?? null,
    };
    if (waitUntil && (opts.waitOver || waitUntil <= now)) {
      // Said once per wait, however often the reroute runs again.
      await addTimeline(
        tx,
        caseId,
        "case.unassigned",
        `waitover:${caseId}:${waitUntil.getTime()}`,
        {
          ...detail,
          trigger,
          previousAdvocateId: previousId,
        },
        { at: now },
      );
    } else if (n === 0) {
      await step("case.unassigned", detail);
    }
    return { advocateId: null, waitUntil: null };
  }
  const adv = loads.find((a) => a.id === choice.advocateId)!;
  await tx`update cases set advocate_id = ${adv.id}, wait_until = null, updated_at = now() where id = ${caseId}`;
  await tx`update customers set last_advocate_id = ${adv.id} where id = ${c.customer_id}`;
  await step("case.assigned", {
    advocateId: adv.id,
    advocateName: adv.name,
    reason: choice.reason,
    fallback: choice.fallback ?? null,
  });
  return { advocateId: adv.id, waitUntil: null };
}

/** A case that waited for its customer's previous advocate: assign it now, one way or the other. */
export async function rerouteCase(sql: Sql, caseId: string, now: Date) {
  // The delayed job fires when the wait ends: it is the authority on "over", whatever the clocks say.
  return sql.begin((tx) => assignCase(tx, caseId, now, "wait over", { waitOver: true }));
}

/** Gives waiting (unassigned) open cases of a team to whoever can take them now. */
export async function assignWaitingCases(sql: Sql, team: string, now: Date): Promise<number> {
  const waiting = await sql`
    select c.id from cases c left join advocates p on p.id = c.preferred_advocate_id
    where c.status = 'open' and c.advocate_id is null and (c.team = ${team} or p.team = ${team}) order by c.opened_at`;
  let assigned = 0;
  for (const w of waiting) {
    const r = await sql.begin((tx) => assignCase(tx, w.id, now, "an advocate came online"));
    if (r?.advocateId) assigned++;
  }
  return assigned;
}

/**
 * The customer's previous advocate is back: open cases that fell back to someone else, who has
 * not yet acted on them (no note, no call), go back to the advocate the customer knows.
 */
export async function returnCasesToPreferred(sql: Sql, advocateId: string, now: Date): Promise<number> {
  const candidates = await sql`
    select c.id from cases c
    where c.status = 'open' and c.preferred_advocate_id = ${advocateId} and c.advocate_id is not null and c.advocate_id <> ${advocateId}
      and not exists (select 1 from case_timeline t where t.case_id = c.id and t.actor = c.advocate_id)
    order by c.opened_at`;
  let moved = 0;
  for (const cand of candidates) {
    const ok = await sql.begin(async (tx) => {
      const [c] =
        await tx`select id, customer_id, advocate_id, status from cases where id = ${cand.id} for update`;
      if (!c || c.status !== "open" || !c.advocate_id || c.advocate_id === advocateId) return false;
      const [me] = await advocateLoads(tx, tx`a.id = ${advocateId}`);
      if (!me || me.status !== "online" || me.open >= me.capacity) return false;
      const [{ n }] = (await tx`
        select count(*)::int as n from case_timeline where case_id = ${c.id} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
        { n: number },
      ];
      const [from] = await tx`select name from advocates where id = ${c.advocate_id}`;
      await tx`update cases set advocate_id = ${advocateId}, updated_at = now() where id = ${c.id}`;
      await tx`update customers set last_advocate_id = ${advocateId} where id = ${c.customer_id}`;
      await addTimeline(
        tx,
        c.id,
        "case.assigned",
        `assigned:${c.id}:${n}`,
        {
          advocateId,
          advocateName: me.name,
          reason: `${me.name}, who helped this customer before, is back; ${from?.name ?? c.advocate_id} had not started on it`,
          trigger: "previous advocate back",
          previousAdvocateId: advocateId,
        },
        { at: now },
      );
      return true;
    });
    if (ok) moved++;
  }
  return moved;
}

/**
 * The customer said NO: the case's outcome is confirmed fraud, and it stays open — the advocate
 * calls the customer and resolves it (DESIGN: only YES resolves by itself). Returns the outcome
 * the case has, which differs from confirmed fraud when another answer got there first.
 */
export async function confirmFraud(
  sql: Sql,
  caseId: string,
  actor: string,
  detail: object,
  now: Date,
): Promise<{ applied: boolean; outcome: CaseOutcome }> {
  return sql.begin(async (tx) => {
    const [c] = await tx`select id, status, outcome from cases where id = ${caseId} for update`;
    if (!c) throw new NotFoundError(`case ${caseId} not found`);
    if (c.status !== "open" || c.outcome)
      return { applied: false, outcome: (c.outcome as CaseOutcome | null) ?? "false_alarm" };
    await tx`update cases set outcome = 'confirmed_fraud', updated_at = now() where id = ${caseId}`;
    await addTimeline(
      tx,
      caseId,
      "case.confirmed",
      `confirmed:${caseId}`,
      { outcome: "confirmed_fraud", ...detail },
      { actor, at: now },
    );
    return { applied: true, outcome: "confirmed_fraud" };
  });
}

export async function resolveCase(
  sql: Sql,
  caseId: string,
  outcome: CaseOutcome,
  actor: string,
  idemKey: string,
  detail: object = {},
  now = new Date(),
  opts: { keepOutcome?: boolean } = {},
): Promise<{
  resolved: boolean;
  secondsOpen: number;
  outcome: CaseOutcome;
  /** Whether the case is resolved now (by this call or an earlier one), and who had it then. */
  status: "open" | "resolved";
  advocateId: string | null;
  team: string;
  resolvedAt: Date | null;
}> {
  return sql.begin(async (tx) => {
    const [c] =
      await tx`select id, status, outcome, opened_at, resolved_at, advocate_id, team from cases where id = ${caseId} for update`;
    if (!c) throw new NotFoundError(`case ${caseId} not found`);
    const secondsOpen = Math.max(0, (now.getTime() - (c.opened_at as Date).getTime()) / 1000);
    const as = {
      status: c.status as "open" | "resolved",
      advocateId: (c.advocate_id as string | null) ?? null,
      team: c.team as string,
      resolvedAt: (c.resolved_at as Date | null) ?? null,
    };
    // Already resolved: report the outcome it has, which may differ from the one asked for.
    if (c.status === "resolved")
      return { ...as, resolved: false, secondsOpen, outcome: c.outcome as CaseOutcome };
    // A customer's YES must not overturn their own earlier NO: only an advocate may.
    if (opts.keepOutcome && c.outcome && c.outcome !== outcome) {
      return { ...as, resolved: false, secondsOpen, outcome: c.outcome as CaseOutcome };
    }
    assertResolvable(c as { id: string; status: "open" });
    await tx`update cases set status = 'resolved', outcome = ${outcome}, resolved_at = ${now}, updated_at = now() where id = ${caseId}`;
    await addTimeline(tx, caseId, "case.resolved", idemKey, { outcome, ...detail }, { actor, at: now });
    return { ...as, status: "resolved" as const, resolvedAt: now, resolved: true, secondsOpen, outcome };
  });
}

// ---------------------------------------------------------------- read side

export interface CaseFilter {
  customerId?: string;
  /** Only these cases (a lookup's answer). */
  ids?: readonly string[];
  status?: "open" | "resolved";
  advocateId?: string;
  team?: string;
  limit: number;
}

export async function listCases(sql: Q, f: CaseFilter) {
  const conds = [
    f.customerId ? sql`c.customer_id = ${f.customerId}` : null,
    f.ids ? sql`c.id = any(${f.ids as string[]})` : null,
    f.status ? sql`c.status = ${f.status}` : null,
    f.advocateId ? sql`c.advocate_id = ${f.advocateId}` : null,
    f.team ? sql`c.team = ${f.team}` : null,
  ].filter((x) => x !== null);
  const where = conds.reduce((acc, c, i) => (i === 0 ? sql`where ${c}` : sql`${acc} and ${c}`), sql``);
  const rows = await sql`
    select c.id, c.customer_id, cu.name as customer_name, c.status, c.outcome, c.severity, c.team, c.title,
      c.advocate_id, a.name as advocate_name, c.opened_at, c.resolved_at, c.updated_at, ${attentionSql(sql)} as attention
    from cases c left join advocates a on a.id = c.advocate_id left join customers cu on cu.id = c.customer_id
    ${where} order by c.opened_at desc limit ${f.limit}`;
  return rows.map((r) => ({
    id: r.id as string,
    customerId: r.customer_id as string,
    /** The customer's name, for lists people read (null if the customer is not on file). */
    customerName: (r.customer_name as string | null) ?? null,
    status: r.status as string,
    outcome: (r.outcome as string | null) ?? null,
    severity: r.severity as Severity,
    team: r.team as string,
    title: r.title as string,
    advocateId: (r.advocate_id as string | null) ?? null,
    advocate: r.advocate_id ? { id: r.advocate_id as string, name: r.advocate_name as string } : null,
    openedAt: (r.opened_at as Date).toISOString(),
    resolvedAt: r.resolved_at ? (r.resolved_at as Date).toISOString() : null,
    attention: (r.attention as string | null) ?? null,
  }));
}

/**
 * What the advocate must do now, if anything: the latest call task or alert that no note has
 * answered since, on an open case or one the customer confirmed as fraud (they need a call).
 */
function attentionSql(sql: Q) {
  return sql`(
    select t.detail->>'reason' from case_timeline t
    where t.case_id = c.id and (c.status = 'open' or c.outcome = 'confirmed_fraud' or t.at > c.resolved_at)
      and (t.kind in ('task.call_customer', 'advocate.alerted')
        -- A call is answered or not within minutes: it needs someone only while it may still be ringing.
        or (t.kind = 'call.received' and t.at > now() - interval '15 minutes'))
      -- Answered by what an advocate did after it: a note, a text, a call that reached the customer or
      -- left them a message, or resolving the case. A call nobody answered leaves the task open.
      and not exists (select 1 from case_timeline n where n.case_id = c.id and n.id > t.id
        and (n.kind in ('note.added', 'message.written', 'case.resolved')
          or (n.kind = 'call.logged' and n.detail->>'outcome' <> 'no_answer')))
    order by t.id desc limit 1)`;
}

/** Of these cases, those where touchpoint or an advocate wrote to the customer and no reply came since. */
export async function casesAwaitingReply(sql: Q, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql`
    select distinct m.case_id from case_timeline m
    where m.case_id = any(${ids as string[]}) and m.kind in ('message.sent', 'message.written')
      and not exists (select 1 from case_timeline r where r.case_id = m.case_id and r.kind = 'reply.received' and r.id > m.id)`;
  return new Set(rows.map((r) => r.case_id as string));
}

/** How many of an advocate's cases need them now (a task or an alert nobody has answered). */
export async function casesNeedingAdvocate(sql: Q, advocateId: string): Promise<number> {
  const [r] = await sql`
    select count(*)::int as n from cases c where c.advocate_id = ${advocateId} and ${attentionSql(sql)} is not null`;
  return (r?.n as number) ?? 0;
}

/** Events of the customer's recent activity shown with a case. */
const ACTIVITY_SHOWN = 25;

/**
 * A case with everything an advocate needs: customer, advocate, decisions, events, messages,
 * timeline. Read in one snapshot: its parts are separate queries, and a call task written between
 * two of them would otherwise show on the timeline while `attention` says nothing is needed.
 */
export async function caseDetail(sql: Sql, id: string) {
  return sql.begin("isolation level repeatable read read only", (tx) => caseDetailIn(tx, id));
}

async function caseDetailIn(sql: Q, id: string) {
  const [c] = await sql`select c.*, ${attentionSql(sql)} as attention from cases c where c.id = ${id}`;
  if (!c) throw new NotFoundError(`case ${id} not found`);
  const [customer, advocate, decisions, timeline, history, messages, activity, handOff] = await Promise.all([
    getCustomer(sql, c.customer_id),
    c.advocate_id ? getAdvocate(sql, c.advocate_id) : Promise.resolve(undefined),
    sql`
      select d.id, d.rule, d.ruleset_version, d.severity, d.title, d.explanation, d.decided_at, e.id as event_id, e.payload
      from decisions d join events e on e.id = d.event_id where d.case_id = ${id} order by e.occurred_at, d.id`,
    sql`select id, at, kind, actor, detail from case_timeline where case_id = ${id} order by id`,
    sql`
      select c.id, c.status, c.outcome, c.title, c.opened_at, c.resolved_at, a.name as advocate_name,
        (select coalesce(t.detail->>'text', t.detail->>'note') from case_timeline t
          where t.case_id = c.id and (t.kind = 'note.added' or (t.kind = 'case.resolved' and t.detail->>'note' is not null))
          order by t.id desc limit 1) as last_note
      from cases c left join advocates a on a.id = c.advocate_id
      where c.customer_id = ${c.customer_id} and c.id <> ${id} order by c.opened_at desc limit 20`,
    messagesOf(sql, id),
    // The customer's latest events, those this case is about marked: the story around the hits.
    sql`
      select e.payload, exists (select 1 from decisions d where d.event_id = e.id and d.case_id = ${id}) as flagged
      from events e where e.customer_id = ${c.customer_id} order by e.occurred_at desc limit ${ACTIVITY_SHOWN}`,
    // The note the case's advocate reads first: the latest hand-over (or reassignment) to them.
    sql`
      select t.detail, t.at, coalesce(a.name, t.actor) as by from case_timeline t left join advocates a on a.id = t.actor
      where t.case_id = ${id} and t.kind = 'case.assigned' and t.detail->>'trigger' in ('handoff', 'reassign')
        and t.detail->>'note' is not null and t.detail->>'advocateId' = ${c.advocate_id ?? ""}
      order by t.id desc limit 1`,
  ]);
  return {
    id: c.id as string,
    customerId: c.customer_id as string,
    status: c.status as string,
    outcome: (c.outcome as string | null) ?? null,
    severity: c.severity as Severity,
    team: c.team as string,
    title: c.title as string,
    advocateId: (c.advocate_id as string | null) ?? null,
    advocate: advocate
      ? { id: advocate.id, name: advocate.name, team: advocate.team, status: advocate.status }
      : null,
    openedAt: (c.opened_at as Date).toISOString(),
    resolvedAt: c.resolved_at ? (c.resolved_at as Date).toISOString() : null,
    /** What the advocate must do now (a call task or alert no note has answered), if anything. */
    attention: (c.attention as string | null) ?? null,
    customer: customer
      ? {
          id: customer.id,
          name: customer.name,
          phone: customer.phone,
          homeCountry: customer.homeCountry,
          timezone: customer.timezone,
          language: customer.language,
          optedOut: customer.optedOutAt !== null,
        }
      : null,
    decisions: decisions.map((d) => ({
      id: String(d.id),
      rule: d.rule as string,
      rulesetVersion: d.ruleset_version as number,
      severity: d.severity as Severity,
      title: d.title as string,
      explanation: d.explanation,
      decidedAt: (d.decided_at as Date).toISOString(),
      event: d.payload as TouchpointEvent,
    })),
    messages,
    /** The hand-over note for the case's advocate, if the case came to them with one. */
    handOff: handOff[0]
      ? {
          by: handOff[0].by as string,
          from: (handOff[0].detail.fromAdvocateName as string | null) ?? null,
          note: handOff[0].detail.note as string,
          at: (handOff[0].at as Date).toISOString(),
        }
      : null,
    /** The customer's latest events (newest first), `flagged` when a decision of this case is about it. */
    activity: activity.map((a) => ({ event: a.payload as TouchpointEvent, flagged: a.flagged as boolean })),
    timeline: timeline.map((t) => ({
      id: String(t.id),
      at: (t.at as Date).toISOString(),
      kind: t.kind as TimelineKind,
      actor: t.actor as string,
      detail: t.detail,
    })),
    previousCases: history.map((h) => ({
      id: h.id as string,
      status: h.status as string,
      outcome: (h.outcome as string | null) ?? null,
      title: h.title as string,
      advocateName: (h.advocate_name as string | null) ?? null,
      openedAt: (h.opened_at as Date).toISOString(),
      resolvedAt: h.resolved_at ? (h.resolved_at as Date).toISOString() : null,
      /** What the advocate wrote last, so the customer is not asked again. */
      lastNote: (h.last_note as string | null) ?? null,
    })),
  };
}

/** The texts of a case, oldest first. */
export async function messagesOf(sql: Q, caseId: string) {
  const rows = await sql`
    select m.id, m.direction, m.kind, m.body, m.status, m.transport, m.author, a.name as author_name, m.created_at, m.updated_at
    from messages m left join advocates a on a.id = m.author
    where m.case_id = ${caseId} order by m.created_at, m.id`;
  return rows.map((m) => ({
    id: String(m.id),
    direction: m.direction as "outbound" | "inbound",
    kind: m.kind as string,
    body: m.body as string,
    status: m.status as string,
    transport: m.transport as "vonage" | "outbox",
    /** Who wrote it: an advocate (id and name), or null for touchpoint's own texts. */
    author: m.author
      ? { id: m.author as string, name: (m.author_name as string | null) ?? (m.author as string) }
      : null,
    createdAt: (m.created_at as Date).toISOString(),
  }));
}

/**
 * What a customer's open case still needs queued, read from the database rather than remembered:
 * a cases job that dies after its transaction committed is retried with nothing left to link,
 * and must still queue the check and the reroute the first attempt never got to.
 */
export async function caseFollowUps(sql: Q, customerId: string) {
  const [c] = await sql`
    select c.id, c.severity, c.advocate_id, c.wait_until, (c.advocate_id is null and c.wait_until > now()) as waiting,
      not exists (select 1 from messages m where m.case_id = c.id and m.idem_key = c.id || ':check')
        and not exists (select 1 from case_timeline t where t.case_id = c.id and t.kind = 'contact.decided') as needs_check
    from cases c where c.customer_id = ${customerId} and c.status = 'open'`;
  if (!c) return undefined;
  return {
    caseId: c.id as string,
    severity: c.severity as Severity,
    needsCheck: c.needs_check as boolean,
    waitUntil: c.waiting ? (c.wait_until as Date) : null,
  };
}
