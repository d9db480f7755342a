/**
 * `npm run bench`: how fast touchpoint is on this machine, and where its time goes.
 *
 *   npm run bench                          full: 1,000,000 events of 100,000 customers (about 10 min)
 *   npm run bench -- --quick --json b.json under two minutes; the figures also as JSON
 *   npm run bench -- --workers 2           one API process and two worker processes
 *
 * In order: the rule stage alone (compiled and json-rules-engine, one core); the queue ceiling
 * (BullMQ with a processor that does nothing, the same batches); then touchpoint itself as
 * separate processes (ROLE=api and ROLE=workers) on a fresh database on the local Postgres and
 * the local Redis, texting a fake Vonage through the real SDK:
 *   - sustained: the whole stream posted as fast as the API takes it (requests of 1,000 events,
 *     4 in flight), until every event is evaluated and every decision is on a case;
 *   - latency at a fixed offered load (2,000 events/s by default): ingest → decision and
 *     ingest → text handed to Vonage, from HDR histograms;
 *   - one customer's flood with 200 others behind it.
 * During the sustained run each process is CPU-profiled (SIGUSR2, engine/profiling.ts) and the
 * samples are charged to pipeline stages (bench/stages.ts); Postgres's and Redis's own CPU comes
 * from /proc and INFO. Memory: each process's RSS over the run, and Redis bytes per customer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Job, Queue } from "bullmq";
import { Command, Option } from "commander";
import * as hdr from "hdr-histogram-js";
import { Redis } from "ioredis";
import postgres from "postgres";
import { freePort } from "../engine/store/database.ts";
import { type GeneratedStream, generateStream, shuffle } from "../fixtures/generator.ts";
import { apiClient } from "../fixtures/stories.ts";
import { startFakeVonage } from "../test/support/fake-vonage.ts";
import { bullPrefix, QUEUES } from "../workers/queues.ts";
import { allocationsOf } from "./allocations.ts";
import {
  describeMachine,
  machineCpuUs,
  OTHER_BACKENDS,
  postgresCpuByProcess,
  postgresCpuSplit,
  postgresCpuUs,
  postmasterPid,
  processCpuUs,
  redisCpuUs,
  rssBytes,
} from "./machine.ts";
import { queueCeiling } from "./queue.ts";
import { ruleStage } from "./rules.ts";
import { addStages, readProfile, STAGES, type Stage, type StageCpu, scaledTo, stagesOf } from "./stages.ts";
import { stateStage } from "./state.ts";
import {
  type PostgresFigures,
  startCounting,
  statementFigures,
  statementLines,
  statementsReady,
} from "./statements.ts";
import { describeWindow, watchWindow } from "./window.ts";

const REPO = new URL("..", import.meta.url).pathname;

/** Node's flags as `npm start` passes them (package.json), so the bench runs what production runs. */
const START_FLAGS = (
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: { start: string } }
).scripts.start
  .split(/\s+/)
  .filter((w) => w.startsWith("--"))
  .join(" ");

const program = new Command("bench")
  .option("--quick", "a run of under two minutes: 60,000 events of 10,000 customers")
  .option("--json <file>", "also write the figures as JSON")
  .addOption(new Option("--workers <n>", "worker processes beside the API process").default("1"))
  .option("--events <n>", "events in the sustained run")
  .option("--customers <n>", "customers in the sustained run")
  .option(
    "--impossible <share>",
    "share of the sustained run's customers with an impossible journey (0: a run without cases and texts)",
    "0.05",
  )
  .option("--rate <n>", "offered load for the latency run, events/s", "2000")
  .option("--seconds <n>", "length of the latency run")
  .option("--dense <n>", "payments of the one flooding customer")
  .option("--chunk <n>", "events per request", "1000")
  .option("--parallel <n>", "requests in flight in the sustained run", "4")
  .option("--batch <n>", "events per evaluate job (INGEST_BATCH_SIZE)", "100")
  .option("--concurrency <n>", "jobs at once per worker process (WORKER_CONCURRENCY)", "8")
  .option("--partitions <n>", "evaluation partitions (EVALUATE_PARTITIONS; default: touchpoint's)")
  .option("--db-pool <n>", "Postgres connections per process (DATABASE_POOL_MAX; default: touchpoint's)")
  .option(
    "--node-flags <flags>",
    "Node flags of the touchpoint processes (default: npm start's)",
    START_FLAGS,
  )
  .option(
    "--pg-statements",
    "Postgres's cost by statement in the sustained run (needs pg_stat_statements loaded: see bench/statements.ts)",
  )
  .option("--keep-database", "keep the bench's database at the end, to look at its plans")
  .option("--keep-logs <dir>", "keep each touchpoint process's standard output (its log) in this directory")
  .option("--keep-profiles <dir>", "keep the sustained run's CPU profiles (.cpuprofile) in this directory")
  .option(
    "--allocations",
    "also sample where each process allocates in the sustained run (garbage included): bytes an event, by function",
  )
  .option(
    "--database-url <url>",
    "a Postgres to create the bench database on",
    "postgres://postgres@127.0.0.1:5432/postgres",
  )
  .option("--redis-url <url>", "the Redis to use", "redis://127.0.0.1:6379");
program.parse();
const o = program.opts();
const quick = Boolean(o.quick);
const num = (v: unknown, dflt: number) => (v === undefined ? dflt : Number(v));
const settings = {
  events: num(o.events, quick ? 60_000 : 1_000_000),
  customers: num(o.customers, quick ? 10_000 : 100_000),
  rate: num(o.rate, 2000),
  seconds: num(o.seconds, quick ? 10 : 60),
  dense: num(o.dense, quick ? 2_000 : 10_000),
  chunk: num(o.chunk, 1000),
  parallel: num(o.parallel, 4),
  batch: num(o.batch, 100),
  concurrency: num(o.concurrency, 8),
  workers: num(o.workers, 1),
  impossible: num(o.impossible, 0.05),
};
const nodeFlags = String(o.nodeFlags ?? "")
  .split(/\s+/)
  .filter(Boolean);

/** Polls `check` every `everyMs` until it answers, for at most `timeoutMs`. */
async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const mib = (b: number) => Math.round(b / 2 ** 20);

/** A latency histogram in µs, reported in ms. */
function histogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
function summary(h: hdr.Histogram) {
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    maxMs: ms(h.maxValue),
  };
}

/**
 * Where a text's time went, hop by hop, from the jobs BullMQ keeps once completed: the customer's
 * `cases` job (queued once the decision was written, then run: the case opened and routed), then
 * the case's `check` job on `outreach` (queued when the case committed, then run: the contact
 * policy, the text handed to Vonage).
 */
async function textHops(
  sql: postgres.Sql,
  prefix: string,
  texted: ReadonlyMap<string, { from: number; at: number }>,
) {
  const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queue = (name: string) => new Queue(name, { connection, prefix: bullPrefix(prefix) });
  const [cases, outreach] = [queue(QUEUES.cases), queue(QUEUES.outreach)];
  const hops = {
    "to the case job queued": histogram(),
    "waiting for a case worker": histogram(),
    "opening the case": histogram(),
    "waiting for an outreach worker": histogram(),
    "policy and Vonage": histogram(),
  };
  try {
    const caseOf = new Map<string, string>();
    for (const r of await sql`select id, customer_id from cases where customer_id = any(${[...texted.keys()]})`)
      caseOf.set(r.customer_id as string, r.id as string);
    const caseJobs = new Map<string, Job[]>();
    for (const j of await cases.getJobs(["completed"], 0, 20_000)) {
      const c = (j.data as { customerId?: string }).customerId;
      if (c && texted.has(c)) caseJobs.set(c, [...(caseJobs.get(c) ?? []), j]);
    }
    const checkJobs = new Map<string, Job[]>();
    for (const j of await outreach.getJobs(["completed"], 0, 20_000)) {
      const d = j.data as { type?: string; caseId?: string };
      if (d.type === "check" && d.caseId) checkJobs.set(d.caseId, [...(checkJobs.get(d.caseId) ?? []), j]);
    }
    const us = (ms: number) => Math.max(1, Math.round(ms * 1000));
    for (const [customer, { from, at }] of texted) {
      // The job that opened the case: the first queued after the event came.
      const job = (caseJobs.get(customer) ?? [])
        .filter((j) => j.timestamp >= from)
        .sort((a, b) => a.timestamp - b.timestamp)[0];
      // The check that sent the text: the last to start before Vonage had it (a case escalated has two).
      const check = (checkJobs.get(caseOf.get(customer) ?? "") ?? [])
        .filter((j) => j.processedOn !== undefined && j.processedOn <= at)
        .sort((a, b) => b.processedOn! - a.processedOn!)[0];
      if (!job?.processedOn || !job.finishedOn || !check?.processedOn) continue;
      hops["to the case job queued"].recordValue(us(job.timestamp - from));
      hops["waiting for a case worker"].recordValue(us(job.processedOn - job.timestamp));
      hops["opening the case"].recordValue(us(job.finishedOn - job.processedOn));
      hops["waiting for an outreach worker"].recordValue(us(check.processedOn - check.timestamp));
      hops["policy and Vonage"].recordValue(us(at - check.processedOn));
    }
  } finally {
    await Promise.all([cases.close(), outreach.close()]);
    connection.disconnect();
  }
  return hops;
}

/** Customers split into slices generated one at a time, so a million events never sit in memory at once. */
function* slices(opts: {
  customers: number;
  events: number;
  prefix: string;
  seed: number;
  per?: number;
  impossibleShare?: number;
}) {
  const per = opts.per ?? 5000;
  const each = Math.max(1, opts.events / opts.customers / 1.005);
  const payments = [Math.max(1, Math.round(each) - 3), Math.round(each) + 3] as const;
  for (let k = 0, done = 0; done < opts.customers; k++, done += per) {
    const stream = generateStream({
      seed: opts.seed + k,
      customers: Math.min(per, opts.customers - done),
      impossibleShare: opts.impossibleShare ?? 0.05,
      prefix: `${opts.prefix}${k}`,
      payments,
    });
    yield { stream, events: shuffle(stream.events, opts.seed + 1000 + k) };
  }
}

/** Customers straight into the table: setting up 100,000 people is not what is measured. */
async function seedCustomers(sql: postgres.Sql, customers: GeneratedStream["customers"]) {
  for (let i = 0; i < customers.length; i += 5000) {
    const rows = customers.slice(i, i + 5000).map((c) => ({
      id: c.id,
      name: c.name,
      phone: c.phone,
      home_country: c.homeCountry,
      timezone: c.timezone ?? null,
    }));
    await sql`insert into customers ${sql(rows, "id", "name", "phone", "home_country", "timezone")} on conflict do nothing`;
  }
}

interface Proc {
  role: "api" | "workers";
  child: ChildProcess;
  rss: number[];
}

async function main() {
  const runId = randomBytes(3).toString("hex");
  const admin = postgres(o.databaseUrl, { max: 1, onnotice: () => {} });
  const redis = new Redis(o.redisUrl);
  const machine = await describeMachine(admin, redis);
  // The CPU of the cluster the bench uses, not every Postgres on the machine (other runs' clusters).
  const postmaster = await postmasterPid(admin);
  const statementsFor = o.pgStatements ? await statementsReady(admin) : undefined;
  if (typeof statementsFor === "string") say(`--pg-statements: ${statementsFor}; no statement figures`);
  say(
    `touchpoint bench on ${machine.host}: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, Postgres ${machine.postgres}${machine.autovacuum ? "" : " (autovacuum off: the run's tables are never vacuumed nor analysed, unlike a production cluster's)"}, Redis ${machine.redis}`,
  );
  say(
    `  ${quick ? "quick" : "full"} run: ${fmt(settings.events)} events of ${fmt(settings.customers)} customers; 1 API + ${settings.workers} worker process(es), concurrency ${settings.concurrency}, ${settings.batch} events a job; node ${nodeFlags.join(" ") || "(no flags)"}`,
  );

  // 1. The rule stage alone, on this one core, before anything else competes for it.
  const rules = await ruleStage(quick ? { compiledEvents: 500_000, referenceEvents: 5_000 } : {});
  say(
    `rule stage (${rules.rules} shipped rules, one core): compiled ${fmt(rules.compiledEventsPerSec)} events/s, json-rules-engine ${fmt(rules.referenceEventsPerSec)} events/s (${rules.ratio}×)`,
  );

  // 2. The queue ceiling, on requests shaped like the sustained run's.
  const ceilingEvents = Math.min(settings.events, quick ? 50_000 : 200_000);
  const requests: Array<GeneratedStream["events"]> = [];
  for (const { events } of slices({
    customers: Math.ceil(ceilingEvents / 10),
    events: ceilingEvents,
    prefix: "q",
    seed: 7,
  }))
    for (let i = 0; i < events.length; i += settings.chunk)
      requests.push(events.slice(i, i + settings.chunk));
  const ceiling = await queueCeiling({
    redisUrl: o.redisUrl,
    requests,
    batchSize: settings.batch,
    concurrency: settings.concurrency * settings.workers,
    parallel: settings.parallel,
  });
  requests.length = 0;
  say(
    `queue ceiling (BullMQ, no-op processor, ${fmt(ceiling.jobs)} jobs of ${settings.batch}): ${fmt(ceiling.eventsPerSec)} events/s`,
  );

  // 2b. The customer-state stage alone: the Lua script's cost without the pipeline around it.
  const stateAlone = await stateStage({ redisUrl: o.redisUrl, customers: quick ? 2_000 : 10_000 });
  say(
    `state stage alone (${fmt(stateAlone.events)} events of ${fmt(stateAlone.customers)} customers): in memory (evaluation) ${stateAlone.memory.nodeUsPerEvent} µs of CPU an event, ${fmt(stateAlone.memory.bytesPerCustomer)} bytes of heap a customer, ${stateAlone.memory.gcMicrosPerCustomer} µs of a full GC a customer; the Redis script (backtests), batches of 100: Redis ${stateAlone.redisUsPerEvent} µs and Node ${stateAlone.nodeUsPerEvent} µs an event, ${fmt(stateAlone.bytesPerCustomer)} bytes a customer`,
  );

  // 3. touchpoint as processes, on a database of its own.
  const dbName = `tp_bench_${runId}`;
  await admin`create database ${admin(dbName)}`;
  const url = new URL(o.databaseUrl);
  url.pathname = `/${dbName}`;
  const sql = postgres(url.toString(), { max: 4, onnotice: () => {} });
  const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-bench-"));
  const profileDir = join(dataDir, "profiles");
  mkdirSync(profileDir);
  const token = `bench-${randomBytes(12).toString("hex")}`;
  const prefix = `b${runId}`;
  const vonage = await startFakeVonage();
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: url.toString(),
    REDIS_URL: o.redisUrl,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    ADMIN_TOKEN: token,
    SEED_FIXTURES: "0",
    LOG_LEVEL: "error",
    INGEST_MAX_BYTES: String(50 * 1024 * 1024),
    INGEST_BATCH_SIZE: String(settings.batch),
    WORKER_CONCURRENCY: String(settings.concurrency),
    ...(o.partitions === undefined ? {} : { EVALUATE_PARTITIONS: String(o.partitions) }),
    VONAGE_API_KEY: "bench",
    VONAGE_API_SECRET: "bench-secret",
    VONAGE_API_HOST: vonage.url,
    VONAGE_REST_HOST: vonage.url,
    // The fake takes any rate; Vonage's own limit is an account setting. 25/s would make the
    // text latency a measure of the throttle.
    VONAGE_RATE_PER_SECOND: "1000",
    PROFILE_DIR: profileDir,
    ...(o.allocations ? { PROFILE_ALLOCATIONS: "1" } : {}),
    ...(o.dbPool ? { DATABASE_POOL_MAX: String(o.dbPool) } : {}),
  };
  const procs: Proc[] = [];
  if (o.keepLogs) mkdirSync(String(o.keepLogs), { recursive: true });
  let rssTimer: NodeJS.Timeout | undefined;
  // Ctrl-C: no child left running, no database left behind.
  process.once("SIGINT", () => {
    for (const p of procs) p.child.kill("SIGTERM");
    void admin`drop database if exists ${admin(dbName)} with (force)`.finally(() => process.exit(130));
  });
  try {
    const spawnRole = (role: Proc["role"], extra: Record<string, string> = {}) => {
      const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", "main.ts"], {
        cwd: REPO,
        env: { ...env, ROLE: role, ...extra },
        stdio: [
          "ignore",
          o.keepLogs
            ? openSync(
                join(String(o.keepLogs), `${role}-${procs.filter((p) => p.role === role).length}.log`),
                "w",
              )
            : "ignore",
          "inherit",
        ],
      });
      procs.push({ role, child, rss: [] });
    };
    spawnRole("api", { PORT: String(port), HOST: "127.0.0.1" });
    const base = `http://127.0.0.1:${port}`;
    await poll(
      () =>
        fetch(`${base}/healthz`).then(
          (r) => (r.ok ? true : undefined),
          () => undefined,
        ),
      120_000,
      "the API to listen",
    );
    for (let i = 0; i < settings.workers; i++) spawnRole("workers");
    const api = apiClient((p, init) => fetch(`${base}${p}`, init), token);
    rssTimer = setInterval(() => {
      for (const p of procs) {
        const b = p.child.pid ? rssBytes(p.child.pid) : undefined;
        if (b !== undefined) p.rss.push(b);
      }
    }, 1000);
    const unevaluated = async () =>
      (await sql`select count(*)::int as n from event_batches where evaluated_at is null`)[0]!.n as number;
    /**
     * Every process's CPU so far, µs: the machine's, Postgres's, Redis's, each touchpoint process's,
     * and this one's (since `from`'s reading, when given, as `process.cpuUsage` counts).
     */
    const cpuNow = async (from?: { bench: NodeJS.CpuUsage }) => ({
      machine: machineCpuUs(),
      postgres: postgresCpuUs(postmaster),
      postgresByProcess:
        postmaster === undefined
          ? undefined
          : postgresCpuByProcess(
              postmaster,
              procs.map((p) => ({ pid: p.child.pid!, name: p.role === "api" ? "the API" : "the workers" })),
            ),
      redis: await redisCpuUs(redis),
      procs: procs.map((p) => processCpuUs(p.child.pid!) ?? 0),
      bench: process.cpuUsage(from?.bench),
    });
    /** CPU the processes of one role took between two readings, µs. */
    const roleUs = (role: Proc["role"], a: { procs: number[] }, b: { procs: number[] }) =>
      procs.reduce((n, p, i) => n + (p.role === role ? (b.procs[i] ?? 0) - (a.procs[i] ?? 0) : 0), 0);
    const untilEvaluated = (what: string) =>
      // Once a second: the count is a query on Postgres, whose CPU the bench is measuring.
      poll(async () => ((await unevaluated()) === 0 ? true : undefined), 900_000, what, 1000);

    for (const id of ["bench-a", "bench-b", "bench-c"])
      await api("PUT", `/v1/advocates/${id}`, {
        name: id,
        team: "fraud",
        capacity: 1_000_000,
        status: "online",
      });
    // Warm-up: every process up, its code compiled, before the clock starts.
    const warm = generateStream({ seed: 99, customers: 300, impossibleShare: 0.05, prefix: "warm" });
    await seedCustomers(sql, warm.customers);
    for (let i = 0; i < warm.events.length; i += 200)
      await api("POST", "/v1/events", warm.events.slice(i, i + 200));
    await untilEvaluated("the warm-up");

    // 3a. Sustained. The customers are on file before the clock starts (setting up 100,000 people
    // is not what is measured); the same seeds then give the same streams, posted against the clock.
    const sustainedSlices = {
      customers: settings.customers,
      events: settings.events,
      prefix: "s",
      seed: 1,
      impossibleShare: settings.impossible,
    };
    for (const { stream } of slices(sustainedSlices)) await seedCustomers(sql, stream.customers);
    for (const p of procs) p.rss.length = 0;
    const signalAll = () => {
      for (const p of procs) p.child.kill("SIGUSR2");
    };
    signalAll();
    await new Promise((r) => setTimeout(r, 300));
    const fromLsn = statementsFor === true ? await startCounting(admin) : undefined;
    const cpu0 = await cpuNow();
    let posted = 0;
    let customersSeen = 0;
    const t0 = performance.now();
    const t0Epoch = Date.now();
    for (const { stream, events } of slices(sustainedSlices)) {
      customersSeen += stream.customers.length;
      const chunks: Array<typeof events> = [];
      for (let i = 0; i < events.length; i += settings.chunk)
        chunks.push(events.slice(i, i + settings.chunk));
      for (let i = 0; i < chunks.length; i += settings.parallel) {
        const answers = await Promise.all(
          chunks.slice(i, i + settings.parallel).map((c) => api("POST", "/v1/events", c)),
        );
        for (const a of answers) {
          if (a.status !== 202)
            throw new Error(`ingest answered ${a.status}: ${JSON.stringify(a.body).slice(0, 300)}`);
          posted += a.body.accepted as number;
        }
      }
    }
    const tPosted = performance.now();
    await untilEvaluated("the sustained run to be evaluated");
    // The end is when the last event was evaluated, as Postgres recorded it, not when the poll saw it.
    const [last] = await sql`select max(evaluated_at) as at from event_batches`;
    const tEvaluated = t0 + ((last!.at as Date).getTime() - t0Epoch);
    await poll(
      async () => {
        const [r] =
          await sql`select count(*)::int as n from decisions where case_id is null and mode = 'live'`;
        return r?.n === 0 ? true : undefined;
      },
      900_000,
      "every decision on a case",
      250,
    );
    const tCased = performance.now();
    const cpu1 = await cpuNow(cpu0);
    signalAll();
    // Read before the bench's own queries below add to them.
    const [batchCount] = await sql`
      select count(*)::int as n from event_batches where received_at >= ${new Date(t0Epoch)}`;
    let pgStatements: PostgresFigures | undefined;
    if (fromLsn !== undefined)
      pgStatements = await statementFigures(admin, sql, {
        database: dbName,
        fromLsn,
        events: posted,
        batches: batchCount!.n as number,
      });
    const sustainedSeconds = (tEvaluated - t0) / 1000;
    const [counts] = await sql`
      select (select count(*) from decisions)::int as decisions, (select count(*) from cases)::int as cases`;
    const sustained = {
      events: posted,
      customers: customersSeen,
      seconds: Math.round(sustainedSeconds * 10) / 10,
      ingestEventsPerSec: Math.round(posted / ((tPosted - t0) / 1000)),
      eventsPerSec: Math.round(posted / sustainedSeconds),
      casedSeconds: Math.round(((tCased - t0) / 1000) * 10) / 10,
      decisions: counts!.decisions as number,
      cases: counts!.cases as number,
    };
    say(
      `sustained: ${fmt(posted)} events of ${fmt(customersSeen)} customers in ${sustained.seconds} s: ${fmt(sustained.eventsPerSec)} events/s end to end (ingest took them at ${fmt(sustained.ingestEventsPerSec)}/s); every decision on a case after ${sustained.casedSeconds} s: ${fmt(sustained.decisions)} decisions, ${fmt(sustained.cases)} cases`,
    );
    // The cost of an event to every process that serves it, the load generator aside: a rate moves
    // with whatever else the cores do, the CPU an event takes much less.
    const usPerEvent = (us: number | undefined) =>
      us === undefined ? undefined : Math.round((us / Math.max(1, posted)) * 10) / 10;
    const nodeAllUs = procs.reduce((n, _, i) => n + (cpu1.procs[i] ?? 0) - (cpu0.procs[i] ?? 0), 0);
    const pgSplit =
      cpu0.postgresByProcess && cpu1.postgresByProcess
        ? postgresCpuSplit(cpu0.postgresByProcess, cpu1.postgresByProcess)
        : undefined;
    // Backends that serve neither the API nor the workers are not this run's: on a cluster other
    // runs share (the machine's), their tests' queries would otherwise count as touchpoint's.
    const pgOthersUs = pgSplit?.find((r) => r.what === OTHER_BACKENDS)?.us ?? 0;
    const pgAllUs =
      cpu0.postgres === undefined || cpu1.postgres === undefined
        ? undefined
        : cpu1.postgres - cpu0.postgres - pgOthersUs;
    const redisAllUs = cpu1.redis - cpu0.redis;
    const benchUs = cpu1.bench.user + cpu1.bench.system;
    const cpuParts = {
      node: usPerEvent(nodeAllUs)!,
      postgres: usPerEvent(pgAllUs),
      redis: usPerEvent(redisAllUs)!,
    };
    const cpuMicrosPerEvent = usPerEvent(nodeAllUs + (pgAllUs ?? 0) + redisAllUs)!;
    say(
      `CPU µs per event, all processes: ${cpuMicrosPerEvent} (Node ${cpuParts.node}, Postgres ${cpuParts.postgres ?? "n/a"}, Redis ${cpuParts.redis}) at ${fmt(sustained.eventsPerSec)} events/s end to end`,
    );
    // How busy the cores were, and with what else: CPU this run's processes did not take.
    const sustainedUs = (tCased - t0) * 1000;
    const machineBusy =
      cpu0.machine && cpu1.machine
        ? (cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.all - cpu0.machine.all)
        : undefined;
    const othersCores =
      cpu0.machine && cpu1.machine
        ? Math.max(
            0,
            (cpu1.machine.busy - cpu0.machine.busy - nodeAllUs - (pgAllUs ?? 0) - redisAllUs - benchUs) /
              sustainedUs,
          )
        : undefined;
    const sustainedMachine = {
      busyShare: machineBusy === undefined ? undefined : Math.round(machineBusy * 100) / 100,
      /** Cores' worth of CPU taken by processes not in this run (other work on the machine). */
      othersCores: othersCores === undefined ? undefined : Math.round(othersCores * 100) / 100,
      postgresScope:
        postmaster === undefined ? "every postgres process" : `cluster of postmaster ${postmaster}`,
    };
    say(
      `  meanwhile: the machine's cores ${machineBusy === undefined ? "?" : `${Math.round(machineBusy * 100)}%`} busy, ${othersCores === undefined ? "?" : othersCores.toFixed(2)} cores of it other work than this run's; Postgres counted: ${sustainedMachine.postgresScope}; Redis counted: its whole server (INFO)`,
    );
    const postgresByProcess = pgSplit
      ? Object.fromEntries(pgSplit.filter((r) => r.us > 0).map((r) => [r.what, usPerEvent(r.us)!]))
      : undefined;
    if (postgresByProcess)
      say(
        `  Postgres's CPU by process, µs an event: ${Object.entries(postgresByProcess)
          .map(([what, us]) => `${what} ${us}`)
          .join(
            ", ",
          )}${postgresByProcess[OTHER_BACKENDS] === undefined ? "" : ` (the ${OTHER_BACKENDS} are not in the line above)`}`,
      );
    if (pgStatements) for (const line of statementLines(pgStatements)) say(line);
    const rss = procs.map((p) => ({
      role: p.role,
      pid: p.child.pid,
      startMiB: mib(p.rss[0] ?? 0),
      maxMiB: mib(Math.max(0, ...p.rss)),
      endMiB: mib(p.rss[p.rss.length - 1] ?? 0),
      /** End minus a quarter of the way in: growth once warm. */
      growthMiB: mib((p.rss[p.rss.length - 1] ?? 0) - (p.rss[Math.floor(p.rss.length / 4)] ?? 0)),
    }));

    // Where the CPU went: the profiles each process wrote at the second signal.
    const profiles = await poll(
      async () => {
        const files = readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"));
        return files.length >= procs.length ? files : undefined;
      },
      60_000,
      "the CPU profiles",
    );
    // A sample's time delta is wall time: on two shared cores a process is often descheduled
    // mid-sample. So each process's stage shares are scaled to its CPU time from /proc.
    const procCpu = procs.map((p, i) => ({
      role: p.role,
      pid: p.child.pid,
      us: (cpu1.procs[i] ?? 0) - (cpu0.procs[i] ?? 0),
    }));
    let total: StageCpu | undefined;
    for (const f of profiles) {
      const pid = Number(/-(\d+)-\d+\.cpuprofile$/.exec(f)?.[1]);
      const cpu = procCpu.find((p) => p.pid === pid)?.us;
      const s = scaledTo(
        stagesOf(readProfile(join(profileDir, f)), f.startsWith("api-") ? "ingest" : undefined),
        cpu,
      );
      total = total ? addStages(total, s) : s;
    }
    // Written before the CPU profile by each process (engine/profiling.ts), so present by now.
    const heapProfiles = readdirSync(profileDir).filter((f) => f.endsWith(".heapprofile"));
    if (o.keepProfiles) {
      mkdirSync(o.keepProfiles, { recursive: true });
      for (const f of [...profiles, ...heapProfiles])
        copyFileSync(join(profileDir, f), join(o.keepProfiles, f));
      say(`CPU profiles kept in ${o.keepProfiles}`);
    }
    const perEvent = (us: number | undefined) =>
      us === undefined ? null : Math.round((us / posted) * 10) / 10;
    const stages: Record<string, number | null> = {};
    for (const s of STAGES) stages[s] = perEvent(total!.us[s]);
    const nodeUs = STAGES.reduce((n, s) => n + total!.us[s], 0);
    stages.node = perEvent(nodeUs);
    stages.postgres =
      cpu0.postgres === undefined || cpu1.postgres === undefined
        ? null
        : perEvent(cpu1.postgres - cpu0.postgres);
    stages.redis = perEvent(cpu1.redis - cpu0.redis);
    stages.loadGenerator = perEvent(cpu1.bench.user + cpu1.bench.system);
    const all =
      (stages.node ?? 0) + (stages.postgres ?? 0) + (stages.redis ?? 0) + (stages.loadGenerator ?? 0);
    stages.total = Math.round(all * 10) / 10;
    say(
      `CPU per event in the sustained run (µs; ${machine.cores} cores give ${fmt(machine.cores * 1e6)} µs a second):`,
    );
    const row = (name: string, v: number | null, note = "") =>
      say(`  ${name.padEnd(16)} ${v === null ? "      n/a" : v.toFixed(1).padStart(9)}  ${note}`);
    const notes: Partial<Record<Stage, string>> = {
      ingest: "API process: HTTP, JSON, validation, the events insert, the enqueue",
      state: "customer state in the partition owner's memory (and its loads)",
      facts: "facts from state: geo, speed, money, local time",
      rules: "the compiled ruleset and hit explanations",
      evaluate: "batch glue in engine/evaluate.ts",
      storage: "Postgres client and queries (decisions, evaluated marks, cases)",
      cases: "case opening, routing",
      outreach: "contact policy, templates, the Vonage SDK",
      queue: "BullMQ and ioredis outside the state script",
      gc: "garbage collection",
      other: "Node internals, sockets, timers",
    };
    for (const s of STAGES) if ((stages[s] ?? 0) >= 0.05) row(s, stages[s] ?? null, notes[s] ?? "");
    row("Node (sum)", stages.node, "every touchpoint process, from /proc, shared out by profile samples");
    row("Postgres", stages.postgres, "all its processes, from /proc");
    row("Redis", stages.redis, "INFO cpu");
    row("load generator", stages.loadGenerator, "this process: generating and posting");
    row(
      "total",
      stages.total,
      `→ at most ${fmt((machine.cores * 1e6) / Math.max(1, all))} events/s on ${machine.cores} cores`,
    );
    const allocations = heapProfiles.map((f) => ({
      role: f.split("-")[0],
      ...allocationsOf(join(profileDir, f), REPO),
    }));
    if (allocations.length > 0) {
      say(
        "allocated in the sustained run, bytes an event (V8's sampling heap profiler, garbage included; by the nearest function of ours on the stack):",
      );
      for (const a of allocations)
        say(
          `  ${a.role} ${fmt(a.bytes / posted)}: ${a.byFunction
            .slice(0, 8)
            .map((f) => `${f.at} ${fmt(f.bytes / posted)}`)
            .join(", ")}`,
        );
    }

    // Redis bytes per customer: every key of the customers' state, sized by MEMORY USAGE.
    let stateBytes = 0;
    const stateCustomers = new Set<string>();
    /** Bytes by kind of key (what follows the customer's hash tag): where the memory goes. */
    const byKind = new Map<string, number>();
    const scan = redis.scanStream({ match: `${prefix}:*:c:*`, count: 2000 });
    for await (const keys of scan as AsyncIterable<string[]>) {
      if (keys.length === 0) continue;
      const pipe = redis.pipeline();
      for (const k of keys) pipe.memory("USAGE", k);
      const sizes = (await pipe.exec()) ?? [];
      keys.forEach((k, i) => {
        const bytes = Number(sizes[i]?.[1] ?? 0);
        const kind = k.slice(k.indexOf("}:") + 2);
        stateBytes += bytes;
        byKind.set(kind, (byKind.get(kind) ?? 0) + bytes);
        stateCustomers.add(k.slice(k.indexOf("{") + 1, k.indexOf("}")));
      });
    }
    const redisBytesPerCustomer = Math.round(stateBytes / Math.max(1, stateCustomers.size));
    const redisBytesByKind = Object.fromEntries(
      [...byKind].map(([kind, bytes]) => [kind, Math.round(bytes / Math.max(1, stateCustomers.size))]),
    );
    const usedMemory = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? 0);
    say(
      `memory: ${
        stateCustomers.size > 0
          ? `Redis ${fmt(redisBytesPerCustomer)} bytes of state per customer (${Object.entries(
              redisBytesByKind,
            )
              .map(([k, b]) => `${k} ${fmt(b)}`)
              .join(", ")}; ${fmt(stateCustomers.size)} customers; `
          : "customer state in the workers' memory, none in Redis ("
      }Redis uses ${mib(usedMemory)} MiB in all); RSS ${rss.map((r) => `${r.role} ${r.startMiB} MiB at the start, ${r.maxMiB} at most, ${r.endMiB} at the end (${r.growthMiB >= 0 ? "+" : ""}${r.growthMiB} from a quarter in)`).join("; ")}`,
    );

    // 3b. Latency at a fixed offered load, after the sustained run's texts have gone out.
    let lastTexts = -1;
    await poll(
      async () => {
        const n = vonage.messages.length;
        const stable = n === lastTexts;
        lastTexts = n;
        return stable ? true : undefined;
      },
      120_000,
      "the sustained run's texts",
      2000,
    );
    const paced = generateStream({
      seed: 3,
      customers: Math.ceil((settings.rate * settings.seconds) / 6),
      impossibleShare: 0.05,
      prefix: "paced",
    });
    await seedCustomers(sql, paced.customers);
    const pacedEvents = shuffle(paced.events, 4).slice(0, settings.rate * settings.seconds);
    const textsBefore = vonage.messages.length;
    const tick = 50;
    const perTick = Math.max(1, Math.round((settings.rate * tick) / 1000));
    // What else the cores did meanwhile: a latency figure means little without how busy they were,
    // and Postgres's own upkeep (autovacuum after a million inserts, a checkpoint) shares them.
    const upkeep = async () => {
      const tables = new Map<string, number>();
      for (const r of await sql`
        select relname, (autovacuum_count + autoanalyze_count)::int as n from pg_stat_user_tables`)
        tables.set(r.relname as string, r.n as number);
      const [c] = await sql`select (checkpoints_timed + checkpoints_req)::int as n from pg_stat_bgwriter`;
      return { tables, checkpoints: c!.n as number };
    };
    const around0 = { ...(await cpuNow()), upkeep: await upkeep() };
    // A vacuum still running when the window ends is in no count: its progress is sampled instead.
    const vacuuming = new Set<string>();
    const watchVacuum = setInterval(() => {
      sql`select relid::regclass::text as rel from pg_stat_progress_vacuum where datname = current_database()`
        .then((rows) => {
          for (const r of rows) vacuuming.add(r.rel as string);
        })
        .catch(() => {});
    }, 500);
    watchVacuum.unref();
    const window = await watchWindow(sql);
    const p0 = performance.now();
    const posts: Promise<unknown>[] = [];
    for (let i = 0, k = 0; i < pacedEvents.length; i += perTick, k++) {
      const wait = p0 + k * tick - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      posts.push(api("POST", "/v1/events", pacedEvents.slice(i, i + perTick)));
    }
    await Promise.all(posts);
    const offered = Math.round(pacedEvents.length / ((performance.now() - p0) / 1000));
    await untilEvaluated("the paced run to be evaluated");
    const pacedUs = (performance.now() - p0) * 1000;
    clearInterval(watchVacuum);
    const postgresWindow = await window.stop();
    const around1 = { ...(await cpuNow(around0)), upkeep: await upkeep() };
    // Cores' worth of CPU each took while the paced events were posted and evaluated.
    const cores = (us: number | undefined) =>
      us === undefined ? undefined : Math.round((us / pacedUs) * 100) / 100;
    const during = {
      seconds: Math.round(pacedUs / 1e5) / 10,
      machineBusyShare:
        around0.machine && around1.machine
          ? Math.round(
              ((around1.machine.busy - around0.machine.busy) / (around1.machine.all - around0.machine.all)) *
                100,
            ) / 100
          : undefined,
      coresUsed: {
        api: cores(roleUs("api", around0, around1)),
        workers: cores(roleUs("workers", around0, around1)),
        postgres: cores(
          around0.postgres !== undefined && around1.postgres !== undefined
            ? around1.postgres - around0.postgres
            : undefined,
        ),
        redis: cores(around1.redis - around0.redis),
        generator: cores(around1.bench.user + around1.bench.system),
      },
      postgresUpkeep: {
        // Tables autovacuum worked on while it ran: seen vacuuming, or vacuumed or analysed since.
        autovacuumed: [
          ...new Set([
            ...vacuuming,
            ...[...around1.upkeep.tables]
              .filter(([t, n]) => n > (around0.upkeep.tables.get(t) ?? 0))
              .map(([t]) => t),
          ]),
        ].sort(),
        checkpoints: around1.upkeep.checkpoints - around0.upkeep.checkpoints,
      },
      postgres: postgresWindow,
    };
    const ids = pacedEvents.map((e) => e.id);
    const decision = histogram();
    /** The slowest decision of each second of the window, by when its event was received: one stall or a spread tail. */
    const slowestBySecond = new Map<number, number>();
    for (const r of await sql`
      select (extract(epoch from evaluated_at - received_at) * 1e6)::bigint as us,
        (extract(epoch from received_at) * 1e3)::float8 as at
      from event_status where id = any(${ids})`) {
      decision.recordValue(Math.max(1, Number(r.us)));
      const second = Math.floor((Number(r.at) - (p0 + performance.timeOrigin)) / 1000);
      slowestBySecond.set(second, Math.max(slowestBySecond.get(second) ?? 0, Number(r.us) / 1000));
    }
    // A text's latency: from the API receiving the event that set it off (the customer's latest
    // high-severity decision's event received before the text: high is texted at once, while an
    // earlier medium one may have waited for quiet hours) to Vonage receiving the text.
    const phoneOf = new Map(paced.customers.map((c) => [c.phone.replace(/^\+/, ""), c.id]));
    const decidedAt = new Map<string, number[]>();
    for (const r of await sql`
      select d.customer_id, d.event_received_at as received_at from decisions d
      where d.customer_id = any(${paced.customers.map((c) => c.id)}) and d.mode = 'live' and d.severity = 'high'`) {
      const list = decidedAt.get(r.customer_id as string) ?? [];
      list.push((r.received_at as Date).getTime());
      decidedAt.set(r.customer_id as string, list);
    }
    const expectedTexts = paced.impossible.size;
    await poll(
      async () => (vonage.messages.length - textsBefore >= expectedTexts ? true : undefined),
      60_000,
      "the paced run's texts",
    ).catch(() => undefined);
    const text = histogram();
    const texted = new Map<string, { from: number; at: number }>();
    for (const m of vonage.messages.slice(textsBefore)) {
      const customer = phoneOf.get(m.to.replace(/^\+/, ""));
      const before = (customer ? (decidedAt.get(customer) ?? []) : []).filter((t) => t <= m.at);
      const from = before.length > 0 ? Math.max(...before) : undefined;
      if (!customer || from === undefined || texted.has(customer)) continue;
      texted.set(customer, { from, at: m.at });
      text.recordValue(Math.max(1, (m.at - from) * 1000));
    }
    const hops = await textHops(sql, prefix, texted);
    const latency = {
      offeredEventsPerSec: offered,
      decision: summary(decision),
      text: summary(text),
      during,
    };
    say(
      `latency at ${fmt(offered)} events/s offered for ${settings.seconds} s: ingest→decision p50 ${latency.decision.p50Ms} ms, p99 ${latency.decision.p99Ms} ms, max ${latency.decision.maxMs} ms; ingest→text handed to Vonage p50 ${latency.text.p50Ms} ms, p99 ${latency.text.p99Ms} ms, max ${latency.text.maxMs} ms (${latency.text.count} texts)`,
    );
    say(
      `  ingest→text by hop, p50 / p99 ms: ${Object.entries(hops)
        .map(([hop, h]) => `${hop} ${summary(h).p50Ms} / ${summary(h).p99Ms}`)
        .join("; ")}`,
    );
    const used = Object.entries(during.coresUsed)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    say(
      `  meanwhile (${during.seconds} s): the machine's cores ${during.machineBusyShare === undefined ? "?" : `${Math.round(during.machineBusyShare * 100)}%`} busy; cores used: ${used}; Postgres upkeep: autovacuum on ${during.postgresUpkeep.autovacuumed.join(", ") || "no table"}, ${during.postgresUpkeep.checkpoints} checkpoint(s)`,
    );
    say(describeWindow(postgresWindow));
    const stalls = [...slowestBySecond].filter(([, ms]) => ms > 50).sort((a, b) => b[1] - a[1]);
    say(
      `  seconds of the window whose slowest decision took over 50 ms: ${stalls.length} of ${slowestBySecond.size}${
        stalls.length > 0
          ? `; the slowest: ${stalls
              .slice(0, 5)
              .map(([s, ms]) => `${Math.round(ms)} ms at ${s} s`)
              .join(", ")}`
          : ""
      }`,
    );

    // 3c. One customer's flood, others' traffic right behind it.
    let dense: object | undefined;
    if (settings.dense > 0) {
      await api("PUT", "/v1/customers/dense-1", { name: "Dense", phone: "+33600000001", homeCountry: "FR" });
      const d0 = Date.parse("2026-11-20T10:00:00Z");
      const denseEvents = Array.from({ length: settings.dense }, (_, i) => ({
        id: `dense-${i}`,
        type: "card.transaction",
        occurredAt: new Date(d0 + i).toISOString(),
        customerId: "dense-1",
        card: { id: "dense-card", last4: "0001" },
        amount: { value: 1, currency: "EUR" },
        merchant: { name: "Shop", city: "Paris", country: "FR", lat: 48.85, lon: 2.35 },
        channel: "card_present",
      }));
      const others = generateStream({ seed: 5, customers: 200, impossibleShare: 0.05, prefix: "beside" });
      await seedCustomers(sql, others.customers);
      const q0 = performance.now();
      for (let i = 0; i < denseEvents.length; i += settings.chunk)
        await api("POST", "/v1/events", denseEvents.slice(i, i + settings.chunk));
      for (let i = 0; i < others.events.length; i += 100)
        await api("POST", "/v1/events", others.events.slice(i, i + 100));
      await untilEvaluated("the flood");
      const h = histogram();
      for (const r of await sql`
        select (extract(epoch from evaluated_at - received_at) * 1e6)::bigint as us from event_status
        where id = any(${others.events.map((e) => e.id)})`)
        h.recordValue(Math.max(1, Number(r.us)));
      dense = {
        payments: settings.dense,
        seconds: Math.round((performance.now() - q0) / 100) / 10,
        others: summary(h),
      };
      const s = summary(h);
      say(
        `one customer's ${fmt(settings.dense)} payments 1 ms apart, done in ${(dense as { seconds: number }).seconds} s; the ${others.events.length} events of 200 others behind it: ingest→decision p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, max ${s.maxMs} ms`,
      );
    }

    const report = {
      machine,
      settings: { ...settings, nodeFlags },
      ruleStage: rules,
      stateStage: stateAlone,
      queueCeilingEventsPerSec: ceiling.eventsPerSec,
      queueCeiling: ceiling,
      endToEnd: {
        ...sustained,
        cpuMicrosPerEvent,
        cpuMicrosPerEventParts: cpuParts,
        ...(postgresByProcess ? { postgresCpuMicrosPerEventByProcess: postgresByProcess } : {}),
        sustainedMachine,
        offeredEventsPerSec: latency.offeredEventsPerSec,
        decisionP50Ms: latency.decision.p50Ms,
        decisionP99Ms: latency.decision.p99Ms,
        decisionMaxMs: latency.decision.maxMs,
        textP50Ms: latency.text.p50Ms,
        textP99Ms: latency.text.p99Ms,
        textMaxMs: latency.text.maxMs,
        texts: latency.text.count,
        latencyRun: during,
      },
      stages,
      ...(allocations.length > 0
        ? {
            allocatedBytesPerEvent: allocations.map((a) => ({
              role: a.role,
              bytes: Math.round(a.bytes / posted),
              byFunction: a.byFunction
                .slice(0, 20)
                .map((f) => ({ at: f.at, bytes: Math.round(f.bytes / posted) })),
            })),
          }
        : {}),
      processCpuUs: procCpu,
      redisBytesPerCustomer,
      redisBytesByKind,
      redisUsedMemoryBytes: usedMemory,
      rss,
      dense,
      ...(pgStatements ? { postgresStatements: pgStatements } : {}),
    };
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
      say(`figures written to ${o.json}`);
    }
  } finally {
    if (rssTimer) clearInterval(rssTimer);
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGTERM");
    await Promise.all(
      procs.map((p) =>
        p.child.exitCode === null && p.child.signalCode === null ? once(p.child, "exit") : undefined,
      ),
    );
    await vonage.close();
    await sql.end();
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      const stream = redis.scanStream({ match: pattern, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>)
        if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    if (o.keepDatabase) say(`database kept: ${dbName}`);
    else await admin`drop database if exists ${admin(dbName)} with (force)`;
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
