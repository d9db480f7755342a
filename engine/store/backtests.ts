/** Backtests as the API and their worker share them: the request, progress and report of each. */
import { randomBytes } from "node:crypto";
import type postgres from "postgres";
import type { BacktestReport, Outcome } from "../backtest.ts";
import { NotFoundError } from "../errors.ts";
import type { TouchpointEvent } from "../events.ts";
import type { RuleFile } from "../rules/schema.ts";
import type { Q } from "./database.ts";

export interface BacktestRequest {
  /** Rule files added to the published version or replacing its rules of the same name. */
  files?: RuleFile[];
  /** Rules of the published version the candidate leaves out. */
  remove?: string[];
  from?: string;
  to?: string;
  /** An uploaded stream instead of a stored window, with the outcomes known for its customers. */
  events?: TouchpointEvent[];
  labels?: Record<string, Outcome>;
  maxEvents: number;
}

export type BacktestStatus = "queued" | "running" | "done" | "failed";

export interface BacktestRow {
  id: string;
  status: BacktestStatus;
  requestedBy: string;
  request: BacktestRequest;
  publishedVersion: number;
  done: number;
  total: number | null;
  report: BacktestReport | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const row = (r: postgres.Row): BacktestRow => ({
  id: r.id,
  status: r.status,
  requestedBy: r.requested_by,
  request: r.request,
  publishedVersion: r.published_version,
  done: r.done_events,
  total: r.total_events,
  report: r.report,
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export async function createBacktest(
  sql: Q,
  b: { requestedBy: string; request: BacktestRequest; publishedVersion: number },
): Promise<string> {
  const id = `bt-${randomBytes(6).toString("hex")}`;
  await sql`
    insert into backtests (id, requested_by, request, published_version)
    values (${id}, ${b.requestedBy}, ${sql.json(b.request as unknown as postgres.JSONValue)}, ${b.publishedVersion})`;
  return id;
}

/** A backtest; with `request` only for its worker (an upload can be megabytes, and polls are frequent). */
export async function getBacktest(
  sql: Q,
  id: string,
  opts: { request?: boolean } = {},
): Promise<BacktestRow> {
  const [r] = opts.request
    ? await sql`select * from backtests where id = ${id}`
    : await sql`
        select id, status, requested_by, '{}'::jsonb as request, published_version, done_events, total_events,
          report, error, created_at, started_at, finished_at
        from backtests where id = ${id}`;
  if (!r) throw new NotFoundError(`no backtest ${id}`);
  return row(r);
}

/** The latest backtests, without their requests (an upload can be large). */
export async function recentBacktests(sql: Q, limit = 50) {
  const rows = await sql`
    select id, status, requested_by, published_version, done_events, total_events, error, created_at, finished_at
    from backtests order by created_at desc limit ${limit}`;
  return rows.map((r) => ({
    id: r.id as string,
    status: r.status as BacktestStatus,
    requestedBy: r.requested_by as string,
    publishedVersion: r.published_version as number,
    done: r.done_events as number,
    total: r.total_events as number | null,
    error: r.error as string | null,
    createdAt: (r.created_at as Date).toISOString(),
    finishedAt: r.finished_at ? (r.finished_at as Date).toISOString() : null,
  }));
}

/** Marks a backtest running (again, after a crash: its progress starts over). */
export async function startBacktest(sql: Q, id: string, now: Date): Promise<void> {
  await sql`
    update backtests set status = 'running', started_at = ${now}, done_events = 0, error = null
    where id = ${id} and status in ('queued', 'running')`;
}

export async function backtestProgress(sql: Q, id: string, done: number, total: number): Promise<void> {
  await sql`update backtests set done_events = ${done}, total_events = ${total} where id = ${id} and status = 'running'`;
}

export async function finishBacktest(
  sql: Q,
  id: string,
  outcome: { report: BacktestReport } | { error: string },
  now: Date,
): Promise<void> {
  if ("report" in outcome) {
    // An uploaded stream (customers' events) is kept no longer than its replay needs it.
    await sql`
      update backtests set status = 'done', report = ${sql.json(outcome.report as unknown as postgres.JSONValue)},
        done_events = ${outcome.report.events}, finished_at = ${now}, request = request - 'events'
      where id = ${id}`;
  } else {
    await sql`
      update backtests set status = 'failed', error = ${outcome.error}, finished_at = ${now}, request = request - 'events'
      where id = ${id} and status <> 'done'`;
  }
}
