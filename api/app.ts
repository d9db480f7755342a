/** The Hono app: `/v1` (bearer tokens with roles), operations endpoints, webhooks and the desk. */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import type { Logger } from "../engine/log.ts";
import type { Metrics } from "../engine/metrics.ts";
import type { Sql } from "../engine/store/database.ts";
import type { Queues } from "../workers/queues.ts";
import { type AuthEnv, authenticate } from "./auth.ts";
import { deskRoutes } from "./desk/desk.tsx";
import { errorBody, handleError } from "./errors.ts";
import { openApiDocument } from "./openapi.ts";
import { rulesetRoutes, tokenRoutes } from "./routes/admin.ts";
import { caseRoutes } from "./routes/cases.ts";
import { eventRoutes } from "./routes/events.ts";
import { advocateRoutes, customerRoutes } from "./routes/people.ts";

export interface AppDeps {
  sql: Sql;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  maxBytes: number;
  batchSize: number;
  /** Whether this process's workers are up; undefined when workers run elsewhere. */
  workersHealthy?: () => boolean;
  /** REDIS_PREFIX, for scratch state (backtests). */
  redisPrefix: string;
  /** Mark desk cookies Secure (behind HTTPS). */
  secureCookies?: boolean;
  /** Extra routes mounted at the root (webhooks). */
  mount?: (app: Hono) => void;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => handleError(err, c, deps.log));
  app.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

  app.get("/healthz", (c) => c.json({ ok: true }, 200));
  app.get("/readyz", async (c) => {
    const checks: Record<string, boolean> = {};
    checks.postgres = await deps.sql`select 1`.then(
      () => true,
      () => false,
    );
    checks.redis = await deps.redis.ping().then(
      (r) => r === "PONG",
      () => false,
    );
    if (deps.workersHealthy) checks.workers = deps.workersHealthy();
    const ready = Object.values(checks).every(Boolean);
    return c.json({ ready, checks }, ready ? 200 : 503);
  });
  const openapi = openApiDocument();
  app.get("/openapi.json", (c) => c.json(openapi, 200));
  app.get("/metrics", async (c) => {
    c.header("Content-Type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics(), 200);
  });

  const v1 = new Hono<AuthEnv>();
  v1.use("*", authenticate(deps.sql));
  v1.route("/events", eventRoutes(deps));
  v1.route("/customers", customerRoutes(deps.sql));
  v1.route("/advocates", advocateRoutes(deps.sql));
  v1.route("/cases", caseRoutes(deps.sql, deps.metrics));
  v1.route("/tokens", tokenRoutes(deps.sql));
  v1.route("/rulesets", rulesetRoutes(deps.sql, { redis: deps.redis, redisPrefix: deps.redisPrefix }));
  app.route("/v1", v1);
  app.route(
    "/desk",
    deskRoutes(deps.sql, { secureCookie: deps.secureCookies ?? false, metrics: deps.metrics }),
  );
  app.get("/", (c) => c.redirect("/desk", 302));
  deps.mount?.(app);
  return app;
}
