import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPeopleVia, loadStory, playStory } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe("the Phnom Penh → Paris story, on Postgres", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("opens exactly one high-severity case for Sophie, routed to a named advocate, with the whole story", async () => {
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    expect(kase.severity).toBe("high");
    expect(kase.advocate).toMatchObject({ id: "adv-amara", name: "Amara Okafor" });
    const impossible = kase.decisions.find((d: { rule: string }) => d.rule === "impossible-location-spend");
    expect(impossible.event.id).toBe("pp-005");
    const speed = impossible.explanation.held.find((c: { fact: string }) => c.fact === "travel.speedKmh");
    expect(speed.factValue).toBeGreaterThan(4900);
    // The travel notice for Cambodia exempts the Phnom Penh payments from the foreign-spend rule.
    expect(kase.decisions.map((d: { event: { id: string } }) => d.event.id)).not.toContain("pp-004");
    expect(kase.timeline.map((s: { kind: string }) => s.kind)).toEqual(
      expect.arrayContaining(["case.opened", "evidence.added", "case.assigned"]),
    );
    const all = await t.api("GET", "/v1/cases?customerId=cus-42");
    expect(all.body.items).toHaveLength(1);

    const metrics = await (await t.tp.app!.request("/metrics")).text();
    expect(metrics).toMatch(/^touchpoint_events_ingested_total 5$/m);
    expect(metrics).toMatch(/^touchpoint_events_evaluated_total 5$/m);
    expect(metrics).toMatch(/^touchpoint_rule_hits_total\{rule="impossible-location-spend"\} 1$/m);
    expect(metrics).toMatch(/^touchpoint_cases_opened_total 1$/m);
    expect(metrics).toMatch(/^touchpoint_ingest_to_decision_seconds_count 5$/m);
    const doc = (await (await t.tp.app!.request("/openapi.json")).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { $defs?: unknown; anyOf?: unknown; oneOf?: unknown }> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/events", "/v1/cases/{id}", "/webhooks/vonage/inbound"]),
    );
    expect(JSON.stringify(doc.components.schemas.Event)).toContain("card.transaction");
    // No VONAGE_SIGNATURE_SECRET here and no insecure flag: webhooks are refused, not trusted.
    const hook = await t.tp.app!.request("/webhooks/vonage/inbound", { method: "POST", body: "{}" });
    expect(hook.status).toBe(401);
    expect(((await hook.json()) as { error: { message: string } }).error.message).toMatch(
      /VONAGE_SIGNATURE_SECRET/,
    );
    const ready = await t.tp.app!.request("/readyz");
    expect(await ready.json()).toEqual({
      ready: true,
      checks: { postgres: true, redis: true, pending: true, workers: true },
      oldestPendingSeconds: {
        events: expect.any(Number),
        decisions: expect.any(Number),
        jobs: expect.any(Number),
      },
    });
  });

  it("finds Sophie's case from the number she calls from, written any common way, within the team", async () => {
    const [open] = (await t.api("GET", "/v1/cases?customerId=cus-42&status=open")).body.items;
    const amara = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    for (const phone of [
      "+447911123042",
      "+44 7911 123042",
      "07911 123042",
      "00447911123042",
      "447911123042",
    ]) {
      const r = await amara("GET", `/v1/cases?phone=${encodeURIComponent(phone)}`);
      expect(r.status, phone).toBe(200);
      expect(
        r.body.items.map((i: { id: string }) => i.id),
        phone,
      ).toEqual([open.id]);
      expect(r.body.items[0]).toMatchObject({ customerName: "Sophie Martin", status: "open" });
    }
    const bad = await amara("GET", "/v1/cases?phone=not-a-number");
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([
      { path: "phone", message: expect.stringMatching(/not a phone number/) },
    ]);
    // Nobody of another team learns that the number belongs to a customer with a case.
    await t.api("PUT", "/v1/advocates/adv-disputes", { name: "Dee", team: "disputes", status: "online" });
    const other = t.as(await t.token("advocate", { advocateId: "adv-disputes" }));
    const theirs = await other("GET", "/v1/cases?phone=%2B447911123042");
    expect(theirs.status, JSON.stringify(theirs.body)).toBe(200);
    expect(theirs.body.items).toEqual([]);
    // A number nobody has: no case, not an error.
    expect((await amara("GET", "/v1/cases?phone=%2B33612349999")).body.items).toEqual([]);
  });

  it("changes nothing when the same events are posted again", async () => {
    const story = loadStory("phnom-penh-paris");
    await t.drained();
    const before = await t.api("GET", "/v1/cases?customerId=cus-42");
    const caseBefore = await t.api("GET", `/v1/cases/${before.body.items[0].id}`);
    const again = await t.api("POST", "/v1/events", story.steps[0]!.events);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: story.steps[0]!.events.length, rejected: 0 });
    // Nothing was enqueued (accepted 0), so nothing can still be on its way to the case.
    const after = await t.api("GET", `/v1/cases/${before.body.items[0].id}`);
    expect(after.body.timeline).toEqual(caseBefore.body.timeline);
    expect(after.body.decisions).toEqual(caseBefore.body.decisions);
    expect((await t.api("GET", "/v1/cases?customerId=cus-42")).body.items).toHaveLength(1);
  });
});

describe("the returning customer, on embedded PGlite", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ pglite: true });
    await loadPeopleVia(t.api);
  });
  afterAll(() => t?.close());

  it("gives Tom's second case, a week later, to the advocate who helped him the first time", async () => {
    // Amara is busy with someone else first, so "least loaded" alone would not pick the same advocate twice.
    await playStory(t.api, loadStory("phnom-penh-paris"));
    const [first, second] = await playStory(t.api, loadStory("returning-customer"));
    expect(first.status).toBe("open"); // as read before the story resolved it
    expect(second.advocateId).toBe(first.advocateId);
    const assigned = second.timeline.find((s: { kind: string }) => s.kind === "case.assigned");
    expect(assigned.detail.reason).toContain("previous advocate");
    expect(second.previousCases[0]).toMatchObject({
      id: first.id,
      outcome: "false_alarm",
      lastNote: "Tom was buying presents; confirmed by phone.",
    });
  });
});
