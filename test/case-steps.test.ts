/**
 * A case step in few statements: a new case's timeline entries, the routing step and the owed
 * work are written together, in the order they happen, each once however often the step runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openOrJoinCase } from "../engine/cases/intake.ts";
import type { TouchpointEvent } from "../engine/events.ts";
import type { Hit } from "../engine/rules/reference.ts";
import type { Severity } from "../engine/rules/schema.ts";
import { caseJobState } from "../engine/store/cases.ts";
import { type Database, openDatabase, type Sql } from "../engine/store/database.ts";
import { insertDecisions } from "../engine/store/decisions.ts";
import { insertBatches } from "../engine/store/events.ts";
import {
  applyReceipt,
  claimOutbound,
  contactCounts,
  contactHistory,
  setOutboundStatus,
} from "../engine/store/messages.ts";
import { upsertAdvocate, upsertCustomer } from "../engine/store/people.ts";
import { addTimelineEntries } from "../engine/store/timeline.ts";
import { createDatabase } from "./support/harness.ts";

let database: { url: string; drop(): Promise<void> };
let db: Database;
let sql: Sql;
const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-case-steps-"));

beforeAll(async () => {
  database = await createDatabase();
  db = await openDatabase({ url: database.url, dataDir, max: 4 });
  sql = db.sql;
  await upsertAdvocate(sql, { id: "adv-ana", name: "Ana", team: "fraud", status: "online" });
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

let seq = 0;
/** Stores a payment of the customer and a live decision on it; the decision's id. */
async function hit(customerId: string, severity: Severity, occurredAt: string): Promise<string> {
  const id = `evt-steps-${++seq}`;
  const event = {
    id,
    type: "card.transaction",
    occurredAt,
    customerId,
    card: { id: "card-1", last4: "4242" },
    amount: { value: 100, currency: "EUR" },
    merchant: { name: "Shop", mcc: "5411", city: "Paris", country: "FR", lat: 48.85, lon: 2.35 },
    channel: "card_present",
  } as unknown as TouchpointEvent;
  await insertBatches(sql, [{ id: `batch-steps-${seq}`, events: [event] }], new Date());
  const [d] = await insertDecisions(sql, [
    {
      event,
      hit: {
        rule: `rule-${severity}`,
        mode: "live",
        severity,
        title: `A ${severity} payment`,
        team: "fraud",
        eventType: "card.transaction",
        explanation: { held: [], tree: {} },
      } as Hit,
      rulesetVersion: 1,
      decidedAt: new Date(),
    },
  ]);
  return d!.id;
}

async function timeline(caseId: string) {
  return sql`select id, kind, idem_key, actor from case_timeline where case_id = ${caseId} order by id`;
}

async function customer(id: string) {
  await upsertCustomer(sql, { id, name: "Chloé Martin", phone: "+33612345678", homeCountry: "FR" });
}

const owedCheck = (caseId: string) => ({
  key: `check-${caseId}`,
  queue: "outreach",
  name: "check",
  data: { type: "check", caseId },
  dueAt: new Date(),
});

describe("a new case's steps", () => {
  it("are on its timeline in the order they happened: opened, the evidence oldest event first, then routing", async () => {
    await customer("cus-steps-1");
    // Decided out of event order: the evidence follows the events' order.
    const later = await hit("cus-steps-1", "medium", "2026-12-06T10:05:00Z");
    const earlier = await hit("cus-steps-1", "high", "2026-12-06T10:00:00Z");
    const u = await openOrJoinCase(sql, "cus-steps-1", new Date(), (x) => [owedCheck(x.caseId)]);
    expect(u).toMatchObject({ created: true, linked: 2, advocateId: "adv-ana", severity: "high" });
    const steps = await timeline(u!.caseId);
    expect(steps.map((s) => [s.kind, s.idem_key])).toEqual([
      ["case.opened", `opened:${u!.caseId}`],
      ["evidence.added", `decision:${earlier}`],
      ["evidence.added", `decision:${later}`],
      ["case.assigned", `assigned:${u!.caseId}:0`],
    ]);
    const [owed] = await sql`select name, data from owed_work where key = ${`check-${u!.caseId}`}`;
    expect(owed).toMatchObject({ name: "check", data: { type: "check", caseId: u!.caseId } });
    // The advocate is the one the customer will know next time (the case and the customer, one statement).
    const [c] = await sql`select last_advocate_id from customers where id = 'cus-steps-1'`;
    expect(c?.last_advocate_id).toBe("adv-ana");
  });

  it("a second case of the customer is kept for the advocate they knew, read as the case is inserted", async () => {
    await customer("cus-steps-2");
    await sql`update customers set last_advocate_id = 'adv-ana' where id = 'cus-steps-2'`;
    await upsertAdvocate(sql, { id: "adv-ana", name: "Ana", team: "fraud", status: "away" });
    try {
      await hit("cus-steps-2", "medium", "2026-12-06T11:00:00Z");
      const u = await openOrJoinCase(sql, "cus-steps-2", new Date());
      const [c] =
        await sql`select preferred_advocate_id, advocate_id, wait_until from cases where id = ${u!.caseId}`;
      // Ana is away: a medium case waits for her rather than going to a stranger.
      expect(c).toMatchObject({ preferred_advocate_id: "adv-ana", advocate_id: null });
      expect(c?.wait_until).toBeInstanceOf(Date);
      expect((await timeline(u!.caseId)).map((s) => s.kind)).toEqual([
        "case.opened",
        "evidence.added",
        "case.unassigned",
      ]);
    } finally {
      await upsertAdvocate(sql, { id: "adv-ana", name: "Ana", team: "fraud", status: "online" });
    }
  });

  it("run again write nothing twice; new evidence joins after what is there, escalating once", async () => {
    await customer("cus-steps-3");
    await hit("cus-steps-3", "low", "2026-12-06T12:00:00Z");
    const first = await openOrJoinCase(sql, "cus-steps-3", new Date(), (x) => [owedCheck(x.caseId)]);
    const before = await timeline(first!.caseId);
    // A retry with nothing left to link: no case, no step, no owed work.
    expect(
      await openOrJoinCase(sql, "cus-steps-3", new Date(), (x) => [owedCheck(x.caseId)]),
    ).toBeUndefined();
    expect(await timeline(first!.caseId)).toEqual(before);

    const more = await hit("cus-steps-3", "high", "2026-12-06T12:05:00Z");
    const joined = await openOrJoinCase(sql, "cus-steps-3", new Date());
    expect(joined).toMatchObject({ caseId: first!.caseId, created: false, escalated: true, linked: 1 });
    const after = await timeline(first!.caseId);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map((s) => [s.kind, s.idem_key])).toEqual([
      ["case.escalated", `escalated:${first!.caseId}:high`],
      ["evidence.added", `decision:${more}`],
    ]);
    const [n] = await sql`select count(*)::int as n from owed_work where key = ${`check-${first!.caseId}`}`;
    expect(n?.n).toBe(1);
  });

  it("costs a handful of statements in one transaction, however many decisions it takes", async () => {
    await customer("cus-steps-4");
    for (let i = 0; i < 5; i++) await hit("cus-steps-4", "medium", `2026-12-06T13:0${i}:00Z`);
    const statements: string[] = [];
    const counted = postgres(database.url, {
      max: 1,
      onnotice: () => {},
      debug: (_conn, query) => {
        // The client's one look at the server's array types, on its first connection, is not the step's.
        if (!/pg_catalog/.test(query)) statements.push(query.replace(/\s+/g, " ").trim());
      },
    }) as unknown as Sql;
    try {
      const u = await openOrJoinCase(counted, "cus-steps-4", new Date(), (x) => [owedCheck(x.caseId)]);
      expect(u).toMatchObject({ created: true, linked: 5 });
    } finally {
      await counted.end();
    }
    expect(
      (await timeline((await sql`select id from cases where customer_id = 'cus-steps-4'`)[0]!.id)).length,
    ).toBe(7);
    // begin, the decisions, the case, the advocates (locked, then counted), the assignment, then
    // one statement for the decisions' link, all seven timeline steps and the owed check; commit.
    expect(statements.filter((q) => /insert into case_timeline/i.test(q))).toHaveLength(1);
    expect(statements, statements.join("\n")).toHaveLength(8);
  });
});

describe("what a cases job finds, in one read", () => {
  it("decisions no case has yet; once linked, nothing to link and the check the case still needs", async () => {
    expect(await caseJobState(sql, "cus-steps-nobody")).toEqual({ unlinked: false, followUps: undefined });
    await customer("cus-steps-6");
    await hit("cus-steps-6", "high", "2026-12-06T15:00:00Z");
    expect(await caseJobState(sql, "cus-steps-6")).toEqual({ unlinked: true, followUps: undefined });
    const u = await openOrJoinCase(sql, "cus-steps-6", new Date());
    expect(await caseJobState(sql, "cus-steps-6")).toEqual({
      unlinked: false,
      followUps: { caseId: u!.caseId, severity: "high", needsCheck: true, waitUntil: null },
    });
    // Once the contact policy has decided on the check, it is no longer owed.
    await addTimelineEntries(sql, [
      { caseId: u!.caseId, kind: "contact.decided", idemKey: `policy:${u!.caseId}`, detail: {} },
    ]);
    expect((await caseJobState(sql, "cus-steps-6")).followUps?.needsCheck).toBe(false);
  });
});

describe("a message's status and the step that records it", () => {
  it("are one statement: written together, the step even when a receipt moved the row on first, each once", async () => {
    await customer("cus-steps-7");
    await hit("cus-steps-7", "high", "2026-12-06T16:00:00Z");
    const { caseId } = (await openOrJoinCase(sql, "cus-steps-7", new Date()))!;
    const claim = (key: string) =>
      claimOutbound(sql, {
        caseId,
        customerId: "cus-steps-7",
        kind: "fraud_check",
        body: "Did you make this payment?",
        to: "+33612345678",
        from: "touchpoint",
        transport: "vonage",
        idemKey: key,
      });
    const sent = (key: string, messageId: string) => ({
      caseId,
      kind: "message.sent" as const,
      idemKey: `sent:${key}`,
      detail: { messageId, kind: "fraud_check" },
    });
    const { message } = await claim(`${caseId}:check`);
    await setOutboundStatus(sql, message.id, "submitted", { providerId: "uuid-steps-7" }, [
      sent(message.idemKey, message.id),
    ]);
    // Its retry (the step's key is there already) writes nothing twice.
    await setOutboundStatus(sql, message.id, "submitted", { providerId: "uuid-steps-7" }, [
      sent(message.idemKey, message.id),
    ]);
    const [row] = await sql`select status, provider_id from messages where id = ${message.id}`;
    expect(row).toMatchObject({ status: "submitted", provider_id: "uuid-steps-7" });

    // A receipt faster than the worker: the row stays delivered, and the step is still recorded.
    const other = (await claim(`${caseId}:reminder`)).message;
    await applyReceipt(sql, { providerId: "uuid-steps-7b", clientRef: other.idemKey, status: "delivered" });
    await setOutboundStatus(sql, other.id, "submitted", { providerId: "uuid-steps-7b" }, [
      sent(other.idemKey, other.id),
    ]);
    const [late] = await sql`select status from messages where id = ${other.id}`;
    expect(late?.status).toBe("delivered");
    const steps = await sql`
      select idem_key, detail from case_timeline where case_id = ${caseId} and kind = 'message.sent' order by id`;
    expect(steps.map((t) => [t.idem_key, t.detail.messageId])).toEqual([
      [`sent:${message.idemKey}`, message.id],
      [`sent:${other.idemKey}`, other.id],
    ]);

    // The step's history and its caps' counts in one read: the counts contactCounts gives.
    const now = new Date();
    for (const excludeKey of [message.idemKey, `${caseId}:ask2`]) {
      const history = await contactHistory(sql, caseId, { customerId: "cus-steps-7", now, excludeKey });
      expect(history).toEqual({
        askedOn: "sms",
        called: false,
        counts: await contactCounts(sql, "cus-steps-7", caseId, now, excludeKey),
      });
    }
    expect(await contactHistory(sql, caseId)).toEqual({ askedOn: "sms", called: false });
  });
});

describe("steps written together", () => {
  it("keep the order given and skip only the keys already written", async () => {
    await customer("cus-steps-5");
    await hit("cus-steps-5", "low", "2026-12-06T14:00:00Z");
    const u = await openOrJoinCase(sql, "cus-steps-5", new Date());
    const caseId = u!.caseId;
    const entry = (key: string) => ({ caseId, kind: "note.added" as const, idemKey: key, detail: { key } });
    const keys = Array.from({ length: 40 }, (_, i) => `note:${caseId}:${(i * 7) % 40}`);
    expect(await addTimelineEntries(sql, keys.slice(0, 10).map(entry))).toEqual(new Set(keys.slice(0, 10)));
    // A retry of all forty: the ten already there are skipped, the thirty others keep their order.
    expect(await addTimelineEntries(sql, keys.map(entry))).toEqual(new Set(keys.slice(10)));
    const notes = await sql`
      select idem_key, detail from case_timeline where case_id = ${caseId} and kind = 'note.added' order by id`;
    expect(notes.map((n) => n.idem_key)).toEqual(keys);
    expect(notes[3]?.detail).toEqual({ key: keys[3] });
  });
});
