/** `POST /v1/events`: validate, drop duplicates by id, store, and enqueue batches for evaluation. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import { RetryableError } from "../../engine/errors.ts";
import { countThisMinute } from "../../engine/features/rates.ts";
import { countByCustomer, parseIngestBody, splitHeavy } from "../../engine/ingest.ts";
import type { Logger } from "../../engine/log.ts";
import type { Metrics } from "../../engine/metrics.ts";
import type { Sql } from "../../engine/store/database.ts";
import { insertNewEvents } from "../../engine/store/postgres.ts";
import { type EvaluateJob, jobId, type Queues } from "../../workers/queues.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { errorBody } from "../errors.ts";

/** BullMQ priority of a flooding customer's batches: after every batch without one. */
const HEAVY_PRIORITY = 100;

/** Rejected events listed per reply, so a reply stays near its request's size. */
const MAX_ERRORS_LISTED = 100;

export interface IngestDeps {
  sql: Sql;
  /** Fail-fast Redis, for per-customer rates. */
  redis: Redis;
  redisPrefix: string;
  /** Events per minute beyond which a customer's events wait behind everyone else's. */
  heavyPerMinute: number;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  maxBytes: number;
  /** Most events in one request; more is a 413 before any is validated. */
  maxEvents: number;
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
      );
      const receivedAt = new Date();
      const events = parsed.valid.map((v) => v.event);
      const fresh =
        events.length > 0 ? await insertNewEvents(deps.sql, events, receivedAt) : new Set<string>();
      const accepted = events.filter((e) => fresh.has(e.id));

      const jobs = [];
      try {
        // A customer over INGEST_HEAVY_PER_MINUTE is evaluated after everyone else (a BullMQ
        // priority: jobs without one go first), so their flood cannot hold up other customers.
        const { normal, heavy } =
          accepted.length > 0
            ? splitHeavy(
                accepted,
                await countThisMinute(deps.redis, deps.redisPrefix, countByCustomer(accepted), receivedAt),
                deps.heavyPerMinute,
              )
            : { normal: [], heavy: [] };
        for (const [list, priority] of [
          [normal, undefined],
          [heavy, HEAVY_PRIORITY],
        ] as const) {
          for (let i = 0; i < list.length; i += deps.batchSize) {
            const batch = list.slice(i, i + deps.batchSize);
            jobs.push({
              name: "batch",
              data: { events: batch, receivedAt: receivedAt.getTime() } satisfies EvaluateJob,
              opts: {
                jobId: jobId("ingest", batch[0]!.id, String(batch.length), String(receivedAt.getTime())),
                ...(priority ? { priority } : {}),
              },
            });
          }
        }
        if (heavy.length > 0) deps.metrics.eventsDeprioritised.inc(heavy.length);
        if (jobs.length > 0) await deps.queues.evaluate.addBulk(jobs);
      } catch (err) {
        // Stored but not queued: take the events back so the client's retry is not a "duplicate".
        await deps.sql`delete from events where id = any(${accepted.map((e) => e.id)}) and evaluated_at is null`.catch(
          () => {
            deps.log.error(
              { count: accepted.length },
              "could not take back unqueued events; the sweeper will evaluate them",
            );
          },
        );
        throw new RetryableError("queue unavailable, nothing was accepted; retry", undefined, { cause: err });
      }

      const duplicates = events.length - accepted.length + parsed.repeated.length;
      deps.metrics.eventsIngested.inc(accepted.length);
      deps.metrics.eventsDuplicate.inc(duplicates);
      deps.metrics.eventsRejected.inc(parsed.rejected.length);
      return c.json(
        {
          accepted: accepted.length,
          duplicates,
          rejected: parsed.rejected.length,
          // The first MAX_ERRORS_LISTED rejected events; `rejected` counts them all.
          errors: parsed.rejected.slice(0, MAX_ERRORS_LISTED),
          ...(parsed.rejected.length > MAX_ERRORS_LISTED ? { errorsTruncated: true } : {}),
          batches: jobs.length,
        },
        202,
      );
    },
  );
  return app;
}
