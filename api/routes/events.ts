/** `POST /v1/events`: validate, drop duplicates by id, store, and enqueue batches for evaluation. */
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import { RetryableError } from "../../engine/errors.ts";
import type { TouchpointEvent } from "../../engine/events.ts";
import { countThisMinute } from "../../engine/features/rates.ts";
import { countByCustomer, parseIngestBody, splitHeavy } from "../../engine/ingest.ts";
import type { Logger } from "../../engine/log.ts";
import type { Metrics } from "../../engine/metrics.ts";
import { partitionOf } from "../../engine/partitioning.ts";
import type { Sql } from "../../engine/store/database.ts";
import { type EventBatch, insertBatches, takeBackBatches } from "../../engine/store/events.ts";
import { type BatchEntry, queueBatches, spanField } from "../../workers/partitions.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { errorBody } from "../errors.ts";

/** Rejected events listed per reply, so a reply stays near its request's size. */
const MAX_ERRORS_LISTED = 100;

export interface IngestDeps {
  sql: Sql;
  /** Fail-fast Redis, for per-customer rates. */
  redis: Redis;
  redisPrefix: string;
  /** Events per minute beyond which a customer's events wait behind everyone else's. */
  heavyPerMinute: number;
  /** Prefix of this deployment's Redis keys (the partitions' streams). */
  keyPrefix: string;
  /** Evaluation partitions: each batch holds one partition's events. */
  partitions: number;
  metrics: Metrics;
  log: Logger;
  maxBytes: number;
  /** Most events in one request; more is a 413 before any is validated. */
  maxEvents: number;
  /** EVENT_RETENTION_DAYS: older events are refused one by one (default: none). */
  retentionDays?: number;
  batchSize: number;
}

export function eventRoutes(deps: IngestDeps) {
  const app = new Hono<AuthEnv>();
  app.post(
    "/",
    requireRole("ingest"),
    bodyLimit({
      maxSize: deps.maxBytes,
      onError: (c) =>
        c.json(errorBody("too_large", `body over ${deps.maxBytes} bytes; send smaller batches`), 413),
    }),
    async (c) => {
      const parsed = parseIngestBody(
        await c.req.text(),
        c.req.header("content-type"),
        new Date(),
        deps.maxEvents,
        deps.retentionDays,
      );
      const receivedAt = new Date();
      const events = parsed.valid.map((v) => v.event);
      // Batches are stored with the request's events in one statement, so they are made first:
      // one partition's events each (its owner evaluates them), and a customer over
      // INGEST_HEAVY_PER_MINUTE in batches of their own, read after everyone else's in the
      // partition, so their flood cannot hold up other customers.
      const heavyBatches = new Set<string>();
      const batches: EventBatch[] = [];
      if (events.length > 0) {
        // Counted up front, atomically, so requests of one customer in flight at once see each
        // other's events; taken off again below for whatever is not queued (refused, resent).
        let thisMinute: Map<string, number>;
        try {
          thisMinute = await countThisMinute(
            deps.redis,
            deps.redisPrefix,
            deps.partitions,
            countByCustomer(events),
            receivedAt,
          );
        } catch (err) {
          throw new RetryableError("queue unavailable, nothing was accepted; retry", undefined, {
            cause: err,
          });
        }
        const { normal, heavy } = splitHeavy(events, thisMinute, deps.heavyPerMinute);
        for (const [list, isHeavy] of [
          [normal, false],
          [heavy, true],
        ] as const) {
          const byPartition = new Map<number, TouchpointEvent[]>();
          for (const e of list) {
            const p = partitionOf(e.customerId, deps.partitions);
            const of = byPartition.get(p);
            if (of) of.push(e);
            else byPartition.set(p, [e]);
          }
          for (const [partition, of] of byPartition) {
            for (let i = 0; i < of.length; i += deps.batchSize) {
              const id = `${receivedAt.getTime().toString(36)}-${randomBytes(8).toString("hex")}`;
              batches.push({ id, partition, events: of.slice(i, i + deps.batchSize) });
              if (isHeavy) heavyBatches.add(id);
            }
          }
        }
      }
      // Takes this request's events that were not queued off their customers' minute.
      const uncount = (queued: readonly TouchpointEvent[]) => {
        if (queued.length === events.length) return Promise.resolve();
        const ids = new Set(queued.map((e) => e.id));
        const back = countByCustomer(events.filter((e) => !ids.has(e.id)));
        if (back.size === 0) return Promise.resolve();
        for (const [id, n] of back) back.set(id, -n);
        return countThisMinute(deps.redis, deps.redisPrefix, deps.partitions, back, receivedAt).then(
          () => {},
          (err) =>
            // Only a flood's size is at stake: a count left too high expires with its minute.
            deps.log.warn({ err: String(err) }, "could not take events back off their customers' minute"),
        );
      };
      let stored: EventBatch[];
      try {
        stored = batches.length > 0 ? await insertBatches(deps.sql, batches, receivedAt) : [];
      } catch (err) {
        await uncount([]);
        throw err;
      }
      const accepted = stored.reduce((n, b) => n + b.events.length, 0);
      try {
        // The events stay in Postgres, where they were just stored: the stream entry names them.
        await queueBatches(
          deps.redis,
          deps.keyPrefix,
          stored.map(
            (b): BatchEntry => ({
              batch: b.id,
              partition: b.partition ?? 0,
              receivedAt: receivedAt.getTime(),
              customers: [...new Set(b.events.map((e) => e.customerId))],
              ...(heavyBatches.has(b.id) ? { heavy: true } : {}),
              ...spanField(b.events),
            }),
          ),
        );
      } catch (err) {
        // Stored but not queued: take the events back so the client's retry is not a "duplicate".
        await takeBackBatches(
          deps.sql,
          stored.map((b) => b.id),
        ).catch(() => {
          deps.log.error(
            { count: accepted },
            "could not take back unqueued events; the sweeper will evaluate them",
          );
        });
        await uncount([]);
        throw new RetryableError("queue unavailable, nothing was accepted; retry", undefined, { cause: err });
      }
      const heavy = stored.filter((b) => heavyBatches.has(b.id)).reduce((n, b) => n + b.events.length, 0);
      if (heavy > 0) deps.metrics.eventsDeprioritised.inc(heavy);
      await uncount(stored.flatMap((b) => b.events));

      const duplicates = events.length - accepted + parsed.repeated.length;
      deps.metrics.eventsIngested.inc(accepted);
      deps.metrics.eventsDuplicate.inc(duplicates);
      deps.metrics.eventsRejected.inc(parsed.rejected.length);
      return c.json(
        {
          accepted,
          duplicates,
          rejected: parsed.rejected.length,
          // The first MAX_ERRORS_LISTED rejected events; `rejected` counts them all.
          errors: parsed.rejected.slice(0, MAX_ERRORS_LISTED),
          ...(parsed.rejected.length > MAX_ERRORS_LISTED ? { errorsTruncated: true } : {}),
          batches: stored.length,
        },
        202,
      );
    },
  );
  return app;
}
