/** The Hono app: `/v1` (bearer tokens with roles), operations endpoints, webhooks and the desk. */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import type { CountryCode } from "libphonenumber-js";
import { experienceReport } from "../engine/experience/queries.ts";
import type { Logger } from "../engine/log.ts";
import { type Metrics, recordExperience } from "../engine/metrics.ts";
import type { CaseActions } from "../engine/outreach/card-actions.ts";
import type { Strategy } from "../engine/outreach/strategy.ts";
import type { Sql } from "../engine/store/database.ts";
import { oldestPending } from "../engine/store/work.ts";
import { owe, type Queues } from "../workers/queues.ts";
import { QUEUES_PATH, queueDashboard } from "./admin/queues.ts";
import { type AuthEnv, authenticate } from "./auth.ts";
import { deskRoutes } from "./desk/desk.tsx";
import type { ExperienceSource } from "./desk/experience.tsx";
import { DeskStreams, deskSessionsChannel, type SessionsEnded } from "./desk/streams.ts";
import { errorBody, handleError, refuseBadParams } from "./errors.ts";
import { openApiDocument } from "./openapi.ts";
import { tokenRoutes } from "./routes/admin.ts";
import { answerRoutes } from "./routes/answers.ts";
import { backtestRoutes } from "./routes/backtests.ts";
import { callRoutes } from "./routes/calls.ts";
import { cannedReplyRoutes } from "./routes/canned-replies.ts";
import { caseRoutes } from "./routes/cases.ts";
import { eventRoutes } from "./routes/events.ts";
import { experienceRoutes } from "./routes/experience.ts";
import { listRoutes } from "./routes/lists.ts";
import { advocateRoutes, customerRoutes } from "./routes/people.ts";
import { factRoutes, fxRoutes, ruleRoutes, rulesetRoutes } from "./routes/rules.ts";
import { strategyRoutes } from "./routes/strategy.ts";

/** A readiness check's own finding, safe to show anyone. */
class NotReady extends Error {
  override readonly name = "NotReady";
}

/** The largest body of any /v1 request but POST /v1/events (which has INGEST_MAX_BYTES). */
const MAX_BODY_BYTES = 1024 * 1024;
/** A list's body: room for its most items (engine/rules/lists.ts) at a card number's length or so. */
const MAX_LIST_BODY_BYTES = 8 * 1024 * 1024;

/** How long /readyz waits for Postgres or Redis before calling it down, ms. */
const READY_TIMEOUT_MS = 2000;

export interface AppDeps {
  sql: Sql;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  maxBytes: number;
  maxEvents: number;
  /** EVENT_RETENTION_DAYS: ingest refuses events older than this. */
  retentionDays?: number;
  batchSize: number;
  /** Evaluation partitions (the database's count). */
  partitions: number;
  heavyPerMinute: number;
  /** /readyz fails when pending work is older than this, ms. */
  maxPendingAgeMs: number;
  /** Whether this process's workers are up; undefined when workers run elsewhere. */
  workersHealthy?: () => boolean;
  /** REDIS_PREFIX, for scratch state (backtests). */
  redisPrefix: string;
  /** This deployment's Redis prefix: where a publish tells the workers. */
  keyPrefix: string;
  /** Desk cookies `Secure`: always, never, or when the request came over HTTPS (default). */
  secureCookies?: "auto" | boolean;
  /** The desk's address as browsers see it (DESK_PUBLIC_URL): a POST's Origin must match it. */
  deskPublicUrl?: string | undefined;
  /** The country whose numbering plan reads a national-format number in lookups (the bank's own). */
  phoneCountry?: CountryCode | undefined;
  /** How this deployment texts: the sender and whether Vonage or the outbox carries it. */
  texting: {
    from: string;
    transport: "vonage" | "outbox";
    bank: { name: string; phone: string };
    /** FEEDBACK_AFTER_RESOLUTION: a resolution owes the customer one feedback question. */
    feedbackAfterResolution?: boolean;
    /** Channels configured besides SMS ("whatsapp", "app"): an advocate's text answers where the customer wrote. */
    channels?: ReadonlySet<string>;
    /** The contact strategy: the desk says what comes next on a case, and when. */
    strategy: Strategy;
  };
  /** The desk's open live streams, which a sign-out in another process ends by message (main.ts). */
  deskStreams?: DeskStreams;
  /** Filled by the app: what to end before the HTTP server closes (the desk's live streams). */
  closers?: Array<() => void>;
  /** The experience report's source; tests pass a report of their own. */
  experienceReport?: ExperienceSource;
  /** Extra routes mounted at the root (webhooks). */
  mount?: (app: Hono) => void;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const deskStreams = deps.deskStreams ?? new DeskStreams();
  // A sign-out or a revoked token ends the session's live streams here at once, and in every other
  // API process by message; with Redis away they notice at their next look at the session.
  const endDeskSessions = async (ended: SessionsEnded) => {
    deskStreams.end(ended);
    await deps.redis
      .publish(deskSessionsChannel(deps.keyPrefix), JSON.stringify(ended))
      .catch((err: Error) => {
        deps.log.warn({ err: err.message }, "ended desk session not announced to other processes");
      });
  };
  app.onError((err, c) => handleError(err, c, deps.log));
  app.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

  app.use("*", refuseBadParams);
  app.get("/healthz", (c) => c.json({ ok: true }, 200));
  app.get("/readyz", async (c) => {
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    let oldest: Record<string, number> | undefined;
    const probe = async (name: string, check: () => Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, fail) => {
            timer = setTimeout(
              () => fail(new NotReady(`no answer within ${READY_TIMEOUT_MS} ms`)),
              READY_TIMEOUT_MS,
            );
          }),
        ]);
        checks[name] = true;
      } catch (err) {
        checks[name] = false;
        // Anyone may read /readyz: say what failed by its code, never with hosts, users or SQL.
        const code = (err as { code?: unknown }).code;
        reasons[name] =
          err instanceof NotReady
            ? err.message
            : typeof code === "string"
              ? `unavailable (${code})`
              : err instanceof Error && err.name !== "Error"
                ? `unavailable (${err.name})`
                : "unavailable";
      } finally {
        clearTimeout(timer);
      }
    };
    await Promise.all([
      probe("postgres", () => deps.sql`select 1`),
      probe("redis", async () => {
        if ((await deps.redis.ping()) !== "PONG") throw new NotReady("PING did not answer PONG");
      }),
    ]);
    if (checks.postgres) {
      // Work waiting too long means something upstream of it is stuck (or lost and not re-driven).
      await probe("pending", async () => {
        const ages = await oldestPending(deps.sql, new Date());
        oldest = Object.fromEntries(Object.entries(ages).map(([k, v]) => [k, Math.round(v)]));
        const [kind, seconds] = Object.entries(ages).sort((a, b) => b[1] - a[1])[0] ?? ["", 0];
        if (seconds * 1000 > deps.maxPendingAgeMs)
          throw new NotReady(`the oldest pending ${kind} has waited ${Math.round(seconds)} s`);
      });
    }
    if (deps.workersHealthy) {
      checks.workers = deps.workersHealthy();
      if (!checks.workers) reasons.workers = "a worker of this process has stopped";
    }
    const ready = Object.values(checks).every(Boolean);
    return c.json(
      {
        ready,
        checks,
        ...(oldest ? { oldestPendingSeconds: oldest } : {}),
        ...(ready ? {} : { reasons }),
      },
      ready ? 200 : 503,
    );
  });
  const openapi = openApiDocument();
  app.get("/openapi.json", (c) => c.json(openapi, 200));
  // The experience gauges: the last 24 hours, computed at most once a minute, when scraped.
  let experienceAt = 0;
  app.get("/metrics", async (c) => {
    const now = new Date();
    if (now.getTime() - experienceAt > 60_000) {
      experienceAt = now.getTime();
      await experienceReport(deps.sql, { since: new Date(now.getTime() - 86_400_000), until: now }, now)
        .then((r) => recordExperience(deps.metrics, r))
        .catch((err: Error) => deps.log.warn({ err: err.message }, "experience gauges not refreshed"));
    }
    c.header("Content-Type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics(), 200);
  });

  const v1 = new Hono<AuthEnv>();
  v1.use("*", authenticate(deps.sql));
  // Every body but a batch of events is small: refused past MAX_BODY_BYTES while it streams in.
  const small = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json(errorBody("too_large", `body over ${MAX_BODY_BYTES} bytes`), 413),
  });
  for (const path of [
    "/customers/*",
    "/advocates/*",
    "/cases/*",
    "/tokens/*",
    "/rulesets/*",
    "/rules/*",
    "/fx-rates/*",
    "/calls",
    "/calls/*",
  ]) {
    v1.use(path, small);
  }
  v1.route("/events", eventRoutes(deps));
  v1.route("/customers", customerRoutes(deps.sql));
  v1.route("/advocates", advocateRoutes(deps.sql));
  v1.route("/cases", answerRoutes(deps.sql, deps.queues, deps.log));
  v1.route("/cases", caseRoutes(deps.sql, deps.metrics, advocateTexts(deps), deps.phoneCountry));
  v1.route("/calls", callRoutes(deps.sql, deps.phoneCountry));
  v1.route("/canned-replies", cannedReplyRoutes(deps.sql, deps.texting.bank.phone));
  v1.route("/tokens", tokenRoutes(deps.sql, endDeskSessions));
  const told = { redis: deps.redis, keyPrefix: deps.keyPrefix, log: deps.log };
  v1.route("/rules", ruleRoutes(deps.sql, told));
  v1.route("/facts", factRoutes());
  v1.route("/fx-rates", fxRoutes(deps.sql, told));
  v1.route("/backtests", backtestRoutes(deps.sql, deps.queues, deps.maxBytes));
  v1.route("/rulesets", rulesetRoutes(deps.sql, told));
  v1.route("/experience", experienceRoutes(deps.sql));
  v1.route("/contact-strategy", strategyRoutes(deps.texting.strategy, deps.texting.channels ?? new Set()));
  // A list may be a large import (a CSV of compromised cards): its own, larger, bound.
  v1.use(
    "/lists/*",
    bodyLimit({
      maxSize: MAX_LIST_BODY_BYTES,
      onError: (c) => c.json(errorBody("too_large", `body over ${MAX_LIST_BODY_BYTES} bytes`), 413),
    }),
  );
  v1.route("/lists", listRoutes(deps.sql));
  app.route("/v1", v1);
  // Desk forms are a token, an outcome, a note of at most 4,000 characters.
  app.use(
    "/desk/*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) => c.text("form too large", 413),
    }),
  );
  app.route(
    "/desk",
    deskRoutes(deps.sql, {
      secureCookie: deps.secureCookies ?? "auto",
      publicUrl: deps.deskPublicUrl,
      streams: deskStreams,
      endSessions: endDeskSessions,
      metrics: deps.metrics,
      texting: advocateTexts(deps),
      strategy: deps.texting.strategy,
      phoneCountry: deps.phoneCountry,
      experience: deps.experienceReport ?? ((w) => experienceReport(deps.sql, w, new Date())),
      queues: deps.queues,
      told,
      ...(deps.closers ? { closers: deps.closers } : {}),
    }),
  );
  app.route(QUEUES_PATH, queueDashboard(deps.sql, deps.queues, deps.deskPublicUrl));
  app.get("/", (c) => c.redirect("/desk", 302));
  deps.mount?.(app);
  return app;
}

/** What a person's actions on a case need (texts, the actions queue), for the API and the desk alike. */
export function advocateTexts(deps: Pick<AppDeps, "sql" | "queues" | "texting" | "log">): CaseActions {
  const { outreach, actions } = deps.queues;
  // Recorded as owed first: with Redis out of reach the reconciler queues it once Redis answers,
  // so the person's request still succeeds.
  const later = (jobId: string) => (err: unknown) =>
    deps.log.warn(
      { jobId, err: String(err) },
      "queued later: Redis out of reach, the work is recorded as owed",
    );
  return {
    sql: deps.sql,
    outreach,
    from: deps.texting.from,
    transport: deps.texting.transport,
    ...(deps.texting.channels ? { channels: deps.texting.channels } : {}),
    bank: deps.texting.bank,
    owe: (job, jobId, delay = 0) => owe(deps.sql, outreach, job.type, job, { jobId, delay }, later(jobId)),
    ...(deps.texting.feedbackAfterResolution ? { feedbackAfterResolution: true } : {}),
    publishAction: (action, jobId) => owe(deps.sql, actions, action.type, action, { jobId }, later(jobId)),
  };
}
