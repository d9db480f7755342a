/** Configuration: environment variables validated once at start, frozen, passed down. */
import { parsePhoneNumberFromString } from "libphonenumber-js";
import { z } from "zod";
import { callEndpoint, teamName } from "./people.ts";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const flag = z
  .enum(["0", "1", "true", "false", ""])
  .optional()
  .transform((v) => v === "1" || v === "true");

const intIn = (min: number, max: number, dflt: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int("must be an integer")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(dflt);

export const configSchema = z.object({
  PORT: intIn(0, 65535, 3000),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .optional(),
  ),
  /** Connections each process opens to DATABASE_URL at most (PGlite takes one). */
  DATABASE_POOL_MAX: intIn(1, 100, 10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .default("redis://127.0.0.1:6379"),
  /** Namespace for every Redis key (queues and state), so several deployments or test runs share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/, "1-32 characters of a-z 0-9 _ -")
    .default("tp"),
  DATA_DIR: z.string().min(1).default("./data"),
  VONAGE_API_KEY: optionalString,
  VONAGE_API_SECRET: optionalString,
  VONAGE_APPLICATION_ID: optionalString,
  VONAGE_PRIVATE_KEY: optionalString,
  VONAGE_SIGNATURE_SECRET: optionalString,
  VONAGE_WEBHOOK_INSECURE: flag,
  VONAGE_API_HOST: optionalString.pipe(z.url("must be a URL").optional()),
  VONAGE_REST_HOST: optionalString.pipe(z.url("must be a URL").optional()),
  VONAGE_FROM: z.string().min(1).default("touchpoint"),
  /** Vonage allows 30 requests/s per API key by default. */
  VONAGE_RATE_PER_SECOND: intIn(1, 1000, 25),
  /** The SDK waits forever by default. ms. */
  VONAGE_TIMEOUT_MS: intIn(100, 120_000, 10_000),
  /** Minutes without a reply before the one reminder, and again before a call task for the advocate. */
  REPLY_TIMEOUT_MINUTES: intIn(1, 7 * 24 * 60, 30),
  /** No answer this long after the first message of a high case → the automated call (decimals allowed). */
  VOICE_AFTER_MINUTES: z.coerce
    .number({ error: "must be a number" })
    .gt(0, "must be more than 0")
    .max(7 * 24 * 60, "must be at most 10080 (a week)")
    .default(10),
  /** The base URL Vonage reaches this service at: voice calls' event and keypad URLs are built from it. */
  PUBLIC_URL: optionalString.pipe(
    z
      .url("must be a URL")
      .regex(/^https?:\/\//, "must be an http(s) URL")
      .transform((u) => u.replace(/\/+$/, ""))
      .optional(),
  ),
  /** The number automated calls come from (a Vonage number of the application); default BANK_PHONE. */
  VONAGE_VOICE_FROM: optionalString,
  /** The bank's WhatsApp Business number; unset: no WhatsApp. */
  WHATSAPP_FROM: optionalString.pipe(
    z
      .string()
      .regex(/^\+?[1-9]\d{6,14}$/, "an E.164 number, e.g. +447700900123")
      .optional(),
  ),
  /** The approved WhatsApp templates that ask about a payment, and about an account action (see README). */
  WHATSAPP_TEMPLATE: z
    .string()
    .regex(/^[a-z0-9_]{1,512}$/, "a WhatsApp template name: a-z 0-9 _")
    .default("touchpoint_payment_check"),
  WHATSAPP_BEHAVIOUR_TEMPLATE: z
    .string()
    .regex(/^[a-z0-9_]{1,512}$/, "a WhatsApp template name: a-z 0-9 _")
    .default("touchpoint_behaviour_check"),
  /** The bank's app backend: a case can ask in the app (signed POST; see README). */
  APP_WEBHOOK_URL: optionalString.pipe(z.url("must be a URL").optional()),
  /** The HMAC secret of those requests; required with APP_WEBHOOK_URL. */
  APP_WEBHOOK_SECRET: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
  /** A JSON file with the contact strategy per severity; unset: the shipped one (README). */
  CONTACT_STRATEGY_FILE: optionalString,
  /**
   * Where a call goes when the named advocate cannot take it: `team=endpoint` pairs, comma
   * separated, an endpoint an international number or a SIP URI; `*` for every other team.
   */
  TEAM_LINES: optionalString,
  /** Quiet hours in the customer's local time: lower severities wait from START until END. */
  QUIET_HOURS_START: intIn(0, 23, 21),
  QUIET_HOURS_END: intIn(0, 23, 8),
  /** After a case resolves, ask its customer one 1-5 question (off unless the bank turns it on). */
  FEEDBACK_AFTER_RESOLUTION: flag,
  /** A customer is asked that question at most once in this many days, whatever the cases. */
  FEEDBACK_PERIOD_DAYS: intIn(1, 3650, 30),
  ADMIN_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
  /** Largest accepted request body, bytes. */
  INGEST_MAX_BYTES: intIn(1024, 100 * 1024 * 1024, 5 * 1024 * 1024),
  /** Most events in one request (a 413 beyond). */
  INGEST_MAX_EVENTS: intIn(1, 1_000_000, 10_000),
  /** A customer sending more events than this in a minute is evaluated after everyone else. */
  INGEST_HEAVY_PER_MINUTE: intIn(1, 10_000_000, 600),
  /**
   * Events (and their batch rows) are kept this many days by occurredAt, then dropped a week's
   * partition at a time; an event older than this is refused at ingest. The same in every process.
   */
  EVENT_RETENTION_DAYS: intIn(1, 3650, 90),
  /** Events per evaluate job. */
  INGEST_BATCH_SIZE: intIn(1, 5000, 100),
  WORKER_CONCURRENCY: intIn(1, 256, 8),
  /**
   * Evaluation partitions: a customer's events are evaluated by the one process holding their
   * partition. Fixed for a database at its first start (later values are ignored, with a warning);
   * the most worker processes that can share evaluation.
   */
  EVALUATE_PARTITIONS: intIn(1, 1024, 16),
  /** A partition's lease, ms: a worker that dies gives its partitions up after this long. */
  PARTITION_LEASE_MS: intIn(1000, 600_000, 10_000),
  /** Customers whose state one worker process holds in memory at most (the least recent go first). */
  STATE_CUSTOMERS: intIn(100, 100_000_000, 200_000),
  /** A job's lock, ms: a worker that dies mid-job has its job retried after this long. */
  WORKER_LOCK_MS: intIn(1000, 600_000, 30_000),
  /** Accepted events still unevaluated after this long (with `evaluate` idle) are re-queued. ms. */
  SWEEP_AFTER_MS: intIn(0, 24 * 3600_000, 5 * 60_000),
  /** How often the reconciler looks for work Redis forgot (one run at a time across processes). ms. */
  SWEEP_EVERY_MS: intIn(200, 3600_000, 5_000),
  /** /readyz turns unhealthy when pending work (an event, a decision, an owed job) is older than this. ms. */
  READY_MAX_PENDING_AGE_MS: intIn(10_000, 7 * 24 * 3600_000, 10 * 60_000),
  /** SIGTERM drains active jobs for at most this long, then exits anyway. ms. */
  SHUTDOWN_TIMEOUT_MS: intIn(1000, 600_000, 30_000),
  /** At start, wait this long for Postgres to answer before giving up. ms. */
  STARTUP_WAIT_MS: intIn(0, 600_000, 60_000),
  /** Desk cookies marked Secure: auto (when the request came over HTTPS, also via X-Forwarded-Proto), 1 or 0. */
  DESK_COOKIE_SECURE: z
    .enum(["auto", "1", "0", "true", "false"])
    .default("auto")
    .transform((v) => (v === "auto" ? ("auto" as const) : v === "1" || v === "true")),
  /**
   * The desk's address as browsers reach it (https://desk.example.com), for a proxy that rewrites
   * Host: a desk POST without Sec-Fetch-Site must carry this Origin. Unset: the request's Host.
   */
  DESK_PUBLIC_URL: optionalString.pipe(z.url("must be a URL").optional()),
  /** Which parts this process runs: api, workers, or both. */
  ROLE: z.enum(["all", "api", "workers"]).default("all"),
  /** Load fixtures into an empty database at start. */
  SEED_FIXTURES: z
    .enum(["0", "1", "true", "false", ""])
    .optional()
    .transform((v) => v === undefined || v === "" || v === "1" || v === "true"),
  /** With a directory, SIGUSR2 starts a CPU profile and the next SIGUSR2 writes it there. */
  PROFILE_DIR: optionalString,
  /** With PROFILE_DIR: the same signals also sample allocations (`.heapprofile`, garbage included). */
  PROFILE_ALLOCATIONS: flag,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  BANK_NAME: z.string().min(1).default("Touchpoint Bank"),
  /**
   * The bank's own number, the only one a text may give: international (+ and country code) so
   * it is read the same everywhere, and valid, or no text could be checked against it.
   */
  BANK_PHONE: z
    .string()
    .default("+44 20 7946 0000")
    .refine(
      (v) => v.trim().startsWith("+") && parsePhoneNumberFromString(v)?.isValid() === true,
      "must be a valid phone number in international format, e.g. +44 20 7946 0000",
    ),
});

const checkedSchema = configSchema.superRefine((c, ctx) => {
  if (c.APP_WEBHOOK_URL && !c.APP_WEBHOOK_SECRET)
    ctx.addIssue({ code: "custom", path: ["APP_WEBHOOK_SECRET"], message: "required with APP_WEBHOOK_URL" });
  if (c.TEAM_LINES) {
    try {
      parseTeamLines(c.TEAM_LINES);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["TEAM_LINES"], message: (err as Error).message });
    }
  }
});

/** `fraud=+442079460001,*=sip:desk@pbx.example.com` as team → endpoint ("*": any other team). */
export function parseTeamLines(v: string): ReadonlyMap<string, string> {
  const lines = new Map<string, string>();
  for (const pair of v
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf("=");
    const team = pair.slice(0, eq).trim();
    if (eq < 1 || !(team === "*" || teamName.safeParse(team).success))
      throw new Error(`"${pair}" is not team=endpoint (e.g. fraud=+442079460001)`);
    const endpoint = callEndpoint.safeParse(pair.slice(eq + 1));
    if (!endpoint.success) throw new Error(`${team}: ${endpoint.error.issues[0]?.message}`);
    lines.set(team, endpoint.data);
  }
  return lines;
}

export type Config = Readonly<z.output<typeof configSchema>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; the first bad variable becomes one line naming it. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) picked[key] = env[key];
  const result = checkedSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${String(i.path[0] ?? "config")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  return Object.freeze(result.data);
}

/** True when outbound texts can really go to Vonage; otherwise they land in the outbox. */
export function hasVonageCredentials(config: Config): boolean {
  return Boolean(
    (config.VONAGE_API_KEY && config.VONAGE_API_SECRET) ||
      (config.VONAGE_APPLICATION_ID && config.VONAGE_PRIVATE_KEY),
  );
}
