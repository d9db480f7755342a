/**
 * The reads a round of evaluation starts with (its batches and their events, its customers'
 * profiles, the stored history of those the process does not hold), shared by every partition a
 * process holds: rounds that come together are read together, one statement each (see
 * `Coalescer`), and each round gets exactly what its own read would have answered.
 *
 * Why: the API splits a request's events by partition, so at a modest rate every request becomes
 * one small round on each of the 16 partitions. Read one by one, that was ~1,000 statements a
 * second at 2,000 events/s, and Postgres took 0.61 cores in the bench's latency minute against
 * 0.41 with 4 partitions (the same code, 2026-12-06).
 */
import { Coalescer } from "../coalesce.ts";
import type { TouchpointEvent } from "../events.ts";
import { REBUILD_MAX_EVENTS } from "../features/state.ts";
import type { CustomerProfile } from "../rules/facts.ts";
import type { Sql } from "./database.ts";
import { customerHistory, readBatches } from "./events.ts";
import { customerProfiles } from "./people.ts";

export type StoredBatch = Awaited<ReturnType<typeof readBatches>>[number];

export interface BatchesRead {
  ids: readonly string[];
  /** Every event of these batches occurred within it, when the caller knows (see `readBatches`). */
  span?: { from: Date; to: Date };
}

export interface HistoryRead {
  customers: readonly string[];
  since: Date;
}

export type ReadKind = "batches" | "profiles" | "history";

export class EvaluationReads {
  private readonly batchReads: Coalescer<BatchesRead, StoredBatch[]>;
  private readonly profileReads: Coalescer<readonly string[], ReadonlyMap<string, CustomerProfile>>;
  private readonly historyReads: Coalescer<HistoryRead, TouchpointEvent[]>;

  constructor(
    sql: Sql,
    /** Told the rounds each statement read for (a metric, or a test). */
    onGroup?: (read: ReadKind, rounds: number) => void,
  ) {
    this.batchReads = new Coalescer(
      async (reads) => {
        const ids = [...new Set(reads.flatMap((r) => r.ids))];
        const span = reads.every((r) => r.span)
          ? {
              from: new Date(Math.min(...reads.map((r) => r.span!.from.getTime()))),
              to: new Date(Math.max(...reads.map((r) => r.span!.to.getTime()))),
            }
          : undefined;
        const byId = new Map((await readBatches(sql, ids, span)).map((b) => [b.id, b]));
        return reads.map((r) => r.ids.flatMap((id) => byId.get(id) ?? []));
      },
      (n) => onGroup?.("batches", n),
    );
    this.profileReads = new Coalescer<readonly string[], ReadonlyMap<string, CustomerProfile>>(
      async (reads) => {
        const profiles = await customerProfiles(sql, [...new Set(reads.flat())]);
        return reads.map(() => profiles);
      },
      (n) => onGroup?.("profiles", n),
    );
    this.historyReads = new Coalescer(
      async (reads) => {
        // A customer is one partition's, so in one read; should two name them, the earlier since holds.
        const since = new Map<string, number>();
        for (const r of reads)
          for (const c of r.customers) since.set(c, Math.min(since.get(c) ?? Infinity, r.since.getTime()));
        const ids = [...since.keys()];
        const events = await customerHistory(
          sql,
          ids,
          ids.map((c) => new Date(since.get(c)!)),
          REBUILD_MAX_EVENTS,
          [],
          true,
        );
        const byCustomer = new Map<string, TouchpointEvent[]>();
        for (const e of events) {
          const list = byCustomer.get(e.customerId);
          if (list) list.push(e);
          else byCustomer.set(e.customerId, [e]);
        }
        return reads.map((r) => r.customers.flatMap((c) => byCustomer.get(c) ?? []));
      },
      (n) => onGroup?.("history", n),
    );
  }

  /** The batches stored under these ids, each with its status and, if not yet evaluated, its events. */
  batches(read: BatchesRead): Promise<StoredBatch[]> {
    return read.ids.length === 0 ? Promise.resolve([]) : this.batchReads.call(read);
  }

  /** These customers' profiles (the map may hold others' too). */
  profiles(customers: readonly string[]): Promise<ReadonlyMap<string, CustomerProfile>> {
    return customers.length === 0 ? Promise.resolve(new Map()) : this.profileReads.call(customers);
  }

  /** What these customers' state is loaded from, as the partition's owner needs it (see `customerHistory`). */
  history(read: HistoryRead): Promise<TouchpointEvent[]> {
    return read.customers.length === 0 ? Promise.resolve([]) : this.historyReads.call(read);
  }
}
