/**
 * One batch through the rules: enrich each event from the customer's Redis state, evaluate the
 * published ruleset with json-rules-engine, store the decisions with their explanations.
 * Safe to run again on the same batch: state writes and decisions are keyed by event id.
 */

import type { TouchpointEvent } from "./events.ts";
import type { FxTable } from "./features/money.ts";
import {
  type AmountOf,
  type CustomerState,
  REBUILD_MAX_EVENTS,
  REBUILD_WINDOW_MS,
} from "./features/state.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { CompiledRuleset } from "./rules/compile.ts";
import { computeFacts, homeAmount } from "./rules/facts.ts";
import { listItems, listsOf } from "./rules/lists.ts";
import { type Story, storyOf, summarise } from "./rules/summary.ts";
import type { Sql } from "./store/database.ts";
import { customersWithUnlinkedDecisions, insertDecisions, type NewDecision } from "./store/decisions.ts";
import { customerHistory, markEvaluated, observeBatch } from "./store/events.ts";
import { fxTable } from "./store/fx.ts";
import { listContents, listVersions } from "./store/lists.ts";
import { customerProfiles } from "./store/people.ts";
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

export async function evaluateBatch(
  deps: {
    sql: Sql;
    state: CustomerState;
    rulesets: RulesetCache;
    metrics: Metrics;
    log: Logger;
    /** The exchange rates; without it, read from Postgres for this batch. */
    fx?: FxCache;
    fault?: FaultPoint;
    /**
     * Claims the batch for this run; false when another run (another job for the same batch) is
     * evaluating it now. Without it, nothing stops two runs that start together.
     */
    claim?: (batch: string) => Promise<boolean>;
  },
  /**
   * The batch, with its customers (the job's; the events are read from Postgres with the batch's
   * status), or with its events (a job queued by an older version, or a test).
   */
  given: {
    batch: string;
    receivedAt: number;
    customers?: readonly string[];
    events?: readonly TouchpointEvent[];
  },
): Promise<BatchResult> {
  const { sql, state, rulesets, metrics, log } = deps;
  const { receivedAt } = given;
  // A job without its customers (none is queued so) reads its events first.
  const job =
    given.customers || given.events
      ? given
      : { ...given, events: (await observeBatch(sql, given.batch, true)).events ?? [] };
  // A batch taken back by the API (its queue write looked failed but was not) is not ours to
  // evaluate: its events have no rows, and a decision about them could never be stored. One
  // already evaluated (the reconciler re-drove a batch that was slow, not lost) is not evaluated
  // again: with its later neighbours now in the state, a second look could decide differently.
  // Every customer of the batch is handed on below, the already evaluated included (see there).
  const batchCustomers = job.customers
    ? [...job.customers]
    : [...new Set((job.events ?? []).map((e) => e.customerId))];
  // Read side by side, not one after another: a batch already evaluated or taken back wastes
  // these reads, which is rare; every other batch saves their round trips (bench latency).
  const [claimed, status, { version, compiled }, profiles, fx, marks] = await Promise.all([
    deps.claim ? deps.claim(job.batch) : true,
    // Marks the batch observed before any of its events reaches the customers' state (see observeBatch).
    observeBatch(sql, job.batch, job.events === undefined),
    rulesets.get(Date.now()),
    customerProfiles(sql, batchCustomers),
    (deps.fx ?? new FxCache(sql)).get(Date.now()),
    state.marks(batchCustomers),
  ]);
  if (!claimed) {
    // Its run hands on what it decides; should it die, its own job's retry takes the claim back.
    log.info({ batch: job.batch }, "batch already being evaluated by another job; leaving it to that one");
    return { evaluated: 0, newDecisions: 0, customersToCase: [] };
  }
  if (!status.stored) {
    log.warn({ batch: job.batch }, "skipping a batch no longer stored (taken back at ingest)");
    return { evaluated: 0, newDecisions: 0, customersToCase: [] };
  }
  // Event-time order within the batch; the state script handles order across batches.
  const events = status.evaluatedAt
    ? []
    : [...(job.events ?? status.events ?? [])].sort(
        (a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.id.localeCompare(b.id),
      );
  // Payments count in their customer's home currency in every sum (20,000 THB is not 20,000 EUR);
  // a currency with no rate counts as it is. Converted once per payment: the facts read it too.
  const homes = new Map<string, ReturnType<typeof homeAmount>>();
  for (const e of events) {
    if (e.type === "card.transaction") homes.set(e.id, homeAmount(e, profiles.get(e.customerId), fx));
  }
  const amountOf: AmountOf = (e) =>
    (homes.has(e.id) ? homes.get(e.id) : homeAmount(e, profiles.get(e.customerId), fx))?.value ??
    e.amount.value;
  // A customer this Redis has no full state for (new here, or Redis forgot, also while this batch
  // runs) is rebuilt from Postgres first, so features read a complete history, never a wrongly empty one.
  const earliest = Math.min(Date.now(), ...events.map((e) => Date.parse(e.occurredAt)));
  const snapshots = await state.observeBuilt(events, {
    amountOf,
    marks,
    history: (customers) =>
      customerHistory(
        sql,
        customers,
        new Date(earliest - REBUILD_WINDOW_MS),
        REBUILD_MAX_EVENTS,
        events.map((e) => e.id),
      ),
    ...(deps.fault
      ? { beforeObserve: () => deps.fault?.("evaluate.before-state", { batch: job.batch, events }) }
      : {}),
  });

  await deps.fault?.("evaluate.after-state", { batch: job.batch, events });
  const decisions: NewDecision[] = [];
  const failed: Array<{ id: string; error: string }> = [];
  for (const [i, event] of events.entries()) {
    const snapshot = snapshots[i];
    let facts: ReturnType<typeof computeFacts>;
    try {
      if (!snapshot || snapshot instanceof Error) throw snapshot ?? new Error("no state for the event");
      facts = computeFacts(event, profiles.get(event.customerId), snapshot, fx, homes.get(event.id));
    } catch (err) {
      // This event alone is set aside, with its reason; the rest of the batch goes on.
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ id: event.id, error });
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
      story = storyOf(event, snapshot);
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
      decisions.push({ event, hit: { ...hit, explanation }, rulesetVersion: version, decidedAt });
    }
  }

  const inserted = await insertDecisions(sql, decisions);
  deps.fault?.("evaluate.after-decisions");
  // Every customer of the batch, not only this run's hits: an earlier attempt may have stored a
  // decision and died before handing it on, and by the retry other events may have arrived so
  // that the same event no longer hits. Its stored decision must still reach a case. Asked while
  // the batch is marked: both only follow the decisions, stored above.
  const [customersToCase] = await Promise.all([
    customersWithUnlinkedDecisions(sql, batchCustomers),
    status.evaluatedAt ? undefined : markEvaluated(sql, job.batch, new Date(), version, failed),
  ]);
  for (const d of inserted) metrics.ruleHits.inc({ rule: d.rule });
  metrics.eventsEvaluated.inc(events.length - failed.length);
  const seconds = (Date.now() - receivedAt) / 1000;
  for (let i = 0; i < events.length; i++) metrics.ingestToDecision.observe(seconds);

  return { evaluated: events.length, newDecisions: inserted.length, customersToCase };
}
