/**
 * Owed work in Postgres: each job that matters to a person is recorded (by its job id) before it
 * is queued and marked done by the worker that did it, so the reconciler can queue again what
 * Redis lost. Queue-agnostic: rows carry the queue name, job name and data as given.
 */
import type { Q } from "./database.ts";

export interface OwedJob {
  key: string;
  queue: string;
  name: string;
  data: unknown;
  dueAt: Date;
}

/**
 * Records jobs as owed, in one statement (data as JSON text, parsed here: see addTimelineEntries);
 * a second record of the same key changes nothing.
 */
export async function recordOwed(sql: Q, jobs: OwedJob | readonly OwedJob[]): Promise<void> {
  const all: readonly OwedJob[] = Array.isArray(jobs) ? jobs : [jobs as OwedJob];
  if (all.length > 0) await owedInsert(sql, all);
}

/** recordOwed's insert as a statement to run in another's CTE (recordCaseUpdate). At least one job. */
export function owedInsert(sql: Q, all: readonly OwedJob[]) {
  return sql`
    insert into owed_work (key, queue, name, data, due_at)
    select key, queue, name, data::jsonb, due_at
    from unnest(${all.map((j) => j.key)}::text[], ${all.map((j) => j.queue)}::text[],
      ${all.map((j) => j.name)}::text[], ${all.map((j) => JSON.stringify(j.data ?? null))}::text[],
      ${all.map((j) => j.dueAt.toISOString())}::timestamptz[]) as u(key, queue, name, data, due_at)
    on conflict (key) do nothing`;
}

export async function markOwedDone(sql: Q, key: string, at: Date): Promise<void> {
  await sql`update owed_work set done_at = ${at} where key = ${key} and done_at is null`;
}

/** Attempts exhausted: left for a person, no longer re-driven nor counted as pending. */
export async function markOwedFailed(sql: Q, key: string, at: Date): Promise<void> {
  await sql`update owed_work set failed_at = ${at} where key = ${key} and done_at is null`;
}

/** Deletes up to `limit` rows done or failed before `before`. */
export async function pruneOwed(sql: Q, before: Date, limit: number): Promise<number> {
  const rows = await sql`
    delete from owed_work where key in (
      select key from owed_work where coalesce(done_at, failed_at) < ${before} limit ${limit})
    returning key`;
  return rows.length;
}

/** Owed jobs due before `dueBefore`, oldest first. */
export async function dueOwed(sql: Q, dueBefore: Date, limit: number): Promise<OwedJob[]> {
  const rows = await sql`
    select key, queue, name, data, due_at from owed_work
    where done_at is null and failed_at is null and due_at < ${dueBefore}
    order by due_at limit ${limit}`;
  return rows.map((r) => ({
    key: r.key as string,
    queue: r.queue as string,
    name: r.name as string,
    data: r.data,
    dueAt: r.due_at as Date,
  }));
}

/** This database's identity (see migration 005), for Redis key prefixes. */
export async function deploymentId(sql: Q): Promise<string> {
  const [row] = await sql`select id from deployment`;
  if (!row) throw new Error("the deployment row is missing (migration 005)");
  return row.id as string;
}

/**
 * True when Postgres holds work not done: events not evaluated, live decisions not on a case, or
 * owed jobs (the reconciler's three kinds).
 */
export async function anythingPending(sql: Q): Promise<boolean> {
  const [r] = await sql`
    select exists (select 1 from event_batches where evaluated_at is null)
      or exists (select 1 from decisions where case_id is null and mode = 'live')
      or exists (select 1 from owed_work where done_at is null and failed_at is null) as pending`;
  return r?.pending === true;
}

/**
 * How old the oldest pending work is, seconds, by kind: events accepted and not evaluated,
 * decisions not on a case, owed jobs past due. 0 when nothing waits. `actions` waits on the card
 * system, not on us: it is re-driven but does not count here, or a slow card system would take
 * touchpoint's API out of its load balancer. Nor does `backtests`: a long replay is not a stall.
 */
export async function oldestPending(
  sql: Q,
  now: Date,
): Promise<{ events: number; decisions: number; jobs: number }> {
  const [r] = await sql`
    select
      (select min(received_at) from event_batches where evaluated_at is null) as events,
      (select min(decided_at) from decisions where case_id is null and mode = 'live') as decisions,
      (select min(due_at) from owed_work where done_at is null and failed_at is null
         and queue not in ('actions', 'backtests')) as jobs`;
  const age = (d: unknown) => (d instanceof Date ? Math.max(0, (now.getTime() - d.getTime()) / 1000) : 0);
  return { events: age(r?.events), decisions: age(r?.decisions), jobs: age(r?.jobs) };
}
