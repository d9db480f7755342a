/**
 * Redis forgets (a restart without persistence, a failover to an empty replica): Postgres is the
 * record, and what it says is owed is done anyway, once.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnrecoverableError, Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../engine/log.ts";
import { partitionOwners } from "../engine/store/partitions.ts";
import { oldestPending } from "../engine/store/work.ts";
import { eventually, loadPeopleVia, loadStory, openCaseWith } from "../fixtures/stories.ts";
import { bullPrefix, owe } from "../workers/queues.ts";
import {
  createDatabase,
  deleteKeys,
  startTestTouchpoint,
  TEST_REDIS_URL,
  type TestTouchpoint,
} from "./support/harness.ts";
import { PARIS, PHNOM_PENH, tx } from "./support/payments.ts";
import { running, spawnWorkers, type TouchpointProcess } from "./support/processes.ts";

const story = loadStory("phnom-penh-paris");
const [notice, phnomPenh1, login, phnomPenh2, paris] = story.steps[0]!.events as Array<{ id: string }>;

/** Everything this deployment had in Redis is gone: queues, delayed jobs, per-customer state. */
async function redisForgets(t: TestTouchpoint) {
  await deleteKeys(t.prefix);
}

/** Resolves once the case's check text is out (to the outbox, these tests having no Vonage), once. */
async function checkTextSent(t: TestTouchpoint, caseId: string) {
  await eventually(
    async () => {
      const rows = await t.tp.db.sql`
        select status from messages where case_id = ${caseId} and kind = 'fraud_check'`;
      return rows.length === 1 && rows[0]!.status === "not_sent" ? true : undefined;
    },
    30_000,
    "the check text",
  );
}

describe("when Redis forgets everything", () => {
  let t: TestTouchpoint | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("evaluates the events it had accepted and texts the case they open, without a restart", async () => {
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "300" } });
    await loadPeopleVia(t.api);
    for (const w of t.tp.pool!.workers) await w.pause();
    t.tp.pool!.evaluators.pause();
    expect((await t.api("POST", "/v1/events", story.steps[0]!.events)).body.accepted).toBe(5);
    await redisForgets(t);
    for (const w of t.tp.pool!.workers) w.resume();
    t.tp.pool!.evaluators.resume();

    const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await checkTextSent(t, kase.id);
    const [evaluated] = await t.tp.db
      .sql`select count(*)::int as n from event_status where evaluated_at is null`;
    expect(evaluated?.n).toBe(0);
  });

  it("sends a text it owed and a reminder that fell due while Redis was empty, once each", async () => {
    // A bank's strategy that reminds even high cases (the shipped one calls them instead): the
    // reminder is the owed, delayed step this test needs, and the file is read as a bank's would be.
    const strategyFile = join(mkdtempSync(join(tmpdir(), "tp-strategy-")), "strategy.json");
    const calm = [
      { do: "message", afterMinutes: 0 },
      { do: "reminder", afterMinutes: 30 },
      { do: "task", afterMinutes: 30 },
    ];
    writeFileSync(strategyFile, JSON.stringify({ high: calm, medium: calm, low: calm }));
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "300", CONTACT_STRATEGY_FILE: strategyFile } });
    await loadPeopleVia(t.api);
    const outreach = t.tp.pool!.workers.find((w) => w.name === "outreach")!;
    await outreach.pause();
    await t.api("POST", "/v1/events", story.steps[0]!.events);
    const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    // The check is owed (recorded in Postgres, queued in Redis) when Redis forgets it.
    await eventually(
      async () => {
        const [w] = await t!.tp.db
          .sql`select count(*)::int as n from owed_work where key like ${`check-${kase.id}%`}`;
        return w?.n === 1 ? true : undefined;
      },
      30_000,
      "the check to be owed",
    );
    await redisForgets(t);
    outreach.resume();
    const sent = await eventually(
      async () => {
        const rows = await t!.tp.db.sql`
        select kind, created_at from messages where case_id = ${kase.id} and direction = 'outbound'`;
        return rows.length > 0 ? rows : undefined;
      },
      30_000,
      "the owed check to be sent",
    );
    expect(sent.map((r) => r.kind)).toEqual(["fraud_check"]);

    // No reply: the reminder is a delayed job due in REPLY_TIMEOUT_MINUTES. Redis forgets it, and
    // (as if that time passed) it falls due.
    await eventually(
      async () => {
        const [w] = await t!.tp.db
          .sql`select count(*)::int as n from owed_work where key = ${`noreply-${kase.id}-1`}`;
        return w?.n === 1 ? true : undefined;
      },
      30_000,
      "the reminder to be owed",
    );
    await redisForgets(t);
    await t.tp.db
      .sql`update owed_work set due_at = now() - interval '1 minute' where key = ${`noreply-${kase.id}-1`}`;
    await eventually(
      async () => {
        const [m] = await t!.tp.db.sql`
        select count(*)::int as n from messages where case_id = ${kase.id} and kind = 'reminder'`;
        return m?.n === 1 ? true : undefined;
      },
      30_000,
      "the reminder",
    );
    await t.drained();
    const kinds = await t.tp.db.sql`
      select kind, count(*)::int as n from messages where case_id = ${kase.id} group by kind order by kind`;
    expect(kinds).toEqual([
      { kind: "fraud_check", n: 1 },
      { kind: "reminder", n: 1 },
    ]);
    const [open] = await t.tp.db.sql`
      select count(*)::int as n from owed_work where done_at is null and failed_at is null and due_at < now()`;
    expect(open?.n).toBe(0);
  });

  it("texts a case whose opening job died right after the case committed, and was never run again", async () => {
    let crashed = false;
    t = await startTestTouchpoint({
      fault: (at) => {
        if (at !== "cases.after-commit" || crashed) return;
        crashed = true;
        // Gone for good, as a job Redis forgot between the commit and its retry.
        throw new UnrecoverableError("crashed after the case committed");
      },
    });
    await loadPeopleVia(t.api);
    await t.api("POST", "/v1/events", story.steps[0]!.events);
    const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    await eventually(async () => (crashed ? true : undefined), 30_000, "the crash");
    // Nothing in Redis remembers the check: only Postgres, which committed it with the case.
    await t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 60_000));
    await checkTextSent(t, kase.id);
  });

  it("rebuilds a customer's state from stored events, so a journey split by the loss is still caught", async () => {
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "300" } });
    await loadPeopleVia(t.api);
    await t.api("POST", "/v1/events", [notice, phnomPenh1, login, phnomPenh2]);
    await t.drained();
    await redisForgets(t);
    await t.api("POST", "/v1/events", [paris]);
    const kase = await openCaseWith(t.api, "cus-42", ["impossible-location-spend"]);
    const hit = kase.decisions.find((d: { rule: string }) => d.rule === "impossible-location-spend");
    expect(hit.event.id).toBe("pp-005");
  });
});

describe("when a partition's owner loses it in the middle of a batch", () => {
  let t: TestTouchpoint | undefined;
  const children: TouchpointProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (running(c.child)) c.child.kill("SIGKILL");
    await t?.close();
    t = undefined;
  });
  const holds = (batch: { events: readonly { id: string }[] } | undefined, id: string) =>
    batch?.events.some((e) => e.id === id) ?? false;
  const travelHits = (t: TestTouchpoint, customerId: string) =>
    t.tp.db.sql`select event_id from decisions
      where customer_id = ${customerId} and rule = 'impossible-location-spend'`;

  it("catches a journey whose second half was being evaluated when Redis restarted empty", async () => {
    // The later payment (Phnom Penh) is in before the wipe; the earlier one (Paris) is being
    // evaluated when Redis forgets everything: the partition's lease, its stream, its entry.
    let wiped = false;
    t = await startTestTouchpoint({
      env: { PARTITION_LEASE_MS: "1500" },
      fault: async (at, batch) => {
        if (at !== "evaluate.before-state" || wiped || !holds(batch, "fw-paris") || !t) return;
        wiped = true;
        await deleteKeys(t.prefix);
      },
    });
    await loadPeopleVia(t.api);
    await t.api("POST", "/v1/events", [tx("fw-pp", "cus-19", "2026-11-22T14:00:00Z", PHNOM_PENH)]);
    await t.drained();
    await t.api("POST", "/v1/events", [tx("fw-paris", "cus-19", "2026-11-22T12:00:00Z", PARIS)]);
    await t.drained();
    expect(wiped).toBe(true);
    expect(await travelHits(t, "cus-19")).toEqual([{ event_id: "fw-paris" }]);
    // And the partition is held again, at a later epoch, so the next journey is caught too.
    await t.api("POST", "/v1/events", [tx("fw-pp2", "cus-19", "2026-11-23T14:00:00Z", PHNOM_PENH)]);
    await t.api("POST", "/v1/events", [tx("fw-paris2", "cus-19", "2026-11-23T16:00:00Z", PARIS)]);
    await t.drained();
    expect((await travelHits(t, "cus-19")).map((r) => r.event_id).sort()).toEqual(["fw-paris", "fw-paris2"]);
  });

  it("lets another process take over a worker that stalls past its lease, and refuses the stalled one's writes", async () => {
    // Process A stops (SIGSTOP) in the middle of a batch, after taking its events into its state;
    // its leases expire, B takes every partition, evaluates the batch and the next; A then wakes
    // and tries to write what it decided: refused (its epoch is gone), and nothing is decided twice.
    const database = await createDatabase();
    const prefix = `t${randomBytes(4).toString("hex")}`;
    t = await startTestTouchpoint({ database, prefix, env: { ROLE: "api" } });
    await loadPeopleVia(t.api);
    const worker = (fault?: string) =>
      spawnWorkers(
        { databaseUrl: database.url, prefix, redisUrl: TEST_REDIS_URL },
        { PARTITION_LEASE_MS: "1500", ...(fault ? { TOUCHPOINT_FAULT: fault } : {}) },
      );
    const owners = async () => (await partitionOwners(t!.tp.db.sql)).map((o) => o.owner?.split(":")[1]);
    const a = worker("stop:evaluate.after-state");
    children.push(a);
    await eventually(async () =>
      (await owners()).every((o) => o === String(a.child.pid)) ? true : undefined,
    );
    await t.api("POST", "/v1/events", [tx("st-pp", "cus-19", "2026-11-24T14:00:00Z", PHNOM_PENH)]);
    // A stops itself at the fault (it holds every partition); B takes them once A's leases run out.
    await eventually(async () => {
      const state = await import("node:fs/promises").then((fs) =>
        fs.readFile(`/proc/${a.child.pid}/stat`, "utf8").catch(() => ""),
      );
      return state.split(" ")[2] === "T" ? true : undefined;
    }, 30_000);
    const b = worker();
    children.push(b);
    await eventually(
      async () => ((await owners()).every((o) => o === String(b.child.pid)) ? true : undefined),
      30_000,
    );
    await t.drained();
    a.child.kill("SIGCONT");
    await t.api("POST", "/v1/events", [tx("st-paris", "cus-19", "2026-11-24T16:00:00Z", PARIS)]);
    await t.drained();
    expect(await travelHits(t, "cus-19")).toEqual([{ event_id: "st-paris" }]);
    const [batch] = await t.tp.db.sql`
      select evaluated_at is not null as evaluated from event_batches
      where id = (select batch_id from events where id = 'st-pp')`;
    expect(batch?.evaluated).toBe(true);
    // A, awake, was refused and let its partitions go; it takes its share again from B.
    await eventually(
      async () => ((await owners()).some((o) => o === String(a.child.pid)) ? true : undefined),
      30_000,
    );
    expect(running(a.child)).toBe(true);
  });
});

describe("owed work finished where this process cannot see it", () => {
  let t: TestTouchpoint | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("counts a card block done once the card system has taken it, even after a failed try", async () => {
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "60000" } });
    const action = { type: "card.block", caseId: "case-x", customerId: "cus-42", cards: [] };
    await owe(t.tp.db.sql, t.tp.queues.actions, "card.block", action as never, {
      jobId: "card-block-case-x",
    });
    // The card system: fails once, then takes it.
    let tries = 0;
    const cardSystem = new Worker(
      "actions",
      async () => {
        if (++tries === 1) throw new Error("card system hiccup");
        return "blocked";
      },
      { connection: t.tp.redis.duplicate({ maxRetriesPerRequest: null }), prefix: bullPrefix(t.prefix) },
    );
    try {
      await eventually(async () =>
        (await t!.tp.queues.actions.getJob("card-block-case-x"))?.finishedOn ? true : undefined,
      );
    } finally {
      await cardSystem.close();
    }
    await t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 60_000));
    const [row] = await t.tp.db
      .sql`select done_at is not null as done from owed_work where key = 'card-block-case-x'`;
    expect(row?.done).toBe(true);
  });

  it("stops counting as pending, and never re-drives, a job BullMQ failed for good without its attempts", async () => {
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "60000" } });
    const outreach = t.tp.pool!.workers.find((w) => w.name === "outreach")!;
    await outreach.pause();
    const job = { type: "reconcile", key: "nothing" } as const;
    await owe(t.tp.db.sql, t.tp.queues.outreach, job.type, job, { jobId: "poison-1" });
    // Another process's worker meets a job it cannot ever run (as one that stalled too often).
    const other = new Worker(
      "outreach",
      async () => {
        throw new UnrecoverableError("cannot ever run");
      },
      { connection: t.tp.redis.duplicate({ maxRetriesPerRequest: null }), prefix: bullPrefix(t.prefix) },
    );
    try {
      await eventually(async () =>
        (await t!.tp.queues.outreach.getJob("poison-1"))?.finishedOn ? true : undefined,
      );
    } finally {
      await other.close();
    }
    await t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 60_000));
    const [row] = await t.tp.db
      .sql`select failed_at is not null as failed from owed_work where key = 'poison-1'`;
    expect(row?.failed).toBe(true);
    const ages = await oldestPending(t.tp.db.sql, new Date(Date.now() + 3_600_000));
    expect(ages.jobs).toBe(0);
  });

  it("keeps a travel notice filed long ago through a rebuild, so the trip it covers is not flagged", async () => {
    t = await startTestTouchpoint({ env: { SWEEP_EVERY_MS: "300" } });
    await loadPeopleVia(t.api);
    const day = 24 * 3_600_000;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    const pay = (id: string) => ({
      id,
      type: "card.transaction",
      occurredAt: at(-60_000),
      customerId: "cus-42",
      card: { id: "card-7", last4: "4242" },
      amount: { value: 30, currency: "GBP" },
      merchant: { name: "Shop", mcc: "5411", city: "Phnom Penh", country: "KH", lat: 11.56, lon: 104.92 },
      channel: "card_present",
    });
    await t.api("POST", "/v1/events", [
      {
        id: "old-notice",
        type: "travel.notice",
        occurredAt: at(-40 * day),
        customerId: "cus-42",
        travel: { countries: ["KH"], from: at(-39 * day), to: at(10 * day) },
      },
      pay("kh-1"),
    ]);
    await t.drained();
    await redisForgets(t);
    await t.api("POST", "/v1/events", [pay("kh-2")]);
    await t.drained();
    const rules = await t.tp.db.sql`select event_id, rule from decisions where customer_id = 'cus-42'`;
    expect(rules.filter((r) => r.rule === "foreign-spend-without-travel-notice")).toEqual([]);
  });
});

describe("a new deployment", () => {
  let t: TestTouchpoint | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** A touchpoint on a new database and key prefix whose warnings the test reads, workers paused. */
  async function startWatched() {
    const warnings: string[] = [];
    const log = createLogger("warn", {
      write: (line: string) => {
        warnings.push((JSON.parse(line) as { msg: string }).msg);
      },
    });
    t = await startTestTouchpoint({ log });
    for (const w of t.tp.pool!.workers) await w.pause();
    t.tp.pool!.evaluators.pause();
    await loadPeopleVia(t.api);
    // Pending work, which a worker would take before the reconciler's first run.
    expect((await t.api("POST", "/v1/events", [phnomPenh1, login])).body.accepted).toBe(2);
    return { t, warnings };
  }
  /** The reconciler's next whole run (after any run already under way). */
  const nextRun = (t: TestTouchpoint) => eventually(() => t.tp.pool!.reconciler.runOnce());

  it("does not take its new Redis for one that forgot: nothing is re-queued and nothing is said", async () => {
    const { t, warnings } = await startWatched();
    const report = await nextRun(t);
    expect(report).toMatchObject({ redisForgot: false, events: 0, customers: 0, jobs: 0 });
    expect(warnings.filter((m) => /Redis|re-queued/.test(m))).toEqual([]);
  });

  it("says how much it re-queued when Redis does forget", async () => {
    const { t, warnings } = await startWatched();
    await t.tp.redis.del(`${t.tp.keyPrefix}:epoch`);
    // Whichever run saw the key gone says so (the timer's, or this one after it).
    await nextRun(t);
    expect(warnings).toContainEqual(
      expect.stringMatching(/^Redis had lost this deployment's queues .*: re-queued 2 events, /),
    );
  });
});

describe("a new database with an old Redis", () => {
  it("never reads the old database's customer state", async () => {
    const prefix = `t${Date.now().toString(36)}`;
    const old = await createDatabase();
    // Closing this one keeps the Redis keys of the prefix; only its database goes.
    const first = await startTestTouchpoint({ prefix, database: { url: old.url, drop: async () => {} } });
    try {
      await loadPeopleVia(first.api);
      await first.api("POST", "/v1/events", [phnomPenh1, phnomPenh2]);
      await first.drained();
    } finally {
      await first.tp.close();
      await old.drop();
    }
    const database = await createDatabase();
    const second = await startTestTouchpoint({ prefix, database });
    try {
      await loadPeopleVia(second.api);
      await second.api("POST", "/v1/events", [paris]);
      await second.drained();
      // Paris alone may be foreign spend; only the old database's Phnom Penh makes it impossible.
      const rules = await second.tp.db.sql`select rule from decisions`;
      expect(rules.map((r) => r.rule)).not.toContain("impossible-location-spend");
    } finally {
      await second.close();
    }
  });
});
