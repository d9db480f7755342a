/**
 * Review of issue 25 (r-25): list defects shown through the whole product. Each test states what
 * the feature should do; it fails on main as reviewed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLISH_LOCK } from "../engine/store/rulesets.ts";
import { type Api, loadPeopleVia } from "../fixtures/stories.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const rule = (name: string, list: string) => ({
  name,
  conditions: {
    all: [
      { fact: "event.type", operator: "equal", value: "card.transaction" },
      { fact: "event", path: "$.merchant.name", operator: "inList", value: list },
    ],
  },
  event: { type: "fraud.suspected", params: { severity: "high", title: "Payment at a listed merchant" } },
});

describe("review of issue 25: lists", () => {
  let t: TestTouchpoint;
  let risk: Api;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    await loadPeopleVia(t.api);
    risk = t.as(await t.token("risk", { label: "Priya" }));
  });
  afterAll(() => t?.close());

  it("refuses a rollback to a version whose rule names a list deleted since, as a publish is refused", async () => {
    expect((await risk("PUT", "/v1/lists/gone-merchants", { items: ["Shop G"] })).status).toBe(201);
    const put = await risk("PUT", "/v1/rules/gone-merchant", {
      rule: rule("gone-merchant", "gone-merchants"),
    });
    expect(put.status).toBe(201);
    const withRule = put.body.version as number;
    expect((await risk("DELETE", "/v1/rules/gone-merchant")).status).toBe(201);
    // No published rule names it now, so the delete is allowed...
    expect((await risk("DELETE", "/v1/lists/gone-merchants")).status).toBe(200);
    // ...and a publish naming it would be a 422. A rollback puts the same rule live unchecked: every
    // event then fails that rule at run time (logged, never fires) until someone notices.
    const back = await risk("POST", `/v1/rulesets/${withRule}/rollback`);
    expect([409, 422]).toContain(back.status);
  });

  it("refuses a publish naming a list that a DELETE removed while the publish waited for the publish lock", async () => {
    expect((await risk("PUT", "/v1/lists/raced-merchants", { items: ["Shop R"] })).status).toBe(201);
    // Another publish holds the lock (as any slow publish would) while the two requests arrive.
    const other = await t.tp.db.sql.reserve();
    const waiting = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        const [r] = await t.tp.db
          .sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`;
        if ((r!.n as number) >= n) return;
        await new Promise((ok) => setTimeout(ok, 25));
      }
      throw new Error(`never ${n} waiting on the publish lock`);
    };
    try {
      await other`select pg_advisory_lock(${PUBLISH_LOCK})`;
      const deleted = risk("DELETE", "/v1/lists/raced-merchants");
      await waiting(1);
      // Checked against the lists while the list still exists: it passes, then waits for the lock.
      const published = risk("PUT", "/v1/rules/raced-merchant", {
        rule: rule("raced-merchant", "raced-merchants"),
      });
      await waiting(2);
      await other`select pg_advisory_unlock(${PUBLISH_LOCK})`;
      const [d, p] = await Promise.all([deleted, published]);
      // One of the two must be refused; both landing leaves a live rule naming no list.
      expect([d.status, p.status]).not.toEqual([200, 201]);
    } finally {
      other.release();
    }
  });
});
