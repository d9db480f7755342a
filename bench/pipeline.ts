/**
 * `npm run bench`: the rule stage alone (compiled and json-rules-engine), then a seeded stream
 * through the whole pipeline (HTTP ingest in-process, BullMQ, Redis state, the compiled rules,
 * Postgres), printing throughput and latency.
 *
 *   BENCH_CUSTOMERS=2000 BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
 *   BENCH_DENSE=10000: one customer's payments 1 ms apart, with 200 others' traffic behind them (0 skips)
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import { loadConfig } from "../engine/config.ts";
import { createLogger } from "../engine/log.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { apiClient, eventually } from "../fixtures/stories.ts";
import { start } from "../main.ts";
import { ruleStage } from "./rules.ts";

const customers = Number(process.env.BENCH_CUSTOMERS ?? 2000);
const chunk = Number(process.env.BENCH_CHUNK ?? 1000);
const parallel = Number(process.env.BENCH_PARALLEL ?? 4);
const baseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? Number.NaN;

async function main() {
  // The rule stage alone first, on this one core, before anything else competes for it.
  const rules = await ruleStage();
  console.log(
    `rule stage (${rules.rules} shipped rules, one core): compiled ${rules.compiledEventsPerSec.toLocaleString("en")} events/s, ` +
      `json-rules-engine ${rules.referenceEventsPerSec.toLocaleString("en")} events/s (${rules.ratio}×)`,
  );
  const name = `tp_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(name)}`;
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-bench-"));
  const token = `bench-${randomBytes(12).toString("hex")}`;
  const prefix = `b${randomBytes(3).toString("hex")}`;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url.toString(),
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    ADMIN_TOKEN: token,
    SEED_FIXTURES: "0",
    LOG_LEVEL: "error",
    INGEST_MAX_BYTES: String(50 * 1024 * 1024),
  });
  const tp = await start(config, { listen: false, log: createLogger("error") });
  const api = apiClient((p, init) => tp.app!.request(p, init), token);
  try {
    await api("PUT", "/v1/advocates/bench-a", {
      name: "Bench A",
      team: "fraud",
      capacity: 100000,
      status: "online",
    });
    await api("PUT", "/v1/advocates/bench-b", {
      name: "Bench B",
      team: "fraud",
      capacity: 100000,
      status: "online",
    });
    const stream = generateStream({ seed: 1, customers, impossibleShare: 0.05, prefix: "bench" });
    for (const { id, ...c } of stream.customers) await api("PUT", `/v1/customers/${id}`, c);
    const events = shuffle(stream.events, 2);
    const chunks: unknown[][] = [];
    for (let i = 0; i < events.length; i += chunk) chunks.push(events.slice(i, i + chunk));

    const t0 = performance.now();
    for (let i = 0; i < chunks.length; i += parallel) {
      await Promise.all(chunks.slice(i, i + parallel).map((c) => api("POST", "/v1/events", c)));
    }
    const tIngest = performance.now();
    await eventually(
      async () => {
        const [r] = await tp.db.sql`select count(*)::int as n from events where evaluated_at is null`;
        return r?.n === 0 ? true : undefined;
      },
      600_000,
      "evaluation",
    );
    const tEval = performance.now();
    await eventually(
      async () => {
        const [r] = await tp.db.sql`select count(*)::int as n from decisions where case_id is null`;
        return r?.n === 0 ? true : undefined;
      },
      600_000,
      "cases",
    );
    const tCases = performance.now();
    const lat = (
      await tp.db
        .sql`select extract(epoch from evaluated_at - received_at) * 1000 as ms from events order by 1`
    ).map((r) => Number(r.ms));
    const [counts] = await tp.db.sql`
      select (select count(*) from decisions)::int as decisions, (select count(*) from cases)::int as cases`;
    const n = events.length;
    const s = (ms: number) => (ms / 1000).toFixed(2);
    console.log(
      `touchpoint bench: ${n} events, ${customers} customers, chunks of ${chunk} x${parallel} in parallel`,
    );
    console.log(
      `  database ${tp.db.kind}, worker concurrency ${config.WORKER_CONCURRENCY}, batch ${config.INGEST_BATCH_SIZE}`,
    );
    console.log(
      `  ingest (HTTP→Postgres→queue):   ${s(tIngest - t0)} s  ${Math.round(n / ((tIngest - t0) / 1000))} events/s`,
    );
    console.log(
      `  evaluated (all decisions):      ${s(tEval - t0)} s  ${Math.round(n / ((tEval - t0) / 1000))} events/s end to end`,
    );
    console.log(
      `  cases linked:                   ${s(tCases - t0)} s  ${counts?.decisions} decisions, ${counts?.cases} cases (${stream.impossible.size} impossible travellers)`,
    );
    console.log(
      `  ingest→decision latency ms:     p50 ${pct(lat, 50).toFixed(0)}  p95 ${pct(lat, 95).toFixed(0)}  p99 ${pct(lat, 99).toFixed(0)}  max ${lat[lat.length - 1]?.toFixed(0)}`,
    );

    // Phase 2: a steady stream well under capacity, for latency without a backlog.
    const rate = Number(process.env.BENCH_RATE ?? 1000);
    const seconds = Number(process.env.BENCH_SECONDS ?? 5);
    const paced = generateStream({
      seed: 3,
      customers: Math.ceil((rate * seconds) / 6),
      impossibleShare: 0.05,
      prefix: "paced",
    });
    for (const { id, ...c } of paced.customers) await api("PUT", `/v1/customers/${id}`, c);
    const pacedEvents = shuffle(paced.events, 4).slice(0, rate * seconds);
    const tick = 50;
    const perTick = Math.max(1, Math.round((rate * tick) / 1000));
    const p0 = performance.now();
    const posts: Promise<unknown>[] = [];
    for (let i = 0, k = 0; i < pacedEvents.length; i += perTick, k++) {
      const wait = p0 + k * tick - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      posts.push(api("POST", "/v1/events", pacedEvents.slice(i, i + perTick)));
    }
    await Promise.all(posts);
    await eventually(
      async () => {
        const [r] = await tp.db.sql`select count(*)::int as n from events where evaluated_at is null`;
        return r?.n === 0 ? true : undefined;
      },
      600_000,
      "paced evaluation",
    );
    const ids = pacedEvents.map((e) => e.id);
    const pl = (
      await tp.db.sql`
        select extract(epoch from evaluated_at - received_at) * 1000 as ms from events where id = any(${ids}) order by 1`
    ).map((r) => Number(r.ms));
    console.log(
      `  steady ${rate} events/s for ${seconds} s, ingest→decision ms: p50 ${pct(pl, 50).toFixed(0)}  p95 ${pct(pl, 95).toFixed(0)}  p99 ${pct(pl, 99).toFixed(0)}  max ${pl[pl.length - 1]?.toFixed(0)}`,
    );

    // Phase 3: one customer sends BENCH_DENSE payments 1 ms apart, and others' traffic follows
    // right behind it: their latency should stay near the steady figure (bounded work per event).
    const dense = Number(process.env.BENCH_DENSE ?? 10_000);
    if (dense > 0) {
      await api("PUT", "/v1/customers/dense-1", { name: "Dense", phone: "+33600000001", homeCountry: "FR" });
      const d0 = Date.parse("2026-11-20T10:00:00Z");
      const denseEvents = Array.from({ length: dense }, (_, i) => ({
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
      for (const { id, ...c } of others.customers) await api("PUT", `/v1/customers/${id}`, c);
      const q0 = performance.now();
      for (let i = 0; i < denseEvents.length; i += chunk)
        await api("POST", "/v1/events", denseEvents.slice(i, i + chunk));
      for (let i = 0; i < others.events.length; i += 100)
        await api("POST", "/v1/events", others.events.slice(i, i + 100));
      await eventually(
        async () => {
          const [r] = await tp.db.sql`select count(*)::int as n from events where evaluated_at is null`;
          return r?.n === 0 ? true : undefined;
        },
        600_000,
        "dense evaluation",
      );
      const ol = (
        await tp.db.sql`
          select extract(epoch from evaluated_at - received_at) * 1000 as ms from events
          where id = any(${others.events.map((e) => e.id)}) order by 1`
      ).map((r) => Number(r.ms));
      console.log(
        `  one customer with ${dense} payments 1 ms apart, all done in ${s(performance.now() - q0)} s; the ${others.events.length} events of 200 others posted behind it, ingest→decision ms: p50 ${pct(ol, 50).toFixed(0)}  p99 ${pct(ol, 99).toFixed(0)}  max ${ol[ol.length - 1]?.toFixed(0)}`,
      );
    }
  } finally {
    await tp.close();
    const redis = new Redis(config.REDIS_URL);
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      const stream = redis.scanStream({ match: pattern, count: 1000 });
      for await (const keys of stream)
        if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
    await redis.quit();
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
