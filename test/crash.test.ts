import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { eventually, loadPeopleVia } from "../fixtures/stories.ts";
import {
  createDatabase,
  startTestTouchpoint,
  TEST_REDIS_URL,
  type TestTouchpoint,
} from "./support/harness.ts";

/** A separate worker process (ROLE=workers) on the same Postgres and Redis, optionally armed to die. */
function spawnWorker(databaseUrl: string, prefix: string, fault?: string): ChildProcess {
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
      ADMIN_TOKEN: `worker-${randomBytes(12).toString("hex")}`,
      ...(fault ? { TOUCHPOINT_FAULT: fault } : {}),
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
    // `drained` sees empty queues; also wait for every decision to reach a case.
    await eventually(async () => {
      const [r] = await t.tp.db.sql`select count(*)::int as n from decisions where case_id is null`;
      return r?.n === 0 ? true : undefined;
    });

    const sql = t.tp.db.sql;
    const [events] = await sql`select count(*)::int as n, count(evaluated_at)::int as evaluated from events`;
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
    expect(evidence?.opened).toBe(stream.impossible.size);

    survivor.kill("SIGTERM");
    const [code] = await once(survivor, "exit");
    expect(code).toBe(0);
  });
});
