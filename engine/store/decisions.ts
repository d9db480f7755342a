/** Decisions: one per (event, rule) that fired, with its explanation, until a case takes it. */
import { Coalescer } from "../coalesce.ts";
import type { TouchpointEvent } from "../events.ts";
import type { Hit } from "../rules/reference.ts";
import type { Severity } from "../rules/schema.ts";
import type { Q } from "./database.ts";
import { type Fence, FencedOut } from "./partitions.ts";

export interface NewDecision {
  event: TouchpointEvent;
  hit: Hit;
  rulesetVersion: number;
  decidedAt: Date;
  /** When the API accepted the event (its batch's time), kept with the decision's evidence. */
  receivedAt?: Date;
  /** The stored batch the event came in: `recordEvaluation` keeps the decision only if it marks that batch. */
  batch?: string;
}

/**
 * Stores decisions once per (event, rule), each with its event (payload, times) so a case keeps
 * its evidence after the event's partition is dropped (migration 018); returns those that were new.
 */
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
    event_occurred_at: d.event.occurredAt,
    event_payload: d.event,
  }));
  // When the event was received is read from its row, found by its whole key (one partition).
  const out = await sql`
    insert into decisions (event_id, customer_id, rule, mode, ruleset_version, severity, title, team,
      explanation, decided_at, event_occurred_at, event_payload, event_received_at)
    select r.event_id, r.customer_id, r.rule, r.mode, r.ruleset_version, r.severity, r.title, r.team,
      r.explanation, r.decided_at, r.event_occurred_at, r.event_payload,
      coalesce((select e.received_at from events e where e.id = r.event_id and e.occurred_at = r.event_occurred_at), r.decided_at)
    from jsonb_to_recordset(${sql.json(rows as never)}::jsonb) as r(event_id text, customer_id text, rule text,
      mode text, ruleset_version int, severity text, title text, team text, explanation jsonb,
      decided_at timestamptz, event_occurred_at timestamptz, event_payload jsonb)
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
    select d.event_payload->'card'->>'id' as id, d.event_payload->'card'->>'last4' as last4, min(d.event_occurred_at) as first
    from decisions d
    where d.case_id = ${caseId} and d.event_payload->'card' is not null
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

/** A live decision no case has yet, as a case takes it. */
export interface UnlinkedDecision {
  id: string;
  eventId: string;
  rule: string;
  severity: Severity;
  title: string;
  team: string;
  decidedAt: Date;
  occurredAt: Date;
}

/**
 * The customer's live decisions no case has yet, oldest event first, locked for this transaction:
 * two workers for one customer take them one after the other.
 */
export async function lockUnlinkedDecisions(tx: Q, customerId: string): Promise<UnlinkedDecision[]> {
  const decisions = await tx`
      select d.id, d.event_id, d.rule, d.severity, d.title, d.team, d.decided_at, d.event_occurred_at as occurred_at
      from decisions d
      where d.customer_id = ${customerId} and d.case_id is null and d.mode = 'live' order by d.event_occurred_at, d.id for update`;
  return decisions.map((d) => ({
    id: d.id as string,
    eventId: d.event_id as string,
    rule: d.rule as string,
    severity: d.severity as Severity,
    title: d.title as string,
    team: d.team as string,
    decidedAt: d.decided_at as Date,
    occurredAt: d.occurred_at as Date,
  }));
}

/** Puts the decisions on the case: a statement to await, or to run in another's CTE (recordCaseUpdate). */
export function linkDecisions(tx: Q, caseId: string, ids: readonly string[]) {
  return tx`update decisions set case_id = ${caseId} where id = any(${ids as string[]})`;
}

/** What one partition's owner evaluated, to be written under its fence. */
export interface EvaluationRecord {
  fence: Fence;
  decisions: readonly NewDecision[];
  /** The batches evaluated: marked with `version`. */
  batches: readonly string[];
  /** Customers whose live decisions may wait for a case (e.g. of batches found evaluated): one index probe each. */
  customers: readonly string[];
  version: number;
  /** Events that could not be evaluated, set aside with their reasons (their batch must be marked here). */
  failed: ReadonlyArray<{ id: string; occurredAt: string; batch: string; error: string }>;
}

export interface RecordedEvaluation {
  /** The decisions new here. */
  inserted: Array<{ id: string; rule: string; customerId: string }>;
  /** Customers with live decisions not on a case: those written here, and any of the record's `customers`. */
  customersToCase: string[];
}

/**
 * What partitions' owners evaluated, written in one statement, each record under its own fence
 * (see engine/store/partitions.ts): the decisions (once per event and rule, as `insertDecisions`),
 * the batches marked evaluated with their version, the events that could not be evaluated set
 * aside with their reasons. Nothing of a record is written unless its partition's epoch is still
 * its fence's: the row is read `for share`, so a process taking the partition meanwhile waits for
 * this statement, or this statement sees its new epoch. Answers, record by record, what was
 * written, or FencedOut for a record whose partition was taken.
 *
 * One statement, so one commit and one WAL flush for every record in it: at a low rate each
 * partition reads a handful of events at a time, and a commit each was most of what Postgres did
 * (see `RecordWriter`).
 */
export async function recordEvaluations(
  sql: Q,
  records: readonly EvaluationRecord[],
  at: Date,
): Promise<Array<RecordedEvaluation | FencedOut>> {
  if (records.length === 0) return [];
  const parts = records.map((_, i) => i);
  const batches = records.flatMap((r, part) => r.batches.map((id) => ({ id, part, version: r.version })));
  const d = records.flatMap((r, part) => r.decisions.map((x) => ({ x, part })));
  const failed = records.flatMap((r) => r.failed);
  const customers = [...new Set(records.flatMap((r) => r.customers))];
  // Failures are rare: a statement without them plans no update of the partitioned events table.
  const failedStep =
    failed.length === 0
      ? sql``
      : sql`, failed as (
      update events set error = f.error
      from unnest(${failed.map((f) => f.id)}::text[], ${failed.map((f) => f.occurredAt)}::timestamptz[],
        ${failed.map((f) => f.batch)}::text[], ${failed.map((f) => f.error.slice(0, 2000))}::text[]) as f(id, occurred_at, batch_id, error)
      where events.id = f.id and events.occurred_at = f.occurred_at and f.batch_id in (select id from marked)
    )`;
  const [row] = await sql`
    with fence as (
      select g.part from unnest(${parts}::int[], ${records.map((r) => r.fence.partition)}::int[],
        ${records.map((r) => r.fence.epoch)}::bigint[]) as g(part, partition, epoch)
      join evaluation_partitions ep on ep.partition = g.partition and ep.epoch = g.epoch
      for share of ep
    ), marked as (
      update event_batches b set evaluated_at = ${at}, evaluated_version = v.version
      from unnest(${batches.map((b) => b.id)}::text[], ${batches.map((b) => b.part)}::int[],
        ${batches.map((b) => b.version)}::int[]) as v(id, part, version)
      where b.id = v.id and b.evaluated_at is null and v.part in (select part from fence)
      returning b.id
    ), ins as (
      -- Each with its event (payload, times): a case keeps its evidence after the event's week is
      -- dropped. Only for batches marked here: one taken back at ingest meanwhile (the API told its
      -- client nothing was accepted) leaves no decision.
      insert into decisions (event_id, customer_id, rule, mode, ruleset_version, severity, title, team, explanation,
        decided_at, event_occurred_at, event_payload, event_received_at)
      select u.event_id, u.customer_id, u.rule, u.mode, u.ruleset_version, u.severity, u.title, u.team, u.explanation::jsonb,
        u.decided_at, u.occurred_at, u.payload::jsonb, u.received_at
      from unnest(
        ${d.map(({ x }) => x.event.id)}::text[], ${d.map(({ x }) => x.event.customerId)}::text[], ${d.map(({ x }) => x.hit.rule)}::text[],
        ${d.map(({ x }) => x.hit.mode)}::text[], ${d.map(({ x }) => x.rulesetVersion)}::int[], ${d.map(({ x }) => x.hit.severity)}::text[],
        ${d.map(({ x }) => x.hit.title)}::text[], ${d.map(({ x }) => x.hit.team)}::text[],
        ${d.map(({ x }) => JSON.stringify(x.hit.explanation))}::text[], ${d.map(({ x }) => x.decidedAt.toISOString())}::timestamptz[],
        ${d.map(({ x }) => x.event.occurredAt)}::timestamptz[], ${d.map(({ x }) => JSON.stringify(x.event))}::text[],
        ${d.map(({ x }) => (x.receivedAt ?? x.decidedAt).toISOString())}::timestamptz[],
        ${d.map(({ x }) => x.batch ?? "")}::text[], ${d.map(({ part }) => part)}::int[]
      ) as u(event_id, customer_id, rule, mode, ruleset_version, severity, title, team, explanation, decided_at,
        occurred_at, payload, received_at, batch_id, part)
      where u.part in (select part from fence) and (u.batch_id = '' or u.batch_id in (select id from marked))
      on conflict (event_id, rule) do update set mode = excluded.mode, ruleset_version = excluded.ruleset_version
        where decisions.case_id is null
          and (decisions.mode, decisions.ruleset_version) is distinct from (excluded.mode, excluded.ruleset_version)
      returning id, rule, customer_id, event_id, mode, (xmax = 0) as inserted
    )${failedStep}
    select (select coalesce(json_agg(part), '[]'::json) from fence) as held,
      (select coalesce(json_agg(json_build_object('id', id::text, 'rule', rule, 'customerId', customer_id, 'eventId', event_id)), '[]'::json)
        from ins where inserted) as inserted,
      (select coalesce(json_agg(distinct c), '[]'::json) from (
        -- The statement's snapshot does not see its own inserts: those come from \`ins\`.
        select customer_id as c from decisions
        where case_id is null and mode = 'live' and customer_id = any(${customers})
        union select customer_id from ins where mode = 'live'
      ) x) as to_case`;
  const held = new Set(row!.held as number[]);
  const inserted = row!.inserted as Array<{ id: string; rule: string; customerId: string; eventId: string }>;
  const toCase = row!.to_case as string[];
  return records.map((r, part) => {
    if (!held.has(part)) return new FencedOut(r.fence);
    // A customer is one partition's: the record's own decisions and customers say whose it is.
    const events = new Set(r.decisions.map((x) => x.event.id));
    const mine = new Set([...r.customers, ...r.decisions.map((x) => x.event.customerId)]);
    return {
      inserted: inserted
        .filter((x) => events.has(x.eventId))
        .map(({ id, rule, customerId }) => ({ id, rule, customerId })),
      customersToCase: toCase.filter((c) => mine.has(c)),
    };
  });
}

/** One partition's record, written alone: FencedOut is thrown. */
export async function recordEvaluation(
  sql: Q,
  record: EvaluationRecord,
  at = new Date(),
): Promise<RecordedEvaluation> {
  const [result] = await recordEvaluations(sql, [record], at);
  if (result instanceof FencedOut) throw result;
  return result!;
}

/**
 * Writes the records of a process's partitions as they come, several to a statement: one is
 * written at once when nothing is being written, and those that come meanwhile wait for it and go
 * together in the next statement (a group commit, done here because each partition commits on its
 * own otherwise: at 2,000 events/s that was 16 commits for every request of 100 events, and the
 * commits' WAL flushes were most of what Postgres waited on). A statement that fails for a group is
 * tried again record by record, so one record Postgres refuses fails only its own partition.
 */
export class RecordWriter {
  private readonly group: Coalescer<EvaluationRecord, RecordedEvaluation | Error>;

  constructor(
    sql: Q,
    /** Told the records in each statement written (a metric). */
    onWrite?: (records: number) => void,
  ) {
    this.group = new Coalescer(async (records) => {
      try {
        return await recordEvaluations(sql, records, new Date());
      } catch (err) {
        if (records.length === 1) throw err;
        const each: Array<RecordedEvaluation | Error> = [];
        for (const r of records)
          each.push(
            await recordEvaluation(sql, r).catch((e: unknown) =>
              e instanceof Error ? e : new Error(String(e)),
            ),
          );
        return each;
      }
    }, onWrite);
  }

  async write(record: EvaluationRecord): Promise<RecordedEvaluation> {
    const written = await this.group.call(record);
    if (written instanceof Error) throw written;
    return written;
  }
}
