import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../engine/partitioning.ts";
import { insertBatches } from "../engine/store/events.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { eventually, loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { firstCaseHandled, PARIS, PHNOM_PENH, tx } from "./support/payments.ts";

describe("the pipeline under concurrency", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ env: { INGEST_BATCH_SIZE: "25", WORKER_CONCURRENCY: "6" } });
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("gives exactly one case to each impossible-travel customer and none to the others, whatever the arrival order", async () => {
    const stream = generateStream({ seed: 42, customers: 300, impossibleShare: 0.2, prefix: "conc" });
    expect(stream.impossible.size).toBeGreaterThan(30);
    for (const { id, ...c } of stream.customers) {
      const r = await t.api("PUT", `/v1/customers/${id}`, c);
      expect(r.status).toBe(200);
    }
    const events = shuffle(stream.events, 7);
    const chunks: unknown[][] = [];
    for (let i = 0; i < events.length; i += 60) chunks.push(events.slice(i, i + 60));
    // Every chunk at once: batches of the same customer race through different workers.
    const replies = await Promise.all(chunks.map((c) => t.api("POST", "/v1/events", c)));
    expect(replies.every((r) => r.status === 202)).toBe(true);
    expect(replies.reduce((n, r) => n + r.body.accepted, 0)).toBe(events.length);
    await t.drained();

    const cases = await t.tp.db.sql`select customer_id, count(*)::int as n from cases group by customer_id`;
    const byCustomer = new Map(cases.map((r) => [r.customer_id as string, r.n as number]));
    expect(new Set(byCustomer.keys())).toEqual(stream.impossible);
    expect([...byCustomer.values()].every((n) => n === 1)).toBe(true);
    const [impossibleHits] = await t.tp.db.sql`
      select count(distinct customer_id)::int as n from decisions where rule = 'impossible-location-spend'`;
    expect(impossibleHits?.n).toBe(stream.impossible.size);
    // Every decision is evidence on its case exactly once.
    const [orphans] = await t.tp.db.sql`
      select count(*)::int as n from decisions d
      where d.case_id is null or (select count(*) from case_timeline tl where tl.idem_key = 'decision:' || d.id) <> 1`;
    expect(orphans?.n).toBe(0);
  });

  it("catches impossible travel when the later payment arrives first", async () => {
    await t.api("PUT", "/v1/customers/ooo-1", {
      name: "Out Of Order",
      phone: "+33612345601",
      homeCountry: "FR",
    });
    await t.api("POST", "/v1/events", [tx("ooo-paris", "ooo-1", "2026-11-22T11:05:00Z", PARIS)]);
    await t.drained();
    await t.api("POST", "/v1/events", [tx("ooo-pp", "ooo-1", "2026-11-22T09:10:00Z", PHNOM_PENH)]);
    const kase = await openCaseWith(t.api, "ooo-1", ["impossible-location-spend"]);
    const hit = kase.decisions.find((d: { rule: string }) => d.rule === "impossible-location-spend");
    expect(hit.event.id).toBe("ooo-pp");
    const other = hit.explanation.held.find((c: { fact: string }) => c.fact === "travel.speedKmh");
    expect(other.factValue).toBeGreaterThan(4900);
  });
});

/** The latest routing step of a case (outreach may append its own entries after it at any time). */
const lastAssigned = (c: { timeline: Array<{ kind: string }> }) =>
  c.timeline.filter((s) => s.kind === "case.assigned").at(-1) as { kind: string; detail: { reason: string } };

describe("routing", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("routes an offline advocate's customer to someone else, with the reason on the timeline", async () => {
    await t.api("PUT", "/v1/customers/rt-1", { name: "Routed", phone: "+33612345602", homeCountry: "FR" });
    await t.api("POST", "/v1/events", [
      tx("rt-a1", "rt-1", "2026-11-20T09:10:00Z", PARIS),
      tx("rt-a2", "rt-1", "2026-11-20T10:10:00Z", PHNOM_PENH),
    ]);
    const first = await openCaseWith(t.api, "rt-1", ["impossible-location-spend"]);
    expect(first.advocate).not.toBeNull();
    expect((await t.api("POST", `/v1/cases/${first.id}/resolve`, { outcome: "false_alarm" })).status).toBe(
      200,
    );

    const named = first.advocate;
    const put = await t.api("PUT", `/v1/advocates/${named.id}`, {
      name: named.name,
      team: "fraud",
      capacity: 8,
      status: "offline",
    });
    expect(put.status).toBe(200);
    await t.api("POST", "/v1/events", [
      tx("rt-b1", "rt-1", "2026-11-27T09:10:00Z", PARIS),
      tx("rt-b2", "rt-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const second = await openCaseWith(t.api, "rt-1", ["impossible-location-spend"]);
    expect(second.id).not.toBe(first.id);
    expect(second.advocateId).not.toBe(named.id);
    expect(second.advocateId).not.toBeNull();
    const step = second.timeline.find((s: { kind: string }) => s.kind === "case.assigned");
    expect(step.detail).toMatchObject({ fallback: "offline", previousAdvocateId: named.id });
    expect(step.detail.reason).toContain(`${named.name} is offline`);
    await t.api("PUT", `/v1/advocates/${named.id}`, {
      name: named.name,
      team: "fraud",
      capacity: 8,
      status: "online",
    });
  });

  const LONDON = { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 };
  const setStatus = (a: { id: string; name: string }, status: string) =>
    t.api("PUT", `/v1/advocates/${a.id}`, { name: a.name, team: "fraud", capacity: 8, status });

  it("keeps a medium case for the customer's advocate while they are away, and gives it to them when they are back", async () => {
    const named = await firstCaseHandled(t.api, "wait-1", "+33612345611");
    await setStatus(named, "away");
    // A payment in London for a French customer: medium severity (abroad, no travel notice).
    await t.api("POST", "/v1/events", [tx("wait-1-b1", "wait-1", "2026-11-27T12:00:00Z", LONDON)]);
    const waiting = await openCaseWith(t.api, "wait-1", ["foreign-spend-without-travel-notice"]);
    expect(waiting).toMatchObject({ severity: "medium", advocateId: null });
    const step = waiting.timeline.find((s: { kind: string }) => s.kind === "case.unassigned");
    expect(step.detail.reason).toContain(`waiting up to 30 min for ${named.name} (away)`);
    // The wait's end is queued just after the case commits: on a loaded machine, a moment later.
    const rerouteId = `reroute-${waiting.id}-${Date.parse(waiting.timeline.find((s: { kind: string }) => s.kind === "case.unassigned").detail.waitUntil)}`;
    expect(
      await eventually(async () => (await t.tp.queues.cases.getJob(rerouteId)) ?? undefined, 10_000),
    ).toBeDefined();

    await setStatus(named, "online");
    const back = (await t.api("GET", `/v1/cases/${waiting.id}`)).body;
    expect(back.advocateId).toBe(named.id);
    expect(lastAssigned(back)).toMatchObject({
      kind: "case.assigned",
      detail: { trigger: "an advocate came online" },
    });
  });

  it("gives the case to someone else when the wait is over", async () => {
    const named = await firstCaseHandled(t.api, "wait-2", "+33612345612");
    await setStatus(named, "away");
    await t.api("POST", "/v1/events", [tx("wait-2-b1", "wait-2", "2026-11-27T12:00:00Z", LONDON)]);
    const waiting = await openCaseWith(t.api, "wait-2", ["foreign-spend-without-travel-notice"]);
    expect(waiting.advocateId).toBeNull();
    // Rather than wait 30 minutes, bring the reroute job forward.
    await t.api("PUT", "/v1/advocates/adv-spare", {
      name: "Sam Spare",
      team: "fraud",
      capacity: 8,
      status: "online",
    });
    // Rather than wait 30 minutes, bring the reroute job forward (once it is queued).
    const rerouteId = `reroute-${waiting.id}-${Date.parse(waiting.timeline.find((s: { kind: string }) => s.kind === "case.unassigned").detail.waitUntil)}`;
    await (
      await eventually(async () => (await t.tp.queues.cases.getJob(rerouteId)) ?? undefined, 10_000)
    ).promote();
    const after = await eventually(async () => {
      const c = (await t.api("GET", `/v1/cases/${waiting.id}`)).body;
      return c.advocateId ? c : undefined;
    });
    expect(after.advocateId).not.toBe(named.id);
    expect(lastAssigned(after).detail.reason).toContain(`${named.name} is away after the wait`);
    await setStatus(named, "online");
  });

  it("stops waiting for the customer's advocate when new evidence makes the case high severity", async () => {
    const named = await firstCaseHandled(t.api, "wait-3", "+33612345615");
    await setStatus(named, "away");
    await t.api("POST", "/v1/events", [tx("wait-3-b1", "wait-3", "2026-11-27T12:00:00Z", LONDON)]);
    const waiting = await openCaseWith(t.api, "wait-3", ["foreign-spend-without-travel-notice"]);
    expect(waiting.advocateId).toBeNull();
    await t.api("POST", "/v1/events", [
      tx("wait-3-c1", "wait-3", "2026-11-28T09:10:00Z", PARIS),
      tx("wait-3-c2", "wait-3", "2026-11-28T10:10:00Z", PHNOM_PENH),
    ]);
    const high = await openCaseWith(t.api, "wait-3", ["impossible-location-spend"]);
    const now = await eventually(async () => {
      const c = (await t.api("GET", `/v1/cases/${high.id}`)).body;
      return c.advocateId ? c : undefined;
    });
    expect(now).toMatchObject({ id: waiting.id, severity: "high" });
    expect(now.advocateId).not.toBe(named.id);
    expect(now.timeline.find((s: { kind: string }) => s.kind === "case.assigned").detail.trigger).toBe(
      "case escalated",
    );
    await setStatus(named, "online");
  });

  it("returns a case to the customer's advocate when they come back, if nobody has started on it", async () => {
    const named = await firstCaseHandled(t.api, "back-1", "+33612345613");
    await setStatus(named, "offline");
    await t.api("POST", "/v1/events", [
      tx("back-1-b1", "back-1", "2026-11-27T09:10:00Z", PARIS),
      tx("back-1-b2", "back-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const second = await openCaseWith(t.api, "back-1", ["impossible-location-spend"]);
    expect(second.advocateId).not.toBe(named.id);
    await setStatus(named, "online");
    const back = (await t.api("GET", `/v1/cases/${second.id}`)).body;
    expect(back.advocateId).toBe(named.id);
    expect(lastAssigned(back).detail.reason).toContain(
      `${named.name}, who helped this customer before, is back`,
    );
  });

  it("shows an advocate only their own team's cases", async () => {
    await t.api("PUT", "/v1/advocates/adv-cards", { name: "Cara Cards", team: "cards", status: "online" });
    const advocateToken = await t.token("advocate", { advocateId: "adv-cards" });
    const asCards = t.as(advocateToken);
    const all = await t.api("GET", "/v1/cases");
    expect(all.body.items.length).toBeGreaterThan(0);
    const mine = await asCards("GET", "/v1/cases");
    expect(mine.status).toBe(200);
    expect(mine.body.items).toEqual([]);
    expect((await asCards("GET", `/v1/cases/${all.body.items[0].id}`)).status).toBe(404);
    expect((await asCards("GET", `/v1/customers/${all.body.items[0].customerId}`)).status).toBe(404);

    // The case's own team sees the customer, with the number masked; a supervisor sees it whole.
    const fraud = t.as(await t.token("advocate", { advocateId: "adv-lucas" }));
    const seen = await fraud("GET", `/v1/cases/${all.body.items[0].id}`);
    expect(seen.body.customer.phone).toMatch(/^\+\d{2}•+\d{4}$/);
    const cust = await fraud("GET", `/v1/customers/${all.body.items[0].customerId}`);
    expect(cust.body.phone).toMatch(/•/);
    // A supervisor bound to another team can neither read this customer nor redirect their texts.
    const cardsLead = t.as(await t.token("supervisor", { team: "cards" }));
    expect((await cardsLead("GET", `/v1/customers/${all.body.items[0].customerId}`)).status).toBe(404);
    expect(
      (
        await cardsLead("PUT", `/v1/customers/${all.body.items[0].customerId}`, {
          name: "X",
          phone: "+33612345699",
          homeCountry: "FR",
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await cardsLead("PUT", "/v1/advocates/adv-lucas", {
          name: "Lucas Meyer",
          team: "cards",
          status: "online",
        })
      ).status,
    ).toBe(403);
    const supervisor = t.as(await t.token("supervisor"));
    expect((await supervisor("GET", `/v1/cases/${all.body.items[0].id}`)).body.customer.phone).toMatch(
      /^\+\d+$/,
    );
    expect((await asCards("POST", "/v1/events", [])).status).toBe(403);
  });
});

describe("bad input", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ env: { INGEST_MAX_BYTES: "4096" } });
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  const counts = async () => {
    const [row] = await t.tp.db.sql`
      select (select count(*) from events)::int as events, (select count(*) from decisions)::int as decisions,
             (select count(*) from cases)::int as cases`;
    return row;
  };

  it("refuses malformed JSON with 400 and stores nothing", async () => {
    const before = await counts();
    const r = await t.api("POST", "/v1/events", '[{"id": "x1", "type": "login",');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid");
    expect(r.body.error.message).toMatch(/malformed JSON/);
    expect(await counts()).toEqual(before);
  });

  it("accepts the valid events of a partly invalid batch and names each bad one's fields", async () => {
    const good = tx("bi-good", "cus-19", "2026-11-22T10:00:00Z", PARIS);
    const badAmount = {
      ...tx("bi-bad", "cus-19", "2026-11-22T10:05:00Z", PARIS),
      amount: { value: -3, currency: "euro" },
    };
    const badType = {
      id: "bi-what",
      type: "teleport",
      occurredAt: "2026-11-22T10:06:00Z",
      customerId: "cus-19",
    };
    const r = await t.api("POST", "/v1/events", [good, badAmount, badType]);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: 2 });
    expect(r.body.errors[0]).toMatchObject({ index: 1, id: "bi-bad" });
    expect(r.body.errors[0].errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "amount.currency",
      "amount.value",
    ]);
    expect(r.body.errors[1]).toMatchObject({ index: 2, id: "bi-what" });
    await t.drained();
    const stored = await t.tp.db.sql`select id from events where id like 'bi-%' order by id`;
    expect(stored.map((s) => s.id)).toEqual(["bi-good"]);
  });

  it("rejects, per event, text Postgres cannot store and dates it cannot hold, instead of failing the batch", async () => {
    const good = tx("nul-good", "cus-19", "2026-11-22T10:00:00Z", PARIS);
    const nul = {
      ...tx("nul-bad", "cus-19", "2026-11-22T10:01:00Z", PARIS),
      merchant: { name: "Sh\u0000op", country: "FR" },
    };
    const ancient = { ...tx("nul-old", "cus-19", "0000-01-01T00:00:00Z", PARIS) };
    const future = { ...tx("nul-future", "cus-19", "2099-01-01T00:00:00Z", PARIS) };
    const r = await t.api("POST", "/v1/events", [good, nul, ancient, future]);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 3 });
    expect(
      r.body.errors.map((e: { index: number; errors: Array<{ path: string }> }) => [
        e.index,
        e.errors[0]?.path,
      ]),
    ).toEqual([
      [1, "merchant.name"],
      [2, "occurredAt"],
      [3, "occurredAt"],
    ]);
    const person = await t.api("PUT", "/v1/customers/nul-1", {
      name: "A\u0000",
      phone: "+33612345614",
      homeCountry: "FR",
    });
    expect(person.status).toBe(400);
  });

  it("sets aside an event whose state cannot be taken, with its reason, and evaluates the rest of its batch", async () => {
    // Nothing else waiting, or the reconciler leaves stored batches to the backlog.
    await t.drained();
    // A stored event its worker cannot read (written by hand, or by a bad migration): no amount.
    const healthy = tx("healthy-a", "cus-19", "2026-11-22T10:02:00Z", PARIS);
    const { amount: _, ...poison } = tx("poison-a", "cus-19", "2026-11-22T10:00:00Z", PARIS);
    await insertBatches(
      t.tp.db.sql,
      [
        {
          id: "poison-batch",
          partition: partitionOf("cus-19", t.tp.partitions),
          events: [poison as never, healthy as never],
        },
      ],
      new Date(),
    );
    // Until it runs: its own timer may hold the lock this moment.
    await eventually(() => t.tp.pool!.reconciler.runOnce(new Date(Date.now() + 3600_000)));
    await t.drained();
    const rows = await t.tp.db.sql`
      select id, evaluated_at is not null as evaluated, error from event_status where id in ('poison-a', 'healthy-a') order by id`;
    expect(rows).toEqual([
      { id: "healthy-a", evaluated: true, error: null },
      { id: "poison-a", evaluated: true, error: expect.stringMatching(/value/) },
    ]);
    // And the customer's next payment is evaluated as usual, the broken one left out of their state.
    await t.api("POST", "/v1/events", [tx("healthy-b", "cus-19", "2026-11-22T10:04:00Z", PARIS)]);
    await t.drained();
    const [next] = await t.tp.db
      .sql`select error, evaluated_at is not null as evaluated from event_status where id = 'healthy-b'`;
    expect(next).toEqual({ error: null, evaluated: true });
  });

  it("reads NDJSON line by line: a bad line rejects only itself", async () => {
    const body = [JSON.stringify(tx("nd-1", "cus-19", "2026-11-22T12:00:00Z", PARIS)), "{not json", ""].join(
      "\n",
    );
    const r = await t.api("POST", "/v1/events", body, { "content-type": "application/x-ndjson" });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(r.body.errors[0]).toMatchObject({ index: 1 });
  });

  it("answers 413 to a body over the limit and stores nothing", async () => {
    const before = await counts();
    const many = Array.from({ length: 40 }, (_, i) =>
      tx(`big-${i}`, "cus-19", "2026-11-22T13:00:00Z", PARIS),
    );
    const r = await t.api("POST", "/v1/events", many);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("too_large");
    expect(await counts()).toEqual(before);
  });

  it("answers 401 without a token or with an unknown one, and 403 to the wrong role", async () => {
    const none = await t.tp.app!.request("/v1/events", { method: "POST", body: "[]" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/Bearer/);
    expect((await t.as("nope-not-a-token")("POST", "/v1/events", [])).status).toBe(401);
    const risk = await t.token("risk");
    expect((await t.as(risk)("POST", "/v1/events", [])).status).toBe(403);
    expect((await t.as(risk)("PUT", "/v1/customers/x", { name: "x" })).status).toBe(403);
  });

  it("rejects a customer with an invalid phone number, naming the field", async () => {
    const r = await t.api("PUT", "/v1/customers/bad-phone", {
      name: "Bad",
      phone: "12345",
      homeCountry: "GB",
    });
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([{ path: "phone", message: expect.stringMatching(/E\.164/) }]);
    expect((await t.api("GET", "/v1/customers/bad-phone")).status).toBe(404);
  });

  it("stores a national phone number as E.164", async () => {
    const r = await t.api("PUT", "/v1/customers/nat-phone", {
      name: "National",
      phone: "07911 123456",
      homeCountry: "GB",
    });
    expect(r.status).toBe(200);
    expect(r.body.phone).toBe("+447911123456");
  });
});

describe("advocate capacity under concurrent assignment", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ env: { WORKER_CONCURRENCY: "8", INGEST_BATCH_SIZE: "2" } });
  });
  afterAll(() => t?.close());

  it("never gives an advocate more open cases than their capacity, however many cases open at once", async () => {
    for (const id of ["cap-a", "cap-b"]) {
      await t.api("PUT", `/v1/advocates/${id}`, { name: id, team: "fraud", capacity: 1, status: "online" });
    }
    const customers = Array.from({ length: 8 }, (_, i) => `cap-c${i}`);
    for (const [i, id] of customers.entries()) {
      await t.api("PUT", `/v1/customers/${id}`, { name: id, phone: `+3361234570${i}`, homeCountry: "FR" });
    }
    // Each customer's impossible pair in its own batch of two, all posted at once.
    await Promise.all(
      customers.map((id) =>
        t.api("POST", "/v1/events", [
          tx(`${id}-1`, id, "2026-11-22T09:10:00Z", PARIS),
          tx(`${id}-2`, id, "2026-11-22T10:10:00Z", PHNOM_PENH),
        ]),
      ),
    );
    await t.drained();
    const load = await t.tp.db.sql`
      select advocate_id, count(*)::int as n from cases where status = 'open' group by advocate_id order by advocate_id nulls last`;
    expect(load).toEqual([
      { advocate_id: "cap-a", n: 1 },
      { advocate_id: "cap-b", n: 1 },
      { advocate_id: null, n: 6 },
    ]);
  });
});
