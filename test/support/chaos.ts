/**
 * The chaos run: a seeded stream posted to a touchpoint of separate processes (one API, several
 * workers) on a Postgres and a Redis of its own, while workers are killed with SIGKILL every few
 * seconds, Redis restarts (once keeping its data, once empty) and Postgres restarts. Then it
 * checks, from Postgres and from what reached (fake) Vonage, that nothing was lost and nothing
 * done twice, and measures how long recovery took. `npm run chaos` runs it full size; a test runs
 * it small.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { redisAnswers } from "../../engine/store/redis.ts";
import { generateStream, seededRandom, shuffle } from "../../fixtures/generator.ts";
import { apiClient, loadPeopleVia } from "../../fixtures/stories.ts";
import { type FakeVonage, startFakeVonage } from "./fake-vonage.ts";
import { freePort, spawnTouchpoint, untilListening } from "./processes.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "./throwaway-postgres.ts";

export interface ChaosOptions {
  seed: number;
  customers: number;
  /** Events per POST. */
  chunk: number;
  workers: number;
  /** A worker is killed (SIGKILL) this often, ms. */
  killEveryMs: number;
  /** How long Postgres stays down at its restart, ms. */
  postgresDownMs: number;
  /** Progress lines go here (stderr by default). */
  say?: (line: string) => void;
  /** How long to wait for recovery after the stream, ms. */
  recoveryTimeoutMs?: number;
}

export interface ChaosReport {
  events: number;
  accepted: number;
  duplicatesReported: number;
  refused: number;
  kills: number;
  /** Workers stopped (SIGSTOP) past their partitions' leases mid-stream, then woken (SIGCONT). */
  stalls: number;
  redisRestarts: { keep: number; empty: number };
  postgresRestarts: number;
  /** From the last disruption (or the stream's end) until every check below held, seconds. */
  recoverySeconds: number;
  /**
   * For each restart: from its end until everything accepted before then was evaluated and on a
   * case, seconds. The next disruption waits for this, so each is timed on its own (the kills go on).
   */
  recoveries: Record<string, number>;
  /** Checks: each must be 0. */
  lost: {
    eventsNotStored: number;
    eventsNotEvaluated: number;
    decisionsNotOnACase: number;
    casesMissing: number;
    /** Impossible travellers the impossible-travel rule itself never decided on (a case may open by another rule). */
    travellersMissed: number;
    casesWithoutText: number;
    owedJobsPastDue: number;
  };
  duplicated: {
    casesBeyondOnePerCustomer: number;
    unexpectedCases: number;
    textsBeyondOnePerCase: number;
    timelineEntries: number;
  };
  cases: number;
  texts: number;
  /** Checks in flight when their worker was killed: not resent by design (see `measure`). */
  textsUncertain: number;
  /** When a case has no text: its message row and owed check, to tell why. */
  untexted?: unknown;
}

/**
 * Effects that happen once per case and detail. (`contact.decided` may rightly appear twice alike:
 * a case opened at medium and escalated to high is decided on at each step, and texted once.)
 */
export const ONCE_PER_CASE = [
  "case.opened",
  "evidence.added",
  "case.assigned",
  "message.sent",
  "reply.received",
  "action.card_block",
  "action.account_lock",
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A redis-server of the run's own (append-only, so a restart can keep its data). */
export async function startRedis(dir: string) {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const answers = () => redisAnswers(url);
  const start = async () => {
    mkdirSync(dir, { recursive: true });
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 100 && !(await answers()); i++) await sleep(50);
  };
  const stop = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, "exit");
    c.kill(signal);
    await exited;
  };
  await start();
  return {
    url,
    answers,
    /** Restart keeping what it had (a clean shutdown flushes the append-only file). */
    async restartKeeping(downMs: number) {
      await stop("SIGTERM");
      await sleep(downMs);
      await start();
    },
    /** Restart with nothing: as a server without persistence, or a failover to an empty replica. */
    async restartEmpty(downMs: number) {
      await stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      await sleep(downMs);
      await start();
    },
    stop: () => stop("SIGKILL"),
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.say ?? ((line: string) => process.stderr.write(`chaos: ${line}\n`));
  if (spawnSync("redis-server", ["--version"]).status !== 0) throw new Error("redis-server is not installed");
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-chaos-"));
  let pg: ThrowawayPostgres | undefined;
  let fake: FakeVonage | undefined;
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  const children = new Set<ChildProcess>();
  try {
    pg = await startThrowawayPostgres();
    redis = await startRedis(join(dir, "redis"));
    fake = await startFakeVonage();
    const token = `chaos-admin-${randomBytes(12).toString("hex")}`;
    const apiPort = await freePort();
    const base = `http://127.0.0.1:${apiPort}`;
    const env = (role: string): Record<string, string> => ({
      ROLE: role,
      PORT: String(apiPort),
      DATABASE_URL: pg!.url,
      REDIS_URL: redis!.url,
      REDIS_PREFIX: "chaos",
      DATA_DIR: join(dir, `data-${role}`),
      ADMIN_TOKEN: token,
      SEED_FIXTURES: "0",
      LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? "error",
      WORKER_CONCURRENCY: "4",
      WORKER_LOCK_MS: "2000",
      // Partitions of a worker killed or stalled move within 2 s.
      PARTITION_LEASE_MS: "2000",
      SWEEP_AFTER_MS: "5000",
      SWEEP_EVERY_MS: "1000",
      INGEST_BATCH_SIZE: "25",
      VONAGE_API_KEY: "k",
      VONAGE_API_SECRET: "s",
      VONAGE_API_HOST: fake!.url,
      VONAGE_REST_HOST: fake!.url,
    });
    const spawnRole = (role: "api" | "workers") => {
      const { child } = spawnTouchpoint(env(role));
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    };

    const api = spawnRole("api");
    const client = apiClient((path, init) => fetch(base + path, init), token);
    await untilListening(base);
    const workers: ChildProcess[] = [];
    for (let i = 0; i < o.workers; i++) workers.push(spawnRole("workers"));
    await loadPeopleVia(client);
    const stream = generateStream({
      seed: o.seed,
      customers: o.customers,
      impossibleShare: 0.3,
      prefix: "chaos",
    });
    for (const { id, ...c } of stream.customers) {
      const r = await client("PUT", `/v1/customers/${id}`, c);
      if (r.status !== 200) throw new Error(`customer ${id}: ${r.status}`);
    }
    const events = shuffle(stream.events, o.seed);
    const chunks: (typeof events)[] = [];
    for (let i = 0; i < events.length; i += o.chunk) chunks.push(events.slice(i, i + o.chunk));
    say(
      `${events.length} events for ${stream.customers.length} customers (${stream.impossible.size} impossible journeys), ${chunks.length} posts, ${o.workers} workers`,
    );

    // The client: a card switch that resends a refused chunk until it is taken.
    let accepted = 0;
    let duplicatesReported = 0;
    let refused = 0;
    let posted = 0;
    const poster = (async () => {
      for (const chunk of chunks) {
        for (;;) {
          const res = await fetch(`${base}/v1/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify(chunk),
          }).catch(() => undefined);
          if (res?.status === 202) {
            const body = (await res.json()) as { accepted: number; duplicates: number };
            accepted += body.accepted;
            duplicatesReported += body.duplicates;
            break;
          }
          refused++;
          await res?.body?.cancel();
          await sleep(250);
        }
        posted++;
        await sleep(50);
      }
    })();

    // The chaos: kills on a timer; Redis and Postgres restarts at set points of the stream.
    const rnd = seededRandom(o.seed + 1);
    let kills = 0;
    let stalls = 0;
    const restarts = { keep: 0, empty: 0, postgres: 0 };
    let lastDisruption = Date.now();
    let streaming = true;
    const killer = (async () => {
      while (streaming) {
        await sleep(o.killEveryMs);
        if (!streaming) break;
        const i = Math.floor(rnd() * workers.length);
        const victim = workers[i]!;
        if (victim.exitCode === null && victim.signalCode === null && (kills + stalls) % 3 === 2) {
          // Every third disruption a stall, not a death: the worker stops past its leases (others
          // take its partitions), then wakes and must find its writes refused, its work done.
          victim.kill("SIGSTOP");
          await sleep(3000);
          victim.kill("SIGCONT");
          stalls++;
          lastDisruption = Date.now();
          continue;
        }
        if (victim.exitCode === null && victim.signalCode === null) {
          victim.kill("SIGKILL");
          await once(victim, "exit");
          kills++;
          lastDisruption = Date.now();
        }
        // A new worker starts only once Redis answers (it would otherwise start a Redis of its own).
        while (!(await redis!.answers())) await sleep(100);
        workers[i] = spawnRole("workers");
      }
    })();
    const milestones: Array<{ at: number; what: () => Promise<void>; name: string }> = [
      { at: 0.25, name: "Redis restarts keeping its data", what: () => redis!.restartKeeping(1000) },
      {
        at: 0.5,
        name: `Postgres stops for ${o.postgresDownMs} ms`,
        what: async () => {
          await pg!.stop("fast");
          await sleep(o.postgresDownMs);
          await pg!.start();
        },
      },
      { at: 0.75, name: "Redis restarts empty", what: () => redis!.restartEmpty(1000) },
    ];
    // How long after each disruption every event accepted before its end was evaluated and on a case.
    const recoveries: Record<string, number> = {};
    const watchers: Promise<void>[] = [];
    const watch = (name: string, since: Date) =>
      (async () => {
        const sql = postgres(pg!.url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
        try {
          for (const deadline = Date.now() + (o.recoveryTimeoutMs ?? 180_000); Date.now() < deadline; ) {
            const [r] = await sql`
              select (select count(*) from event_status where evaluated_at is null and received_at <= ${since})::int
                   + (select count(*) from decisions d
                      where d.case_id is null and d.event_received_at <= ${since})::int as left`.catch(() => [
              undefined,
            ]);
            if (r?.left === 0) {
              recoveries[name] = (Date.now() - since.getTime()) / 1000;
              return;
            }
            await sleep(100);
          }
        } finally {
          await sql.end();
        }
      })();
    for (const m of milestones) {
      while (posted < Math.floor(chunks.length * m.at)) await sleep(50);
      // One disruption at a time: each recovery is timed on its own, not through the next one
      // (a short stream otherwise puts all three within seconds and times them together).
      // At most a minute: a recovery that takes longer is left to its watcher (and missing from
      // `recoveries`), so the run still ends within its time.
      await Promise.race([watchers.at(-1), sleep(60_000)]);
      say(`${m.name} (after ${posted} of ${chunks.length} posts)`);
      await m.what();
      watchers.push(watch(m.name, new Date()));
      lastDisruption = Date.now();
      if (m.name.startsWith("Redis restarts keeping")) restarts.keep++;
      else if (m.name.startsWith("Redis restarts empty")) restarts.empty++;
      else restarts.postgres++;
    }
    await poster;
    streaming = false;
    await killer;
    await Promise.all(watchers);
    const streamEnded = Date.now();
    say(
      `stream done: ${accepted} accepted, ${refused} refused and resent, ${kills} workers killed, ${stalls} stalled past their leases; waiting for recovery`,
    );

    // Recovery: every check below holds.
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const phones = new Map(stream.customers.map((c) => [c.phone.replace("+", ""), c.id]));
      const measure = async () => {
        const [r] = await sql`
          select
            (select count(*) from events)::int as stored,
            (select count(*) from event_status where evaluated_at is null)::int as not_evaluated,
            (select count(*) from decisions where case_id is null)::int as unlinked,
            (select count(*) from owed_work where done_at is null and failed_at is null
               and due_at < now() - interval '30 seconds')::int as owed_past_due,
            (select count(*) from (select case_id, kind, detail from case_timeline
               where kind = any(${ONCE_PER_CASE})
               group by case_id, kind, detail having count(*) > 1) d)::int as timeline_dupes`;
        const cases = await sql`select id, customer_id from cases`;
        const travelled = new Set(
          (
            await sql`select distinct customer_id from decisions where rule = 'impossible-location-spend'`
          ).map((x) => x.customer_id as string),
        );
        const perCustomer = new Map<string, number>();
        for (const c of cases) perCustomer.set(c.customer_id, (perCustomer.get(c.customer_id) ?? 0) + 1);
        const texted = new Map<string, number>();
        for (const m of fake!.messages) {
          const who = phones.get(m.to);
          if (who && m.text.includes("Reply YES or NO")) texted.set(who, (texted.get(who) ?? 0) + 1);
        }
        // A check left in `sending` was in flight when its worker was killed: by design it is never
        // resent (the text may be out; a second one must not go), Vonage's receipt settles it or
        // the advocate gets a call task. Uncertain, not lost.
        const inFlight = new Set(
          (
            await sql`select distinct c.customer_id from cases c join messages m on m.case_id = c.id
              where m.kind = 'fraud_check' and m.status in ('sending', 'unknown')`
          ).map((x) => x.customer_id as string),
        );
        return {
          uncertain: [...stream.impossible].filter((id) => !texted.has(id) && inFlight.has(id)).length,
          stored: r!.stored as number,
          notEvaluated: r!.not_evaluated as number,
          unlinked: r!.unlinked as number,
          owedPastDue: r!.owed_past_due as number,
          timelineDupes: r!.timeline_dupes as number,
          cases: cases.length,
          casesMissing: [...stream.impossible].filter((id) => !perCustomer.has(id)).length,
          travellersMissed: [...stream.impossible].filter((id) => !travelled.has(id)).length,
          unexpectedCases: [...perCustomer.keys()].filter((id) => !stream.impossible.has(id)).length,
          beyondOne: [...perCustomer.values()].reduce((n, k) => n + Math.max(0, k - 1), 0),
          withoutText: [...stream.impossible].filter((id) => !texted.has(id) && !inFlight.has(id)).length,
          textsBeyondOne: [...texted.values()].reduce((n, k) => n + Math.max(0, k - 1), 0),
          texts: [...texted.values()].reduce((n, k) => n + k, 0),
        };
      };
      let last = await measure();
      let lastSaid = Date.now();
      const deadline = Date.now() + (o.recoveryTimeoutMs ?? 180_000);
      while (
        last.stored < events.length ||
        last.notEvaluated > 0 ||
        last.unlinked > 0 ||
        last.casesMissing > 0 ||
        last.travellersMissed > 0 ||
        last.withoutText > 0
      ) {
        if (Date.now() > deadline) {
          say(`not recovered in time: ${JSON.stringify(last)}`);
          break;
        }
        await sleep(250);
        last = await measure();
        if (Date.now() - lastSaid > 5000) {
          lastSaid = Date.now();
          const { stored, notEvaluated, unlinked, casesMissing, withoutText } = last;
          say(`recovering: ${JSON.stringify({ stored, notEvaluated, unlinked, casesMissing, withoutText })}`);
        }
      }
      const recoveredAt = Date.now();
      // Let anything still in flight land, so a late duplicate would be seen.
      await sleep(3000);
      last = await measure();
      let untextedDetail: unknown;
      const repeated = await sql`
        select kind, detail, count(*)::int as n from case_timeline where kind = any(${ONCE_PER_CASE})
        group by case_id, kind, detail having count(*) > 1 limit 5`;
      if (repeated.length > 0) say(`timeline entries written twice: ${JSON.stringify(repeated)}`);
      if (last.withoutText > 0) {
        const untexted = await sql`
          select c.customer_id, m.status, m.error, m.attempts,
            (select json_agg(o.key || ':' || coalesce(o.done_at::text, 'open')) from owed_work o
              where o.key like 'check-' || replace(c.id, ':', '_') || '%') as owed
          from cases c left join messages m on m.case_id = c.id and m.kind = 'fraud_check'
          where not exists (select 1 from messages x where x.case_id = c.id and x.status in ('submitted', 'delivered'))`;
        say(`cases without a text at Vonage: ${JSON.stringify(untexted)}`);
        untextedDetail = untexted;
      }
      const report: ChaosReport = {
        ...(untextedDetail ? { untexted: untextedDetail } : {}),
        events: events.length,
        accepted,
        duplicatesReported,
        refused,
        kills,
        stalls,
        redisRestarts: { keep: restarts.keep, empty: restarts.empty },
        postgresRestarts: restarts.postgres,
        recoverySeconds: Math.max(0, recoveredAt - Math.max(lastDisruption, streamEnded)) / 1000,
        recoveries,
        lost: {
          eventsNotStored: events.length - last.stored,
          eventsNotEvaluated: last.notEvaluated,
          decisionsNotOnACase: last.unlinked,
          casesMissing: last.casesMissing,
          travellersMissed: last.travellersMissed,
          casesWithoutText: last.withoutText,
          owedJobsPastDue: last.owedPastDue,
        },
        duplicated: {
          casesBeyondOnePerCustomer: last.beyondOne,
          unexpectedCases: last.unexpectedCases,
          textsBeyondOnePerCase: last.textsBeyondOne,
          timelineEntries: last.timelineDupes,
        },
        cases: last.cases,
        texts: last.texts,
        textsUncertain: last.uncertain,
      };
      api.kill("SIGTERM");
      return report;
    } finally {
      await sql.end();
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await fake?.close();
    await redis?.stop();
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
