/**
 * touchpoint's entry point: one process runs the API and every worker (ROLE=all, the default),
 * or only one side (ROLE=api, ROLE=workers) to scale out over machines sharing Redis and Postgres.
 *
 *   tsx main.ts                                   start
 *   tsx main.ts token --role advocate --advocate adv-amara [--label text]
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { Redis } from "ioredis";
import { createApp } from "./api/app.ts";
import type { ExperienceSource } from "./api/desk/experience.tsx";
import { DeskStreams, deskSessionsChannel, readSessionsEnded } from "./api/desk/streams.ts";
import { vonageWebhooks } from "./api/webhooks/vonage.ts";
import {
  type Config,
  ConfigError,
  hasVonageCredentials,
  loadConfig,
  parseTeamLines,
} from "./engine/config.ts";
import { ValidationError } from "./engine/errors.ts";
import { type FaultPoint, FxCache, fxChannel, RulesetCache, rulesetChannel } from "./engine/evaluate.ts";
import { createLogger, type Logger } from "./engine/log.ts";
import { createMetrics, type Metrics } from "./engine/metrics.ts";
import type { VoiceSetup } from "./engine/outreach/calls.ts";
import { type AppTransport, createAppTransport } from "./engine/outreach/channels/app.ts";
import { createVonageVoice } from "./engine/outreach/channels/voice.ts";
import type { MessageTransport, VoiceDeps } from "./engine/outreach/contact.ts";
import { defaultStrategy, parseStrategy, type Strategy } from "./engine/outreach/strategy.ts";
import { createVonageSender } from "./engine/outreach/vonage.ts";
import { countryOfNumber, lookupPhone } from "./engine/people.ts";
import { profileOnSignal } from "./engine/profiling.ts";
import { type Database, openDatabase } from "./engine/store/database.ts";
import { DataDirBusyError, lockOwner } from "./engine/store/lock.ts";
import { partitionCount } from "./engine/store/partitions.ts";
import {
  checkEvictionPolicy,
  ensureRedis,
  producerConnection,
  RedisUnavailableError,
  workerConnection,
} from "./engine/store/redis.ts";
import { makeEventPartitions, partitionWindow } from "./engine/store/retention.ts";
import { publishRuleFiles } from "./engine/store/rulesets.ts";
import { checkTokenRequest, createToken, ensureAdminToken, type Role } from "./engine/store/tokens.ts";
import { deploymentId } from "./engine/store/work.ts";
import { apiClient, loadPeopleVia, loadStory, playStory, storiesNear } from "./fixtures/stories.ts";
import { defaultRuleFiles } from "./rules/index.ts";
import { type Pool, startPool } from "./workers/pool.ts";
import { createQueues, type Queues } from "./workers/queues.ts";
import { markEpochIfIdle } from "./workers/reconciler.ts";

export interface Touchpoint {
  config: Config;
  log: Logger;
  db: Database;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
  /** Prefix of this deployment's own Redis keys (per-customer state): REDIS_PREFIX and the database's id. */
  keyPrefix: string;
  /** Evaluation partitions (the database's count). */
  partitions: number;
  app?: Hono;
  pool?: Pool;
  server?: ServerType;
  /** The port the API listens on, when it listens. */
  port?: number;
  /** Set only on the first start without ADMIN_TOKEN: the generated admin token. */
  generatedAdminToken?: string;
  /** Resolves when the fixture stories (if any) have been played. */
  seeded: Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Listen on config.PORT (default true); tests use `app.request` instead. */
  listen?: boolean;
  fault?: FaultPoint;
  /** The clock for contact decisions (quiet hours); tests fix it. */
  now?: () => Date;
  /** The desk's experience report, in place of the store's (tests). */
  experienceReport?: ExperienceSource;
}

async function ready(redis: Redis): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((ok, fail) => {
    redis.once("ready", () => ok());
    redis.once("error", (e) => fail(e));
  });
}

/** Starts touchpoint as the configuration says; `close()` drains the workers and stops everything. */
export async function start(config: Config, opts: StartOptions = {}): Promise<Touchpoint> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const strategy = loadStrategy(config);
  const redisHandle = await ensureRedis(config.REDIS_URL, config.DATA_DIR, log);
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    log,
    max: config.DATABASE_POOL_MAX,
    waitMs: config.STARTUP_WAIT_MS,
  });
  const { sql } = db;
  // The weeks around now have their partitions before the API listens: the workers' hourly run
  // keeps them made, but this process may start after weeks stopped (older weeks: insertBatches).
  const weeks = partitionWindow(new Date(), config.EVENT_RETENTION_DAYS);
  await makeEventPartitions(sql, weeks.from, weeks.until);

  // The first start publishes the shipped rules; later starts (or a second process starting at the
  // same moment) find a version and publish nothing.
  const shipped = await publishRuleFiles(
    sql,
    (current) => current?.files ?? defaultRuleFiles(),
    { by: "touchpoint (first start)", tokenId: "system" },
    "default ruleset shipped in rules/",
  );
  if (!shipped.unchanged) log.info({ version: shipped.version }, "published the default ruleset");
  // Tokens are the API's business: a worker-only process must not replace the admin token.
  const generatedAdminToken =
    config.ROLE === "workers" ? undefined : await ensureAdminToken(sql, config.ADMIN_TOKEN);
  if (generatedAdminToken) {
    // Printed once, on the first start; only its hash is stored.
    process.stdout.write(`\n  touchpoint admin token (shown once, keep it): ${generatedAdminToken}\n\n`);
  }

  // Every process routes a customer to the same partition: the count is the database's.
  const partitions = await partitionCount(sql, config.EVALUATE_PARTITIONS);
  if (partitions.changed)
    log.warn(
      { configured: config.EVALUATE_PARTITIONS, kept: partitions.count },
      "EVALUATE_PARTITIONS differs from the count this database was set up with; the database's is kept",
    );
  // Per-customer state is this database's alone: a new database starts from no state at all.
  const keyPrefix = `${config.REDIS_PREFIX}:${await deploymentId(sql)}`;
  const metrics = createMetrics({ defaults: true });
  const redis = producerConnection(config.REDIS_URL);
  redis.on("error", (e) => log.warn({ err: e.message }, "redis connection error"));
  await ready(redis);
  await checkEvictionPolicy(redis, log);
  await markEpochIfIdle(sql, redis, keyPrefix, new Date());
  const queues = createQueues(redis, config.REDIS_PREFIX, (queue, err) =>
    log.debug({ queue, err: err.message }, "queue connection error"),
  );

  let pool: Pool | undefined;
  let workerRedis: Redis | undefined;
  // Messages between processes: a publish or new rates for the workers, a sign-out for the API.
  const subscriber = workerConnection(config.REDIS_URL);
  subscriber.on("error", (e) => log.warn({ err: e.message }, "redis subscriber error"));
  // Open desk streams by session: a sign-out handled by any process ends them here too.
  const deskStreams = new DeskStreams();
  if (config.ROLE !== "workers") {
    subscriber.on("message", (channel, message) => {
      if (channel !== deskSessionsChannel(keyPrefix)) return;
      const ended = readSessionsEnded(message);
      if (ended) deskStreams.end(ended);
    });
    await subscriber.subscribe(deskSessionsChannel(keyPrefix));
  }
  if (config.ROLE !== "api") {
    workerRedis = workerConnection(config.REDIS_URL);
    const rulesets = new RulesetCache(sql);
    // A publish reaches this process's workers by message; after a reconnect, by reading again.
    const fx = new FxCache(sql);
    subscriber.on("message", (channel, message) => {
      if (channel === fxChannel(keyPrefix)) fx.invalidate();
      else if (channel === rulesetChannel(keyPrefix)) rulesets.invalidate(Number(message));
    });
    subscriber.on("ready", () => {
      rulesets.invalidate();
      fx.invalidate();
    });
    await subscriber.subscribe(rulesetChannel(keyPrefix), fxChannel(keyPrefix));
    pool = startPool(
      {
        sql,
        redis,
        keyPrefix,
        rulesets,
        fx,
        metrics,
        log,
        queues,
        contact: {
          transport: smsTransport(config, log),
          strategy,
          whatsappTemplates: {
            payment: config.WHATSAPP_TEMPLATE,
            behaviour: config.WHATSAPP_BEHAVIOUR_TEMPLATE,
          },
          ...(appTransport(config) ? { app: appTransport(config) } : {}),
          ...(voiceDeps(config, log) ? { voice: voiceDeps(config, log) } : {}),
          from: config.VONAGE_FROM,
          bank: { name: config.BANK_NAME, phone: config.BANK_PHONE },
          policy: {
            quietStartHour: config.QUIET_HOURS_START,
            quietEndHour: config.QUIET_HOURS_END,
            maxPerIncident: 3,
            maxPer3Days: 3,
            replyTimeoutMinutes: config.REPLY_TIMEOUT_MINUTES,
          },
          feedback: { enabled: config.FEEDBACK_AFTER_RESOLUTION, periodDays: config.FEEDBACK_PERIOD_DAYS },
        },
        ...(opts.fault ? { fault: opts.fault } : {}),
        ...(opts.now ? { now: opts.now } : {}),
      },
      {
        connection: workerRedis,
        prefix: config.REDIS_PREFIX,
        concurrency: config.WORKER_CONCURRENCY,
        lockMs: config.WORKER_LOCK_MS,
        ratePerSecond: config.VONAGE_RATE_PER_SECOND,
        sweepAfterMs: config.SWEEP_AFTER_MS,
        reconcileEveryMs: config.SWEEP_EVERY_MS,
        partitions: partitions.count,
        partitionLeaseMs: config.PARTITION_LEASE_MS,
        stateCustomers: config.STATE_CUSTOMERS,
        retentionDays: config.EVENT_RETENTION_DAYS,
      },
    );
    log.info({ concurrency: config.WORKER_CONCURRENCY }, "workers started");
  }

  let app: Hono | undefined;
  const closers: Array<() => void> = [];
  let server: ServerType | undefined;
  let port: number | undefined;
  if (config.ROLE !== "workers") {
    app = createApp({
      closers,
      deskStreams,
      sql,
      redis,
      queues,
      metrics,
      log,
      maxBytes: config.INGEST_MAX_BYTES,
      maxEvents: config.INGEST_MAX_EVENTS,
      retentionDays: config.EVENT_RETENTION_DAYS,
      heavyPerMinute: config.INGEST_HEAVY_PER_MINUTE,
      redisPrefix: config.REDIS_PREFIX,
      keyPrefix,
      batchSize: config.INGEST_BATCH_SIZE,
      partitions: partitions.count,
      maxPendingAgeMs: config.READY_MAX_PENDING_AGE_MS,
      secureCookies: config.DESK_COOKIE_SECURE,
      deskPublicUrl: config.DESK_PUBLIC_URL,
      texting: {
        from: config.VONAGE_FROM,
        transport: hasVonageCredentials(config) ? "vonage" : "outbox",
        bank: { name: config.BANK_NAME, phone: config.BANK_PHONE },
        feedbackAfterResolution: config.FEEDBACK_AFTER_RESOLUTION,
        channels: new Set([
          ...(config.WHATSAPP_FROM ? ["whatsapp"] : []),
          ...(config.APP_WEBHOOK_URL ? ["app"] : []),
          ...(voiceDeps(config, log) ? ["voice"] : []),
        ]),
        strategy,
      },
      phoneCountry: countryOfNumber(config.BANK_PHONE),
      ...(opts.experienceReport ? { experienceReport: opts.experienceReport } : {}),
      ...(pool ? { workersHealthy: pool.healthy } : {}),
      mount: (root) => {
        if (!config.VONAGE_SIGNATURE_SECRET && config.VONAGE_WEBHOOK_INSECURE) {
          log.error(
            "VONAGE_WEBHOOK_INSECURE=1: webhooks are accepted WITHOUT signature checks. Development only.",
          );
        }
        root.route(
          "/webhooks/vonage",
          vonageWebhooks({
            sql,
            queues,
            log,
            secret: config.VONAGE_SIGNATURE_SECRET,
            insecure: config.VONAGE_WEBHOOK_INSECURE,
            voice: voiceSetup(config),
            replays: { redis, keyPrefix },
          }),
        );
      },
    });
    if (opts.listen !== false) {
      const theApp = app;
      port = await new Promise<number>((ok) => {
        server = serve({ fetch: theApp.fetch, port: config.PORT, hostname: "0.0.0.0" }, (info) =>
          ok(info.port),
        );
      });
      log.info({ port, database: db.kind }, `touchpoint listening on http://localhost:${port}`);
      if (db.lock) {
        // The embedded database admits one process: `npm run token` comes through this API
        // with a token left beside the lock, readable only by this user, revoked at shutdown.
        const { token } = await createToken(sql, {
          id: "local-cli",
          role: "admin",
          label: "local CLI (embedded database)",
        });
        db.lock.update({ url: `http://127.0.0.1:${port}`, token });
      }
    }
  }

  const seeded = app && config.SEED_FIXTURES ? seedIfEmpty(db, app, log) : Promise.resolve();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info("shutting down: draining workers");
      // Open desk pages hold a stream each: end them, or the server would wait on them for ever.
      for (const end of closers) end();
      await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
      await seeded.catch(() => {});
      if (db.lock) await sql`update api_tokens set revoked_at = now() where id = 'local-cli'`.catch(() => {});
      await pool?.close();
      await queues.close();
      await subscriber.quit().catch(() => {});
      await workerRedis?.quit().catch(() => {});
      await redis.quit().catch(() => {});
      await db.close();
      await redisHandle.stop();
      log.info("stopped");
    })());

  return {
    config,
    log,
    db,
    redis,
    queues,
    metrics,
    keyPrefix,
    partitions: partitions.count,
    app,
    pool,
    server,
    port,
    generatedAdminToken,
    seeded,
    close,
  } as Touchpoint;
}

/** The contact strategy: the bank's file when CONTACT_STRATEGY_FILE names one, else the shipped default. */
export function loadStrategy(config: Config): Strategy {
  const shipped = defaultStrategy({
    voiceAfterMinutes: config.VOICE_AFTER_MINUTES,
    replyTimeoutMinutes: config.REPLY_TIMEOUT_MINUTES,
  });
  if (!config.CONTACT_STRATEGY_FILE) return shipped;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(config.CONTACT_STRATEGY_FILE, "utf8"));
  } catch (err) {
    throw new ConfigError(`invalid configuration: CONTACT_STRATEGY_FILE: ${(err as Error).message}`);
  }
  try {
    return parseStrategy(json);
  } catch (err) {
    const issues = err instanceof ValidationError ? err.issues.map((i) => `${i.path}: ${i.message}`) : [];
    throw new ConfigError(
      `invalid configuration: CONTACT_STRATEGY_FILE: ${issues.join("; ") || String(err)}`,
    );
  }
}

/** What the voice webhooks need: the bank, the calls' number, PUBLIC_URL, the team lines. */
function voiceSetup(config: Config): VoiceSetup {
  return {
    bank: { name: config.BANK_NAME, phone: config.BANK_PHONE },
    from: voiceFrom(config),
    publicUrl: config.PUBLIC_URL ?? "",
    teamLines: config.TEAM_LINES ? parseTeamLines(config.TEAM_LINES) : new Map(),
  };
}

function voiceFrom(config: Config): string {
  return (lookupPhone(config.VONAGE_VOICE_FROM ?? config.BANK_PHONE, undefined) ?? config.BANK_PHONE).replace(
    /\s/g,
    "",
  );
}

const voiceWarned = new WeakSet<Config>();
/**
 * Automated calls need the Voice API (an application id and its private key: key and secret are
 * not enough) and PUBLIC_URL (where Vonage posts the call's events and keypad answers).
 */
function voiceDeps(config: Config, log: Logger): VoiceDeps | undefined {
  if (!config.VONAGE_APPLICATION_ID || !config.VONAGE_PRIVATE_KEY || !config.PUBLIC_URL) {
    if (!voiceWarned.has(config) && (config.VONAGE_APPLICATION_ID || config.PUBLIC_URL)) {
      voiceWarned.add(config);
      log.warn("automated calls are off: they need VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY and PUBLIC_URL");
    }
    return undefined;
  }
  return {
    transport: createVonageVoice({
      applicationId: config.VONAGE_APPLICATION_ID,
      privateKey: config.VONAGE_PRIVATE_KEY,
      ...(config.VONAGE_API_HOST ? { apiHost: config.VONAGE_API_HOST } : {}),
      timeoutMs: config.VONAGE_TIMEOUT_MS,
    }),
    from: voiceFrom(config),
    publicUrl: config.PUBLIC_URL,
  };
}

/** The bank's app as a channel, when APP_WEBHOOK_URL is set. */
function appTransport(config: Config): AppTransport | undefined {
  if (!config.APP_WEBHOOK_URL || !config.APP_WEBHOOK_SECRET) return undefined;
  return createAppTransport({
    url: config.APP_WEBHOOK_URL,
    secret: config.APP_WEBHOOK_SECRET,
    timeoutMs: config.VONAGE_TIMEOUT_MS,
  });
}

/** Vonage when credentials are configured; otherwise the outbox, which stores texts and sends none. */
function smsTransport(config: Config, log: Logger): MessageTransport {
  if (hasVonageCredentials(config)) {
    return createVonageSender({
      apiKey: config.VONAGE_API_KEY,
      apiSecret: config.VONAGE_API_SECRET,
      applicationId: config.VONAGE_APPLICATION_ID,
      privateKey: config.VONAGE_PRIVATE_KEY,
      apiHost: config.VONAGE_API_HOST,
      restHost: config.VONAGE_REST_HOST,
      from: config.VONAGE_FROM,
      ...(config.WHATSAPP_FROM ? { whatsappFrom: config.WHATSAPP_FROM } : {}),
      timeoutMs: config.VONAGE_TIMEOUT_MS,
    });
  }
  log.warn(
    "no Vonage credentials: texts go to the OUTBOX and are NOT SENT (see README, 'Connecting a real Vonage account')",
  );
  return {
    kind: "outbox",
    // The outbox keeps WhatsApp messages too when a WhatsApp number is configured.
    channels: new Set(config.WHATSAPP_FROM ? ["sms", "whatsapp"] : ["sms"]),
    send: async () => {
      throw new Error("the outbox never sends");
    },
  };
}

/** On an empty database, loads the fixture people and plays the two stories, so the first run shows cases. */
async function seedIfEmpty(db: Database, app: Hono, log: Logger): Promise<void> {
  const [row] = await db.sql`select count(*)::int as n from customers`;
  if ((row?.n as number) > 0) return;
  const { token } = await createToken(db.sql, {
    id: "fixtures-loader",
    role: "admin",
    label: "fixture loader",
  });
  const api = apiClient((path, init) => app.request(path, init), token);
  try {
    await loadPeopleVia(api);
    const stories = storiesNear(
      (["phnom-penh-paris", "returning-customer"] as const).map(loadStory),
      new Date(),
    );
    for (const story of stories) {
      const cases = await playStory(api, story);
      log.info(
        { story: story.name, cases: cases.map((c) => ({ id: c.id, advocate: c.advocate?.name })) },
        "fixture story played",
      );
    }
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, "fixture stories failed");
  } finally {
    await db.sql`update api_tokens set revoked_at = now() where id = 'fixtures-loader'`;
  }
}

/**
 * Test-only fault injection: TOUCHPOINT_FAULT=<point> kills this process with SIGKILL the first
 * time a worker reaches that point, as a crash or an OOM kill would.
 */
function faultFromEnv(point: string | undefined): FaultPoint | undefined {
  if (!point) return undefined;
  process.stderr.write(
    `touchpoint: fault injection armed at ${point}; this process will kill itself there\n`,
  );
  // `stop:<point>` stops the process there instead (SIGSTOP), once: a stall a test ends with SIGCONT.
  const stop = point.startsWith("stop:") ? point.slice(5) : undefined;
  let stopped = false;
  return (at) => {
    if (at === point) process.kill(process.pid, "SIGKILL");
    if (at === stop && !stopped) {
      stopped = true;
      process.kill(process.pid, "SIGSTOP");
    }
  };
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * `npm run token -- --role R [--advocate ID] [--team T] [--label L]`: prints a new token. With
 * the embedded database and a touchpoint running on it, goes through that process's API (a
 * second process may not open its data directory); otherwise writes to the database itself.
 */
async function tokenCommand(config: Config, args: string[]): Promise<number> {
  const role = argValue(args, "role") as Role | undefined;
  if (!role || !["ingest", "risk", "advocate", "supervisor", "admin"].includes(role)) {
    process.stderr.write(
      "usage: npm run token -- --role ingest|risk|advocate|supervisor|admin [--advocate ID] [--team T] [--label L]\n",
    );
    return 2;
  }
  const request = {
    role,
    ...(argValue(args, "advocate") ? { advocateId: argValue(args, "advocate") } : {}),
    ...(argValue(args, "team") ? { team: argValue(args, "team") } : {}),
    label: argValue(args, "label") ?? "cli",
  };
  const refuse = (message: string) => {
    process.stderr.write(`touchpoint token: ${message}\n`);
    return 2;
  };
  if (!config.DATABASE_URL) {
    const owner = lockOwner(join(resolve(config.DATA_DIR), "touchpoint.lock"));
    if (owner) {
      if (!owner.url || !owner.token)
        return refuse(
          `touchpoint (pid ${owner.pid}) holds ${config.DATA_DIR} and serves no API (still starting, or ROLE=workers); ` +
            "try again once it listens, or stop it",
        );
      const res = await fetch(`${owner.url}/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (!res)
        return refuse(
          `touchpoint (pid ${owner.pid}) holds ${config.DATA_DIR} but does not answer at ${owner.url}; ` +
            "if no touchpoint runs there, its lock is stale: delete DATA_DIR/touchpoint.lock",
        );
      const body = (await res.json()) as { token?: string; error?: { message: string; issues?: unknown } };
      if (res.status !== 201 || !body.token)
        return refuse(`${body.error?.message ?? res.status} ${JSON.stringify(body.error?.issues ?? "")}`);
      process.stdout.write(`${body.token}\n`);
      return 0;
    }
  }
  let db: Database;
  try {
    db = await openDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      log: createLogger("error"),
    });
  } catch (err) {
    if (err instanceof DataDirBusyError) return refuse(err.message);
    throw err;
  }
  try {
    await checkTokenRequest(db.sql, request);
    const made = await createToken(db.sql, request);
    process.stdout.write(`${made.token}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ValidationError)
      return refuse(`${err.message}: ${err.issues.map((i) => i.message).join("; ")}`);
    throw err;
  } finally {
    await db.close();
  }
}

async function cli(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
    loadStrategy(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const [command, ...args] = process.argv.slice(2);
  if (command === "token") {
    process.exitCode = await tokenCommand(config, args);
    return;
  }
  let tp: Touchpoint;
  try {
    tp = await start(config, { fault: faultFromEnv(process.env.TOUCHPOINT_FAULT) });
  } catch (err) {
    if (err instanceof RedisUnavailableError || err instanceof DataDirBusyError) {
      process.stderr.write(`touchpoint: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config.PROFILE_DIR)
    profileOnSignal(config.PROFILE_DIR, config.ROLE, tp.log, { allocations: config.PROFILE_ALLOCATIONS });
  // A promise nobody awaited failed: log it loudly rather than let Node end the process. Its work
  // is recoverable (jobs retry, the sweeper re-drives what Postgres says is owed); an uncaught
  // exception is not, and still ends the process for its supervisor to restart.
  process.on("unhandledRejection", (reason) => {
    tp.log.error(
      { err: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) },
      "unhandled promise rejection",
    );
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      // Draining waits for active jobs; if a dependency hangs, give up after SHUTDOWN_TIMEOUT_MS:
      // the unfinished jobs are retried elsewhere once their locks expire.
      const deadline = setTimeout(() => {
        tp.log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, "shutdown took too long: exiting anyway");
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS);
      deadline.unref();
      tp.close().then(
        () => process.exit(0),
        (err) => {
          tp.log.error({ err: String(err) }, "unclean shutdown");
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli().catch((err) => {
    process.stderr.write(
      `touchpoint failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
}
