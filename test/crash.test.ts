import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signVonageWebhook } from "../engine/outreach/signature.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { eventually, loadPeopleVia, loadStory, openCaseWith } from "../fixtures/stories.ts";
import { partitionKeys } from "../workers/partitions.ts";
import { type FakeVonage, startFakeVonage } from "./support/fake-vonage.ts";
import {
  createDatabase,
  startTestTouchpoint,
  TEST_REDIS_URL,
  type TestTouchpoint,
} from "./support/harness.ts";

/** A separate worker process (ROLE=workers) on the same Postgres and Redis, optionally armed to die. */
function spawnWorker(
  databaseUrl: string,
  prefix: string,
  fault?: string,
  extraEnv: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: new URL("..", import.meta.url).pathname,
    env: {
      PATH: process.env.PATH,
      ROLE: "workers",
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      SEED_FIXTURES: "0",
      LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? "warn",
      WORKER_CONCURRENCY: "2",
      WORKER_LOCK_MS: "1500",
      ...(fault ? { TOUCHPOINT_FAULT: fault } : {}),
      ...extraEnv,
    },
    stdio: ["ignore", process.env.CHILD_LOG_LEVEL ? "inherit" : "ignore", "inherit"],
  });
}

describe("a worker killed mid-batch", () => {
  let t: TestTouchpoint;
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const database = await createDatabase();
    // This process only serves the API; the workers are the children below.
    t = await startTestTouchpoint({ database, prefix, env: { ROLE: "api", INGEST_BATCH_SIZE: "40" } });
    await loadPeopleVia(t.api);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await t?.close();
  });

  it("loses nothing and repeats nothing when the retry runs after crashes at each step", async () => {
    const stream = generateStream({ seed: 9, customers: 60, impossibleShare: 0.3, prefix: "crash" });
    for (const { id, ...c } of stream.customers) await t.api("PUT", `/v1/customers/${id}`, c);
    const posted = await t.api("POST", "/v1/events", shuffle(stream.events, 3));
    expect(posted.body.accepted).toBe(stream.events.length);

    // Each armed worker dies (SIGKILL) the first time it reaches its point; the next one inherits the stalled job.
    for (const fault of ["evaluate.after-state", "evaluate.after-decisions", "cases.after-commit"]) {
      const child = spawnWorker(t.databaseUrl!, prefix, fault);
      children.push(child);
      const [, signal] = await once(child, "exit");
      expect(signal).toBe("SIGKILL");
    }
    const survivor = spawnWorker(t.databaseUrl!, prefix);
    children.push(survivor);
    await t.drained(90_000);
    // `drained` sees empty queues; also wait for every decision to reach a case. A decision whose
    // cases job died with its worker is re-driven by the reconciler, after a 30 s grace.
    await eventually(
      async () => {
        const [r] = await t.tp.db.sql`select count(*)::int as n from decisions where case_id is null`;
        return r?.n === 0 ? true : undefined;
      },
      90_000,
      "every decision on a case",
    );

    const sql = t.tp.db.sql;
    const [events] =
      await sql`select count(*)::int as n, count(evaluated_at)::int as evaluated from event_status`;
    expect(events).toEqual({ n: stream.events.length, evaluated: stream.events.length });
    const cases = await sql`select customer_id, count(*)::int as n from cases group by customer_id`;
    expect(new Set(cases.map((c) => c.customer_id))).toEqual(stream.impossible);
    expect(cases.every((c) => c.n === 1)).toBe(true);
    const [dupes] = await sql`
      select count(*)::int as n from (select case_id, kind, detail from case_timeline
        where kind in ('case.opened', 'case.assigned', 'evidence.added') group by case_id, kind, detail having count(*) > 1) d`;
    expect(dupes?.n).toBe(0);
    const [evidence] = await sql`
      select (select count(*) from decisions)::int as decisions,
             (select count(*) from case_timeline where kind = 'evidence.added')::int as evidence,
             (select count(*) from case_timeline where kind = 'case.opened')::int as opened`;
    expect(evidence?.evidence).toBe(evidence?.decisions);
    // A retried batch stores no decision twice. (Which payment of a pair carries the hit depends on
    // the order they were evaluated in, a retry included, so the check is per customer and rule.)
    const [twice] = await sql`
      select count(*)::int as n from (select event_id, rule from decisions group by 1, 2 having count(*) > 1) d`;
    expect(twice?.n).toBe(0);
    const hits = await sql`select distinct customer_id, rule from decisions`;
    expect(new Set(hits.map((h) => h.customer_id))).toEqual(stream.impossible);
    expect(
      new Set(hits.filter((h) => h.rule === "impossible-location-spend").map((h) => h.customer_id)),
    ).toEqual(stream.impossible);
    expect(evidence?.opened).toBe(stream.impossible.size);
    // And every case reached the customer (the outbox here): a crash right after the case's
    // transaction committed must not lose the check that the dead attempt was about to queue.
    await eventually(
      async () => {
        const [r] = await sql`
        select count(*)::int as n from cases c
        where not exists (select 1 from messages m where m.case_id = c.id and m.kind = 'fraud_check')`;
        return r?.n === 0 ? true : undefined;
      },
      30_000,
      "a check text for every case",
    );

    survivor.kill("SIGTERM");
    const [code] = await once(survivor, "exit");
    expect(code).toBe(0);
  }, 240_000);
});

describe("a worker killed between Vonage accepting a text and recording it", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const children: ChildProcess[] = [];
  const secret = "crash-test-signature-secret-0001";

  beforeAll(async () => {
    fake = await startFakeVonage();
    const database = await createDatabase();
    t = await startTestTouchpoint({
      database,
      prefix,
      env: { ROLE: "api", VONAGE_SIGNATURE_SECRET: secret },
    });
    await loadPeopleVia(t.api);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await t?.close();
    await fake?.close();
  });

  it("does not text the customer a second time on retry, and settles the text from Vonage's receipt", async () => {
    const vonage = {
      VONAGE_API_KEY: "k",
      VONAGE_API_SECRET: "s",
      VONAGE_API_HOST: fake.url,
      VONAGE_REST_HOST: fake.url,
    };
    await t.api("PUT", "/v1/customers/crash-sms", {
      name: "Crash Test",
      phone: "+33612349999",
      homeCountry: "FR",
    });
    const place = (city: string, country: string, lat: number, lon: number) => ({
      name: "Shop",
      city,
      country,
      lat,
      lon,
    });
    const pay = (id: string, at: string, merchant: ReturnType<typeof place>) => ({
      id,
      type: "card.transaction",
      occurredAt: at,
      customerId: "crash-sms",
      card: { id: "c-1", last4: "9999" },
      amount: { value: 80, currency: "EUR" },
      merchant,
      channel: "card_present",
    });
    await t.api("POST", "/v1/events", [
      pay("cs-1", "2026-11-22T09:10:00Z", place("Paris", "FR", 48.8566, 2.3522)),
      pay("cs-2", "2026-11-22T10:40:00Z", place("Phnom Penh", "KH", 11.5564, 104.9282)),
    ]);
    const armed = spawnWorker(t.databaseUrl!, prefix, "outreach.after-send", vonage);
    children.push(armed);
    const [, signal] = await once(armed, "exit");
    expect(signal).toBe("SIGKILL");
    expect(fake.messages.filter((m) => m.to === "33612349999")).toHaveLength(1);

    const survivor = spawnWorker(t.databaseUrl!, prefix, undefined, vonage);
    children.push(survivor);
    const list = await t.api("GET", "/v1/cases?customerId=crash-sms");
    const kase = list.body.items[0];
    expect(kase, JSON.stringify(list.body)).toBeDefined();
    await eventually(
      async () => {
        const r = await t.api("GET", `/v1/cases/${kase.id}`);
        if (r.status !== 200) throw new Error(`GET case: ${r.status} ${JSON.stringify(r.body)}`);
        const c = r.body;
        return c.timeline.some(
          (s: { kind: string; detail: { status?: string } }) =>
            s.kind === "message.status" && s.detail.status === "unknown",
        )
          ? true
          : undefined;
      },
      30_000,
      "the retried job to find the text in flight",
    );
    await t.drained();
    expect(fake.messages.filter((m) => m.to === "33612349999")).toHaveLength(1);
    const [row] = await t.tp.db.sql`select status, provider_id from messages where customer_id = 'crash-sms'`;
    expect(row).toEqual({ status: "sending", provider_id: null });

    // Vonage's receipt carries our client_ref: it tells us the text did go, and which one it was.
    const sent = fake.messages.find((m) => m.to === "33612349999")!;
    const raw = JSON.stringify({
      message_uuid: sent.messageUuid,
      status: "delivered",
      timestamp: new Date().toISOString(),
      client_ref: sent.clientRef,
      channel: "sms",
    });
    const res = await t.tp.app!.request("/webhooks/vonage/status", {
      method: "POST",
      headers: { authorization: await signVonageWebhook({ rawBody: raw, secret, now: new Date() }) },
      body: raw,
    });
    expect(res.status).toBe(200);
    await eventually(
      async () => {
        const [r] = await t.tp.db
          .sql`select status, provider_id from messages where customer_id = 'crash-sms'`;
        return r?.status === "delivered" && r.provider_id === sent.messageUuid ? true : undefined;
      },
      30_000,
      "the receipt to settle the text",
    );
    // Now that the text is known to be out, the wait for the customer's reply starts.
    // (queued by the worker right after it records the receipt, so wait for it)
    await eventually(
      async () => t.tp.queues.outreach.getJob(`noreply-${kase.id}-1`),
      30_000,
      "the reply wait",
    );
    survivor.kill("SIGTERM");
    await once(survivor, "exit");
  });
});

describe("recording a text Vonage accepted fails", () => {
  it("leaves it in flight, never failed nor resent, when Postgres fails right after Vonage took it", async () => {
    const fake = await startFakeVonage();
    let failed = false;
    const t = await startTestTouchpoint({
      env: {
        VONAGE_API_KEY: "k",
        VONAGE_API_SECRET: "s",
        VONAGE_API_HOST: fake.url,
        VONAGE_REST_HOST: fake.url,
      },
      fault: (at) => {
        if (at !== "outreach.after-send" || failed) return;
        failed = true;
        throw new Error("Connection terminated unexpectedly");
      },
    });
    try {
      await loadPeopleVia(t.api);
      await t.api("POST", "/v1/events", loadStory("phnom-penh-paris").steps[0]!.events);
      const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
      await eventually(
        async () => {
          const [r] = await t.tp.db.sql`
            select count(*)::int as n from case_timeline
            where case_id = ${kase.id} and kind = 'message.status' and detail->>'status' = 'unknown'`;
          return r?.n === 1 ? true : undefined;
        },
        30_000,
        "the retry to find the text in flight",
      );
      await t.drained();
      expect(failed).toBe(true);
      expect(fake.messages.filter((m) => m.text.includes("Reply YES or NO"))).toHaveLength(1);
      const [row] = await t.tp.db
        .sql`select status from messages where case_id = ${kase.id} and kind = 'fraud_check'`;
      expect(row?.status).toBe("sending");
      const [tasks] = await t.tp.db.sql`
        select count(*)::int as n from case_timeline where case_id = ${kase.id} and kind in ('message.failed', 'task.call_customer')`;
      expect(tasks?.n).toBe(0);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});

describe("Redis forgetting its queues", () => {
  it("re-queues accepted events that were never evaluated, once no partition has entries waiting", async () => {
    const database = await createDatabase();
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const api = await startTestTouchpoint({ database, prefix, env: { ROLE: "api" } });
    let workers: Awaited<ReturnType<typeof startTestTouchpoint>> | undefined;
    try {
      await loadPeopleVia(api.api);
      const story = loadStory("phnom-penh-paris");
      expect((await api.api("POST", "/v1/events", story.steps[0]!.events)).body.accepted).toBe(5);
      // As if Redis restarted without persistence: the stream entries are gone, the events are in Postgres.
      for (let p = 0; p < api.tp.partitions; p++) {
        const keys = partitionKeys(api.tp.keyPrefix, p);
        await api.tp.redis.del(keys.batches, keys.heavy);
      }
      workers = await startTestTouchpoint({
        database: { url: database.url, drop: async () => {} },
        prefix,
        env: { ROLE: "workers", SWEEP_AFTER_MS: "0", SWEEP_EVERY_MS: "300" },
      });
      const kase = await openCaseWith(api.api, "cus-42", ["impossible-location-spend"]);
      expect(kase.advocate.name).toBe("Amara Okafor");
      const [left] = await api.tp.db
        .sql`select count(*)::int as n from event_status where evaluated_at is null`;
      expect(left?.n).toBe(0);
    } finally {
      await workers?.close();
      await api.close();
    }
  });
});
