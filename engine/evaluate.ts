/**
 * Batches through the rules: enrich each event from the customer's state (in this process's
 * memory: it holds the customers' partition), evaluate the published ruleset (compiled; json-rules-engine
 * is its oracle in the tests), store the decisions with their explanations.
 * Safe to run again on the same batches: state writes and decisions are keyed by event id.
 */

import type { TouchpointEvent } from "./events.ts";
import type { MemoryState } from "./features/memory.ts";
import type { FxTable } from "./features/money.ts";
import { type AmountOf, type CustomerSnapshot, REBUILD_WINDOW_MS } from "./features/state.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { CompiledRuleset } from "./rules/compile.ts";
import { computeFacts, homeAmount } from "./rules/facts.ts";
import { listItems, listsOf } from "./rules/lists.ts";
import { type Story, storyOf, summarise } from "./rules/summary.ts";
import type { Sql } from "./store/database.ts";
import { type EvaluationRecord, type NewDecision, RecordWriter } from "./store/decisions.ts";
import { EvaluationReads } from "./store/evaluation-reads.ts";
import { fxTable } from "./store/fx.ts";
import { listContents, listVersions } from "./store/lists.ts";
import type { Fence } from "./store/partitions.ts";
import { publishedRuleset, type StoredRuleset } from "./store/rulesets.ts";

/**
 * A value a worker holds from Postgres: read again when a Redis message says it changed
 * (`invalidate`), and every `pollMs` in case a message was lost while Redis was away. `keep`
 * decides whether a fresh read replaces the held value.
 */
class HeldRead<T> {
  private value?: T;
  private readAt = 0;
  private stale = false;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly pollMs: number,
    private readonly keep: (fresh: T, held: T) => boolean = () => true,
  ) {}

  invalidate(): void {
    this.stale = true;
  }

  get held(): T | undefined {
    return this.value;
  }

  async get(now: number): Promise<T> {
    if (this.value === undefined || this.stale || now - this.readAt > this.pollMs) {
      // Cleared before the read: a message arriving during it marks the answer stale again.
      this.stale = false;
      const fresh = await this.read();
      if (this.value === undefined || this.keep(fresh, this.value)) this.value = fresh;
      this.readAt = now;
    }
    return this.value;
  }
}

/** The Redis channel on which a publish tells every worker its new version. */
export const rulesetChannel = (keyPrefix: string) => `${keyPrefix}:rulesets`;

export type CompiledVersion = StoredRuleset & { compiled: CompiledRuleset };

type HeldVersion = CompiledVersion & {
  /** The lists its rules name; with none, it is compiled once and never looked at again. */
  lists: string[];
  /** The version of each list it was compiled with (a list that does not exist is absent). */
  listVersions: ReadonlyMap<string, number>;
  /** Those lists' items, kept so that a change to one list reads that list only. */
  items: ReadonlyMap<string, ReadonlySet<string>>;
};

const sameVersions = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) =>
  a.size === b.size && [...a].every(([name, v]) => b.get(name) === v);

/**
 * The published ruleset as a worker holds it, compiled once per version and per state of the
 * lists it names: made stale by the publish message on `rulesetChannel` (a publish reaches every
 * worker in milliseconds) and re-read every 5 s. A batch takes one compiled version from `get` and
 * keeps it: no batch is evaluated by a mix.
 *
 * Lists change without a version, and a change must hold for the next event evaluated once the API
 * has acknowledged it; a message would race the event's own job. So a ruleset that names lists asks
 * Postgres for their versions once per batch (one small query, beside the batch's other reads), and
 * reads and compiles again only when one changed.
 */
export class RulesetCache {
  private readonly cache: HeldRead<HeldVersion>;
  private current?: HeldVersion;

  constructor(
    private readonly sql: Sql,
    pollMs = 5000,
  ) {
    this.cache = new HeldRead(
      async () => {
        const found = await publishedRuleset(sql);
        if (!found) throw new Error("no published ruleset");
        const held = this.cache.held;
        // The same version again keeps its compiled functions.
        if (held && held.version === found.version) return held;
        const lists = [...new Set(found.ruleset.rules.flatMap(listsOf))].sort();
        return {
          ...found,
          compiled: new CompiledRuleset(found.ruleset),
          lists,
          listVersions: new Map(),
          items: new Map(),
        };
      },
      pollMs,
      (fresh, held) => fresh.version > held.version,
    );
  }

  /** A version was published (or may have been, `undefined`): the next `get` reads it. */
  invalidate(version?: number): void {
    const held = this.cache.held;
    if (version === undefined || !held || version > held.version) this.cache.invalidate();
  }

  async get(now: number): Promise<CompiledVersion> {
    const base = await this.cache.get(now);
    if (base.lists.length === 0) return base;
    const held = this.current?.version === base.version ? this.current : undefined;
    const versions = await listVersions(this.sql, base.lists);
    if (held && sameVersions(held.listVersions, versions)) return held;
    const stale = [...versions]
      .filter(([name, v]) => held?.listVersions.get(name) !== v)
      .map(([name]) => name);
    const fresh = await listContents(this.sql, stale);
    const items = new Map<string, ReadonlySet<string>>();
    const listVersionsNow = new Map<string, number>();
    for (const name of base.lists) {
      const read = fresh.get(name);
      const kept = held?.items.get(name);
      if (read) {
        items.set(name, listItems(read.items));
        listVersionsNow.set(name, read.version);
      } else if (kept && versions.has(name) && !stale.includes(name)) {
        items.set(name, kept);
        listVersionsNow.set(name, versions.get(name)!);
      }
      // Otherwise the list is gone (deleted since it was checked): the rule reports it at run time.
    }
    const next: HeldVersion = {
      ...base,
      compiled: new CompiledRuleset(base.ruleset, items),
      listVersions: listVersionsNow,
      items,
    };
    this.current = next;
    return next;
  }
}

/** The Redis channel on which a rates update tells every worker to read them again. */
export const fxChannel = (keyPrefix: string) => `${keyPrefix}:fx-rates`;

/** The exchange rates as a worker holds them: re-read on an update's message, and every minute. */
export class FxCache {
  private readonly cache: HeldRead<FxTable>;

  constructor(sql: Sql, pollMs = 60_000) {
    this.cache = new HeldRead(() => fxTable(sql), pollMs);
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  get(now: number): Promise<FxTable> {
    return this.cache.get(now);
  }
}

/**
 * A named place where a test may kill the process (see TOUCHPOINT_FAULT in main.ts), to prove a
 * retry after a crash at that point loses nothing and repeats nothing. A no-op in production.
 */
export type FaultPoint = (
  point:
    | "evaluate.before-state"
    | "evaluate.after-state"
    | "evaluate.after-decisions"
    | "cases.after-commit"
    | "outreach.after-send",
  /** The batch at an `evaluate.*` point. */
  batch?: { batch: string; events: readonly TouchpointEvent[] },
) => void | Promise<void>;

export interface BatchResult {
  evaluated: number;
  newDecisions: number;
  /** Customers with decisions waiting for a case. */
  customersToCase: string[];
}

/** A stored batch to evaluate, as its partition's stream names it. */
export interface GivenBatch {
  batch: string;
  /** When the API accepted it, ms since epoch, for the ingest-to-decision histogram. */
  receivedAt: number;
  /** Its customers, distinct (read beside its events, in the same round trip). */
  customers: readonly string[];
  /** The earliest and latest occurredAt of its events, ms, when known: only those weeks are read. */
  span?: readonly [number, number];
}

/**
 * Batches of one partition through the rules, together: their events read from Postgres in one
 * statement, each customer's state from this process's memory (loaded from Postgres when not
 * held), the facts and the published ruleset, then the decisions and the batches' marks in one
 * statement under the partition's fence (FencedOut when another process took the partition).
 * Safe to run again on the same batches: one already evaluated is skipped (its customers are
 * still handed on), decisions are kept once per (event, rule), the state is keyed by event id.
 */
export async function evaluateBatches(
  deps: {
    sql: Sql;
    memory: MemoryState;
    rulesets: RulesetCache;
    metrics: Metrics;
    log: Logger;
    /** The exchange rates; without it, read from Postgres for these batches. */
    fx?: FxCache;
    /** Writes this process's partitions' records together (a group commit); without it, alone. */
    writer?: RecordWriter;
    /** Reads this process's partitions' rounds together; without it, alone. */
    reads?: EvaluationReads;
    fault?: FaultPoint;
  },
  fence: Fence,
  given: readonly GivenBatch[],
): Promise<BatchResult> {
  const { sql, memory, rulesets, metrics, log } = deps;
  const reads = deps.reads ?? new EvaluationReads(sql);
  const unique = [...new Map(given.map((b) => [b.batch, b])).values()];
  const customers = [...new Set(unique.flatMap((b) => b.customers))];
  // A customer this process does not hold (new here, evicted, or their partition newly taken) is
  // loaded from Postgres first: every evaluated event of theirs since a while before the events at
  // hand. Those not yet evaluated are this partition's to come, each compared with this state when
  // it comes. Only evaluated batches' events: those at hand are in batches not yet evaluated, so
  // they need no list to leave out (a list of a read's thousands of ids, compared with every row,
  // was 40% of Postgres's time in the full bench).
  const historySince = (earliest: number) => new Date(Math.min(Date.now(), earliest) - REBUILD_WINDOW_MS);
  const readHistory = (ids: readonly string[], since: Date) => reads.history({ customers: ids, since });
  // The entries name the customers and when their events occurred, so that read goes beside the
  // batches' rather than after it: one round trip, and its time, off every decision's path.
  const spanFrom = unique.every((b) => b.span) ? Math.min(...unique.map((b) => b.span![0])) : undefined;
  const early = spanFrom === undefined ? [] : memory.missing(customers);
  // Read side by side, not one after another: the batches with their events, the ruleset, the
  // customers' profiles, the rates, and the history of the customers not held.
  const [stored, { version, compiled }, profiles, fx, earlyHistory] = await Promise.all([
    reads.batches({
      ids: unique.map((b) => b.batch),
      ...(spanFrom === undefined
        ? {}
        : {
            span: {
              // A millisecond either side: occurredAt may carry microseconds, which Date.parse drops.
              from: new Date(spanFrom - 1),
              to: new Date(Math.max(...unique.map((b) => b.span![1])) + 1),
            },
          }),
    }),
    rulesets.get(Date.now()),
    reads.profiles(customers),
    (deps.fx ?? new FxCache(sql)).get(Date.now()),
    early.length > 0 ? readHistory(early, historySince(spanFrom!)) : [],
  ]);
  // A batch taken back by the API (its queue write looked failed but was not) is not ours to
  // evaluate: its events have no rows. One already evaluated (the reconciler queued it again, or
  // a run died after marking it) is not evaluated again: with its later neighbours now in the
  // state, a second look could decide differently. Its customers are still handed on below.
  if (stored.length < unique.length)
    log.warn(
      { batches: unique.length - stored.length },
      "skipping batches no longer stored (taken back at ingest)",
    );
  const pending = stored.filter((b) => !b.evaluated);
  const received = new Map(unique.map((b) => [b.batch, b.receivedAt]));
  /** Each event's batch. */
  const batchOf = new Map(pending.flatMap((b) => b.events.map((e) => [e.id, b.id] as const)));
  /** When the API accepted each event: its batch's time. */
  const receivedOf = new Map(
    pending.flatMap((b) => b.events.map((e) => [e.id, received.get(b.id)] as const)),
  );
  // Event-time order; the state answers in event time whatever the order. Each time is parsed
  // once, not at every comparison (a round of 1,000 events makes ~10,000 of them).
  const timed = pending.flatMap((b) => b.events.map((e) => ({ e, at: Date.parse(e.occurredAt) })));
  timed.sort((a, b) => a.at - b.at || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0));
  const events = timed.map((t) => t.e);
  // Payments count in their customer's home currency in every sum (20,000 THB is not 20,000 EUR);
  // a currency with no rate counts as it is. Converted once per payment: the facts read it too.
  const homes = new Map<string, ReturnType<typeof homeAmount>>();
  for (const e of events) {
    // A payment whose amount cannot be read is set aside below, when its state is taken.
    if (e.type === "card.transaction")
      try {
        homes.set(e.id, homeAmount(e, profiles.get(e.customerId), fx));
      } catch {}
  }
  const amountOf: AmountOf = (e) =>
    (homes.has(e.id) ? homes.get(e.id) : homeAmount(e, profiles.get(e.customerId), fx))?.value ??
    e.amount.value;
  const faultBatch = { batch: unique.map((b) => b.batch).join(","), events };
  await deps.fault?.("evaluate.before-state", faultBatch);
  const theirs = new Set(events.map((e) => e.customerId));
  const loadNow = early.filter((c) => theirs.has(c) && !memory.holds(c));
  if (loadNow.length > 0) {
    const loading = new Set(loadNow);
    memory.load(
      loadNow,
      earlyHistory.filter((e) => loading.has(e.customerId)),
      amountOf,
    );
    metrics.stateLoads.inc(loadNow.length);
  }
  // Until every customer at hand is held, with no await between the last look and the observing
  // below: another partition's batch, settling while this one awaited a read, may have evicted one.
  for (let missing = memory.missing(theirs); missing.length > 0; missing = memory.missing(theirs)) {
    const history = await readHistory(
      missing,
      historySince(Math.min(...events.map((e) => Date.parse(e.occurredAt)))),
    );
    memory.load(missing, history, amountOf);
    metrics.stateLoads.inc(missing.length);
  }
  const now = Date.now();
  const snapshots = events.map((e) => {
    try {
      return memory.observe(e, amountOf, now);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  memory.settle();
  await deps.fault?.("evaluate.after-state", faultBatch);

  const decisions: NewDecision[] = [];
  const failed: EvaluationRecord["failed"][number][] = [];
  for (const [i, event] of events.entries()) {
    const snapshot = snapshots[i];
    let facts: ReturnType<typeof computeFacts>;
    try {
      if (!snapshot || snapshot instanceof Error) throw snapshot ?? new Error("no state for the event");
      facts = computeFacts(event, profiles.get(event.customerId), snapshot, fx, homes.get(event.id));
    } catch (err) {
      // This event alone is set aside, with its reason; the rest of the batch goes on.
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ id: event.id, occurredAt: event.occurredAt, batch: batchOf.get(event.id) ?? "", error });
      metrics.eventsFailed.inc();
      log.error({ eventId: event.id, err: error }, "event could not be evaluated; marked with its error");
      continue;
    }
    const { hits, failures } = compiled.evaluate(facts);
    for (const f of failures) {
      metrics.ruleErrors.inc({ rule: f.rule });
      log.error(
        { rule: f.rule, eventId: event.id, err: f.message },
        "rule failed at run time; other rules still ran",
      );
    }
    if (hits.length === 0) continue;
    const decidedAt = new Date();
    // A decision on a payment says which rates its home-currency figures used; every decision
    // carries its story (the places and their local times) and its sentence for the advocate.
    const ratesAsOf = facts["amount.ratesAsOf"];
    // Words for people: a place no zone can be found for must not cost the decision itself.
    let story: Story = {};
    try {
      story = storyOf(event, snapshot as CustomerSnapshot);
    } catch (err) {
      log.warn({ eventId: event.id, err: String(err) }, "no story for this event's places");
    }
    for (const hit of hits) {
      const rule = compiled.rule(hit.rule);
      let summary: string;
      try {
        summary = summarise({ summary: rule?.summary, title: hit.title }, facts, story, hit.explanation.held);
      } catch {
        summary = hit.title;
      }
      const explanation = { ...hit.explanation, ...(ratesAsOf ? { ratesAsOf } : {}), story, summary };
      decisions.push({
        event,
        hit: { ...hit, explanation },
        rulesetVersion: version,
        decidedAt,
        receivedAt: new Date(receivedOf.get(event.id) ?? decidedAt.getTime()),
        ...(batchOf.has(event.id) ? { batch: batchOf.get(event.id)! } : {}),
      });
    }
  }

  // This run's live hits go to cases, and so do the customers of batches found evaluated already:
  // decisions and marks are written together, so a run that died after writing them (before
  // handing them on) left its batches marked, and their stored decisions must still reach a case.
  const pendingIds = new Set(pending.map((b) => b.id));
  const storedIds = new Set(stored.map((b) => b.id));
  const alreadyEvaluated = unique.filter((b) => !pendingIds.has(b.batch) && storedIds.has(b.batch));
  const { inserted, customersToCase } = await (deps.writer ?? new RecordWriter(sql)).write({
    fence,
    decisions,
    batches: pending.map((b) => b.id),
    customers: [...new Set(alreadyEvaluated.flatMap((b) => b.customers))],
    version,
    failed,
  });
  await deps.fault?.("evaluate.after-decisions");
  for (const d of inserted) metrics.ruleHits.inc({ rule: d.rule });
  metrics.eventsEvaluated.inc(events.length - failed.length);
  const doneAt = Date.now();
  for (const b of pending) {
    const seconds = (doneAt - (received.get(b.id) ?? doneAt)) / 1000;
    for (let i = 0; i < b.events.length; i++) metrics.ingestToDecision.observe(seconds);
  }
  return { evaluated: events.length, newDecisions: inserted.length, customersToCase };
}
