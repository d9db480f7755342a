/**
 * Scale-out, shown: one stream through one process, and the same stream through an API process
 * and two worker processes (ROLE=api, ROLE=workers) sharing one Redis and one Postgres. Both must
 * end with the same cases, rules and texts, each exactly once, and nothing left unevaluated.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { partitionOwners } from "../engine/store/partitions.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { eventually } from "../fixtures/stories.ts";
import {
  createDatabase,
  startTestTouchpoint,
  TEST_REDIS_URL,
  type TestTouchpoint,
} from "./support/harness.ts";
import { running, spawnWorkers, type TouchpointProcess } from "./support/processes.ts";

const stream = generateStream({ seed: 21, customers: 90, impossibleShare: 0.3, prefix: "scale" });
const requests: Array<typeof stream.events> = [];
for (let i = 0, all = shuffle(stream.events, 8); i < all.length; i += 25) requests.push(all.slice(i, i + 25));

/** Posts the stream, waits for every event to be evaluated and every decision to be on a case, and reads the outcome. */
async function run(t: TestTouchpoint) {
  for (const { id, ...c } of stream.customers) await t.api("PUT", `/v1/customers/${id}`, c);
  // Requests in flight together, as a busy sender would: batches interleave across workers.
  const answers = await Promise.all(requests.map((r) => t.api("POST", "/v1/events", r)));
  expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(stream.events.length);
  const sql = t.tp.db.sql;
  await eventually(
    async () => {
      const [r] = await sql`
        select (select count(*) from event_status where evaluated_at is null)::int as unevaluated,
               (select count(*) from decisions where case_id is null and mode = 'live')::int as unlinked,
               (select count(*) from cases c where not exists (
                  select 1 from messages m where m.case_id = c.id and m.direction = 'outbound'))::int as untexted`;
      return r?.unevaluated === 0 && r.unlinked === 0 && r.untexted === 0 ? true : undefined;
    },
    120_000,
    "every event evaluated, every decision on a case, every case texted",
  );
  await t.drained(60_000);
  const cases = await sql`
    select c.customer_id, c.severity,
      (select array_agg(distinct d.rule order by d.rule) from decisions d where d.case_id = c.id) as rules,
      (select count(*) from messages m where m.case_id = c.id and m.direction = 'outbound' and m.kind = 'fraud_check')::int as texts
    from cases c order by c.customer_id`;
  const [counts] = await sql`
    select (select count(*) from events)::int as events,
           (select count(*) from decisions)::int as decisions,
           (select count(*) from (select event_id, rule from decisions group by 1, 2 having count(*) > 1) d)::int as repeated,
           (select count(*) from (select case_id, kind, detail from case_timeline
              where kind in ('case.opened', 'case.assigned', 'evidence.added')
              group by 1, 2, 3 having count(*) > 1) d)::int as "repeatedTimeline"`;
  // Which payment of an impossible pair carries the hit depends on which was evaluated second, so
  // decisions are compared as each case's rules, not event by event.
  return { cases: cases.map((c) => ({ ...c })), counts };
}

describe("two worker processes on one stream", () => {
  const started: TestTouchpoint[] = [];
  const children: TouchpointProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (running(c.child)) c.child.kill("SIGKILL");
    for (const t of started) await t.close();
  });

  it("give exactly the cases one process gives: none twice, none lost", async () => {
    const one = await startTestTouchpoint();
    started.push(one);
    await one.api("PUT", "/v1/advocates/adv-scale", {
      name: "Scale",
      team: "fraud",
      capacity: 1000,
      status: "online",
    });
    const alone = await run(one);

    const database = await createDatabase();
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const api = await startTestTouchpoint({
      database,
      prefix,
      env: { ROLE: "api", INGEST_BATCH_SIZE: "10" },
    });
    started.push(api);
    await api.api("PUT", "/v1/advocates/adv-scale", {
      name: "Scale",
      team: "fraud",
      capacity: 1000,
      status: "online",
    });
    for (let i = 0; i < 2; i++)
      children.push(
        spawnWorkers(
          { databaseUrl: database.url, prefix, redisUrl: TEST_REDIS_URL },
          { WORKER_CONCURRENCY: "2" },
        ),
      );
    const shared = await run(api);

    // Both processes share the partitions (each owner is `host:pid:…`), half each once balanced.
    const owners = async () =>
      (await partitionOwners(api.tp.db.sql)).map((o) => o.owner?.split(":")[1] ?? "none");
    await eventually(async () => {
      const held = await owners();
      const pids = children.map((c) => String(c.child.pid));
      return pids.every((pid) => held.filter((o) => o === pid).length === api.tp.partitions / 2)
        ? true
        : undefined;
    }, 30_000);

    expect(alone.cases.length).toBeGreaterThan(10);
    expect(shared.cases).toEqual(alone.cases);
    expect(new Set(shared.cases.map((c) => c.customer_id))).toEqual(stream.impossible);
    expect(shared.cases.every((c) => c.texts === 1)).toBe(true);
    for (const r of [alone, shared]) {
      expect(r.counts).toMatchObject({ events: stream.events.length, repeated: 0, repeatedTimeline: 0 });
    }
  });
});
