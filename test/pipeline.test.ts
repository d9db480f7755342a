import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStream, shuffle } from "../fixtures/generator.ts";
import { loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const tx = (
  id: string,
  customerId: string,
  occurredAt: string,
  place: { city: string; country: string; lat: number; lon: number },
) => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4: "4242" },
  amount: { value: 25, currency: "EUR" },
  merchant: { name: "Shop", mcc: "5411", ...place },
  channel: "card_present",
});
const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };
const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };

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
