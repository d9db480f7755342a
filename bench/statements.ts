/**
 * What Postgres did for the sustained run, statement by statement (`--pg-statements`): calls,
 * time, rows, blocks and WAL of each normalised statement from pg_stat_statements, the WAL the
 * cluster wrote, and each table's and index's size afterwards. So a change to the store is judged
 * by what it costs Postgres an event, not by a rate that other work on the machine moves.
 *
 * pg_stat_statements must be in the server's `shared_preload_libraries`, which takes a restart:
 * on a machine whose cluster is shared, run the bench against a private one, e.g.
 *   initdb -D /tmp/pg -U postgres -A trust
 *   postgres -D /tmp/pg -p 55432 -c shared_preload_libraries=pg_stat_statements (as its owner)
 *   npm run bench -- --quick --pg-statements --database-url postgres://postgres@127.0.0.1:55432/postgres
 * Its figures are cluster-wide: on a shared cluster the WAL counts others' writes too.
 */
import type postgres from "postgres";

export interface StatementFigures {
  /** What the statement is in the pipeline, when recognised. */
  what: string;
  query: string;
  calls: number;
  callsPerBatch: number;
  callsPerEvent: number;
  totalMs: number;
  meanMs: number;
  /** Of every statement's execution time in the bench database. */
  share: number;
  rows: number;
  sharedBlocksHit: number;
  sharedBlocksRead: number;
  sharedBlocksDirtied: number;
  sharedBlocksWritten: number;
  walBytes: number;
  walBytesPerEvent: number;
}

export interface PostgresFigures {
  events: number;
  batches: number;
  statements: number;
  statementsPerBatch: number;
  statementsPerEvent: number;
  execMsPerEvent: number;
  /** Execution time is wall time inside the server: lock and I/O waits included. */
  execUsPerEvent: number;
  walBytes: number;
  walBytesPerEvent: number;
  /** The WAL's span, for `pg_waldump --stats=record -s <from> -e <to>` on the cluster's pg_wal. */
  walFrom: string;
  walTo: string;
  /** Statements by what they are in the pipeline (`KNOWN`), most time first. */
  groups: StatementGroup[];
  top: StatementFigures[];
  /** An events row's average bytes as stored (pg_column_size), whole and by column. */
  eventRow: { row: number; payload: number; id: number; customerId: number; batchId: number };
  relations: Array<{
    name: string;
    kind: "table" | "index";
    table: string;
    bytes: number;
    bytesPerEvent: number;
  }>;
}

/** Recognised statements: the first pattern the normalised text matches names it. */
const KNOWN: Array<[RegExp, string]> = [
  [/insert into events/i, "ingest: insertBatches (events + event_batches)"],
  [/update event_batches set observed_at/i, "evaluate: observeBatch"],
  [/update event_batches set evaluated_at/i, "evaluate: markEvaluated"],
  // The client writes one text per number of rows: every size is a statement of its own.
  [/insert into decisions/i, "evaluate: insertDecisions"],
  [/select distinct customer_id from decisions/i, "evaluate: customersWithUnlinkedDecisions"],
  [/from customers where id = any/i, "evaluate: customerProfiles"],
  [/cross join lateral/i, "evaluate: customerHistory (rebuild)"],
  [/from lists|list_versions|from rulesets/i, "evaluate: ruleset / lists"],
  [/fx_rates/i, "evaluate: exchange rates"],
  [/count\(\*\)::int as n from event_batches where evaluated_at is null/i, "bench: progress poll"],
  [/count\(\*\)::int as n from decisions where case_id is null/i, "bench: progress poll"],
  [/from decisions d where d.customer_id = .* for update/i, "cases: lockUnlinkedDecisions"],
  [/with linked as \( ?update decisions set case_id/i, "cases: recordCaseUpdate (link + timeline + owed)"],
  [/update decisions set case_id/i, "cases: linkDecisions"],
  [/with moved as \( ?update messages/i, "outreach: message status + its timeline step"],
  [/insert into case_timeline/i, "cases/outreach: case_timeline insert"],
  [/insert into cases|from cases .*for update|update cases/i, "cases: open/join/route a case"],
  [/owed_work/i, "owed work (due texts)"],
  [/messages/i, "outreach: messages"],
  [/decisions|cases|case_timeline|advocates|customers/i, "cases/outreach: other reads"],
  [/^(begin|commit|rollback)/i, "transaction control"],
];
const whatOf = (query: string) => KNOWN.find(([re]) => re.test(query))?.[1] ?? "";

export interface StatementGroup {
  what: string;
  statements: number;
  calls: number;
  callsPerBatch: number;
  totalMs: number;
  /** Planning time (0 unless pg_stat_statements.track_planning is on). */
  planMs: number;
  share: number;
  rows: number;
  sharedBlocksDirtied: number;
  walBytesPerEvent: number;
}

/**
 * Ready to count: true when pg_stat_statements is loaded in the server (its view made in the
 * database `admin` is connected to if need be); false, with the reason, when it is not.
 */
export async function statementsReady(admin: postgres.Sql): Promise<true | string> {
  const [s] = await admin`select current_setting('shared_preload_libraries') as libs`;
  if (!String(s?.libs ?? "").includes("pg_stat_statements"))
    return "pg_stat_statements is not in this server's shared_preload_libraries (see bench/statements.ts)";
  await admin`create extension if not exists pg_stat_statements`;
  return true;
}

/** Forgets what was counted so far; the cluster's WAL position to count from. */
export async function startCounting(admin: postgres.Sql): Promise<string> {
  await admin`select pg_stat_statements_reset()`;
  const [r] = await admin`select pg_current_wal_lsn()::text as lsn`;
  return r!.lsn as string;
}

export async function statementFigures(
  admin: postgres.Sql,
  sql: postgres.Sql,
  opts: { database: string; fromLsn: string; events: number; batches: number; top?: number },
): Promise<PostgresFigures> {
  const { events, batches } = opts;
  const per = (n: number, d: number) => (d > 0 ? n / d : 0);
  const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
  const rows = await admin`
    select query, calls::float8 as calls, total_exec_time as total_ms, total_plan_time as plan_ms,
      rows::float8 as rows,
      shared_blks_hit::float8 as hit, shared_blks_read::float8 as read,
      shared_blks_dirtied::float8 as dirtied, shared_blks_written::float8 as written,
      wal_bytes::float8 as wal
    from pg_stat_statements
    where dbid = (select oid from pg_database where datname = ${opts.database})
    order by total_exec_time desc`;
  const [w] = await admin`
    select pg_wal_lsn_diff(pg_current_wal_lsn(), ${opts.fromLsn}::pg_lsn)::float8 as bytes,
      pg_current_wal_lsn()::text as lsn`;
  const allMs = rows.reduce((n, r) => n + (r.total_ms as number), 0);
  const allCalls = rows.reduce((n, r) => n + (r.calls as number), 0);
  const walBytes = Number(w?.bytes ?? 0);
  const groups = new Map<string, StatementGroup>();
  for (const r of rows) {
    const query = String(r.query).replace(/\s+/g, " ").trim();
    const what = whatOf(query) || query.slice(0, 60);
    const g = groups.get(what) ?? {
      what,
      statements: 0,
      calls: 0,
      callsPerBatch: 0,
      totalMs: 0,
      planMs: 0,
      share: 0,
      rows: 0,
      sharedBlocksDirtied: 0,
      walBytesPerEvent: 0,
    };
    g.statements += 1;
    g.calls += r.calls as number;
    g.totalMs += r.total_ms as number;
    g.planMs += r.plan_ms as number;
    g.rows += r.rows as number;
    g.sharedBlocksDirtied += r.dirtied as number;
    g.walBytesPerEvent += per(r.wal as number, events);
    groups.set(what, g);
  }
  const grouped = [...groups.values()]
    .map((g) => ({
      ...g,
      callsPerBatch: round(per(g.calls, batches)),
      totalMs: round(g.totalMs, 1),
      planMs: round(g.planMs, 1),
      share: round(per(g.totalMs, allMs), 3),
      walBytesPerEvent: round(g.walBytesPerEvent, 1),
    }))
    .sort((a, b) => b.totalMs - a.totalMs);
  const top = rows.slice(0, opts.top ?? 10).map((r) => {
    const query = String(r.query).replace(/\s+/g, " ").trim();
    const calls = r.calls as number;
    const totalMs = r.total_ms as number;
    return {
      what: whatOf(query),
      query: query.slice(0, 160),
      calls,
      callsPerBatch: round(per(calls, batches)),
      callsPerEvent: round(per(calls, events), 4),
      totalMs: round(totalMs, 1),
      meanMs: round(per(totalMs, calls), 3),
      share: round(per(totalMs, allMs), 3),
      rows: r.rows as number,
      sharedBlocksHit: r.hit as number,
      sharedBlocksRead: r.read as number,
      sharedBlocksDirtied: r.dirtied as number,
      sharedBlocksWritten: r.written as number,
      walBytes: r.wal as number,
      walBytesPerEvent: round(per(r.wal as number, events), 1),
    };
  });
  const relations = await sql`
    select c.relname as name, case c.relkind when 'i' then 'index' else 'table' end as kind,
      coalesce(t.relname, c.relname) as "table", pg_relation_size(c.oid)::float8 as bytes
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
    left join pg_index i on i.indexrelid = c.oid
    left join pg_class t on t.oid = i.indrelid
    where c.relkind in ('r', 'i') and pg_relation_size(c.oid) > 0
    order by pg_relation_size(c.oid) desc`;
  const [er] = await sql`
    select avg(pg_column_size(e.*))::float8 as row, avg(pg_column_size(payload))::float8 as payload,
      avg(pg_column_size(id))::float8 as id, avg(pg_column_size(customer_id))::float8 as customer,
      avg(pg_column_size(batch_id))::float8 as batch
    from events e`;
  return {
    events,
    batches,
    eventRow: {
      row: round(er?.row ?? 0, 0),
      payload: round(er?.payload ?? 0, 0),
      id: round(er?.id ?? 0, 0),
      customerId: round(er?.customer ?? 0, 0),
      batchId: round(er?.batch ?? 0, 0),
    },
    statements: allCalls,
    statementsPerBatch: round(per(allCalls, batches)),
    statementsPerEvent: round(per(allCalls, events), 3),
    execMsPerEvent: round(per(allMs, events), 4),
    execUsPerEvent: round(per(allMs * 1000, events), 1),
    walBytes,
    walBytesPerEvent: round(per(walBytes, events), 1),
    walFrom: opts.fromLsn,
    walTo: String(w?.lsn ?? ""),
    groups: grouped,
    top,
    relations: relations.map((r) => ({
      name: r.name as string,
      kind: r.kind as "table" | "index",
      table: r.table as string,
      bytes: r.bytes as number,
      bytesPerEvent: round(per(r.bytes as number, events), 1),
    })),
  };
}

/** The figures as lines for the terminal. */
export function statementLines(f: PostgresFigures): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `Postgres statements in the sustained run (pg_stat_statements): ${f.statements.toLocaleString("en")} for ${f.batches.toLocaleString("en")} batches of ${f.events.toLocaleString("en")} events: ${f.statementsPerBatch} a batch, ${f.statementsPerEvent} an event; ${f.execUsPerEvent} µs of execution (wall, in the server) and ${f.walBytesPerEvent} bytes of WAL an event`,
    `  ${"share".padStart(6)} ${"calls".padStart(8)} ${"/batch".padStart(7)} ${"total ms".padStart(9)} ${"mean ms".padStart(8)} ${"rows".padStart(8)} ${"dirtied".padStart(8)} ${"written".padStart(8)} ${"WAL B/ev".padStart(9)} ${"plan ms".padStart(8)}  what: statement`,
  ];
  for (const g of f.groups.slice(0, 14))
    lines.push(
      `  ${pct(g.share).padStart(6)} ${String(g.calls).padStart(8)} ${String(g.callsPerBatch).padStart(7)} ${g.totalMs.toFixed(0).padStart(9)} ${(g.totalMs / Math.max(1, g.calls)).toFixed(3).padStart(8)} ${String(g.rows).padStart(8)} ${String(g.sharedBlocksDirtied).padStart(8)} ${"".padStart(8)} ${g.walBytesPerEvent.toFixed(0).padStart(9)} ${g.planMs.toFixed(0).padStart(8)}  ${g.what}${g.statements > 1 ? ` (${g.statements} statements)` : ""}`,
    );
  lines.push("  the top statements themselves:");
  for (const s of f.top)
    lines.push(
      `  ${pct(s.share).padStart(6)} ${String(s.calls).padStart(8)} ${String(s.callsPerBatch).padStart(7)} ${s.totalMs.toFixed(0).padStart(9)} ${s.meanMs.toFixed(3).padStart(8)} ${String(s.rows).padStart(8)} ${String(s.sharedBlocksDirtied).padStart(8)} ${String(s.sharedBlocksWritten).padStart(8)} ${s.walBytesPerEvent.toFixed(0).padStart(9)} ${"".padStart(8)}  ${s.what || "?"}: ${s.query.slice(0, 90)}`,
    );
  const r = f.eventRow;
  lines.push(
    `  an events row: ${r.row} bytes (payload ${r.payload}, id ${r.id}, customer_id ${r.customerId}, batch_id ${r.batchId}) before the page and tuple headers`,
  );
  lines.push("  relations after the run (pg_relation_size; bytes an event of the run):");
  for (const r of f.relations.slice(0, 16))
    lines.push(
      `    ${r.name.padEnd(36)} ${r.kind.padEnd(5)} ${(r.bytes / 2 ** 20).toFixed(1).padStart(7)} MiB ${r.bytesPerEvent.toFixed(0).padStart(6)} B/event`,
    );
  return lines;
}
