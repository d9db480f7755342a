import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContactDeps, deliver } from "../engine/outreach/contact.ts";
import { signVonageWebhook } from "../engine/outreach/signature.ts";
import { defaultStrategy } from "../engine/outreach/strategy.ts";
import { getCustomer } from "../engine/store/people.ts";
import {
  eventually,
  type Json,
  loadPeopleVia,
  loadStory,
  openCaseWith,
  playStory,
} from "../fixtures/stories.ts";
import { type FakeVonage, startFakeVonage, vonageEnv } from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const SECRET = "test-signature-secret-0123456789";
const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };
const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };

const tx = (id: string, customerId: string, occurredAt: string, place: typeof PARIS, last4 = "5555") => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4 },
  amount: { value: 640, currency: "EUR" },
  merchant: { name: "Maison Test", mcc: "5311", ...place },
  channel: "card_present",
});

describe("the contact loop, through the real SDK against a fake Vonage", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  let clock = new Date("2026-11-22T12:00:00Z");
  let uuid = 0;

  beforeAll(async () => {
    fake = await startFakeVonage();
    t = await startTestTouchpoint({
      env: {
        ...vonageEnv(fake, SECRET),
      },
      now: () => clock,
    });
    await loadPeopleVia(t.api);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const textsTo = (number: string) => fake.messages.filter((m) => m.to === number);
  const caseById = async (id: string): Promise<Json> => (await t.api("GET", `/v1/cases/${id}`)).body;
  const kinds = (c: Json): string[] => c.timeline.map((s: { kind: string }) => s.kind);

  async function webhook(
    path: "inbound" | "status",
    body: object,
    opts: { secret?: string; at?: Date; tamper?: boolean } = {},
  ) {
    const raw = JSON.stringify(body);
    const authorization = await signVonageWebhook({
      rawBody: raw,
      secret: opts.secret ?? SECRET,
      now: opts.at ?? new Date(),
    });
    return t.tp.app!.request(`/webhooks/vonage/${path}`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: opts.tamper ? raw.replace(/"text":"[^"]*"/, '"text":"YES"') : raw,
    });
  }
  const inbound = (from: string, text: string, id = `in-${++uuid}`) => ({
    channel: "sms",
    message_uuid: id,
    to: "TPBank",
    from,
    timestamp: new Date().toISOString(),
    text,
    message_type: "text",
    sms: { num_messages: "1" },
  });

  /** A customer with an open, texted impossible-travel case (high severity). */
  async function textedCase(id: string, phone: string, opts: { language?: string } = {}) {
    await t.api("PUT", `/v1/customers/${id}`, {
      name: `Customer ${id}`,
      phone,
      homeCountry: "FR",
      language: opts.language ?? "en",
    });
    await t.api("POST", "/v1/events", [
      tx(`${id}-a`, id, "2026-11-22T09:10:00Z", PARIS),
      tx(`${id}-b`, id, "2026-11-22T10:40:00Z", PHNOM_PENH),
    ]);
    const kase = await openCaseWith(t.api, id, ["impossible-location-spend"]);
    const digits = phone.replace("+", "");
    await eventually(async () => (textsTo(digits).length > 0 ? true : undefined), 20_000, `a text to ${id}`);
    await t.drained();
    return kase;
  }

  it("texts Sophie once about the Paris payment, naming her advocate, with no link", async () => {
    const [kase] = await playStory(t.api, loadStory("phnom-penh-paris"));
    await eventually(async () => (textsTo("447911123042").length > 0 ? true : undefined));
    await t.drained();
    const texts = textsTo("447911123042");
    expect(texts).toHaveLength(1);
    const text = texts[0]!;
    expect(text.text).toBe(
      "Touchpoint Bank: did you pay EUR 2,300.00 at Galerie Lumière, Paris with card ending 4242? Reply YES or NO. Amara Okafor is looking after this.",
    );
    expect(text).toMatchObject({ from: "TPBank", clientRef: `${kase.id}:check` });
    const c = await caseById(kase.id);
    expect(c.messages).toMatchObject([{ direction: "outbound", status: "submitted", transport: "vonage" }]);
    const decided = c.timeline.find((s: Json) => s.kind === "contact.decided");
    expect(decided.detail).toMatchObject({ action: "send" });
    expect(kinds(c)).toContain("message.sent");
  });

  it("on a signed NO: confirms fraud, blocks the card, alerts the advocate and warns about scam calls, once however often Vonage resends", async () => {
    const [open] = (await t.api("GET", "/v1/cases?customerId=cus-42&status=open")).body.items;
    const body = inbound("447911123042", "No, that wasn't me!");
    expect((await webhook("inbound", body)).status).toBe(200);
    expect((await webhook("inbound", body)).status).toBe(200); // Vonage resends when unsure
    const c = await eventually(async () => {
      const x = await caseById(open.id);
      return x.outcome === "confirmed_fraud" && x.messages.length >= 3 ? x : undefined;
    });
    // Confirmed, not closed: the advocate calls the customer, then resolves it.
    expect(c.status).toBe("open");
    expect(kinds(c)).toEqual(
      expect.arrayContaining(["reply.received", "case.confirmed", "action.card_block", "advocate.alerted"]),
    );
    expect(c.attention).toMatch(/call them, the card is being blocked/);
    const action = await t.tp.queues.actions.getJob(`card-block-${open.id}`);
    expect(action?.data).toMatchObject({
      type: "card.block",
      caseId: open.id,
      cards: [{ id: "card-42a", last4: "4242" }],
    });
    await webhook("inbound", body);
    await t.drained();
    const after = await caseById(open.id);
    expect(after.messages.filter((m: Json) => m.direction === "inbound")).toHaveLength(1);
    expect(after.timeline.filter((s: Json) => s.kind === "reply.received")).toHaveLength(1);
    const followUps = textsTo("447911123042").filter((m) => m.text.includes("blocked"));
    expect(followUps).toHaveLength(1);
    expect(followUps[0]!.text).toContain("never ask for codes or to move money");

    // Amara calls Sophie, notes it and closes the case; the outcome stands.
    const amara = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    await amara("POST", `/v1/cases/${open.id}/notes`, {
      text: "Called Sophie: card blocked, new one on its way.",
    });
    const closed = await amara("POST", `/v1/cases/${open.id}/resolve`, { outcome: "confirmed_fraud" });
    expect(closed.body.case).toMatchObject({
      status: "resolved",
      outcome: "confirmed_fraud",
      attention: null,
    });
  });

  it("asks about account behaviour in its own words, and locks the account on NO", async () => {
    await t.api("PUT", "/v1/customers/ato-1", {
      name: "Ada Taken",
      phone: "+33612340013",
      homeCountry: "FR",
    });
    const base = { customerId: "ato-1", device: { id: "dev-x" }, ip: "198.51.100.9" };
    await t.api("POST", "/v1/events", [
      { ...base, id: "ato-reset", type: "password.reset", occurredAt: "2026-11-22T10:00:00Z" },
      {
        ...base,
        id: "ato-payee",
        type: "payee.added",
        occurredAt: "2026-11-22T10:20:00Z",
        payee: { name: "J Smith", country: "GB" },
      },
    ]);
    const kase = await openCaseWith(t.api, "ato-1", ["payee-after-password-reset"]);
    await eventually(async () => (textsTo("33612340013").length === 1 ? true : undefined));
    expect(textsTo("33612340013")[0]!.text).toContain(
      "was it you, adding a new payee just now? Reply YES or NO.",
    );
    await webhook("inbound", inbound("33612340013", "no"));
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.messages.length >= 3 ? x : undefined;
    });
    expect(c.outcome).toBe("confirmed_fraud");
    expect(kinds(c)).toContain("action.account_lock");
    expect((await t.tp.queues.actions.getJob(`account-lock-${kase.id}`))?.data).toMatchObject({
      type: "account.lock",
      cards: [],
    });
    // The message row is written before Vonage is called: wait for the text itself.
    await eventually(async () => (textsTo("33612340013").length === 2 ? true : undefined));
    expect(textsTo("33612340013").at(-1)!.text).toContain("We have secured your account");
  });

  it("on YES: closes the case as a false alarm and thanks the customer in their language", async () => {
    const kase = await textedCase("yes-1", "+33612340001", { language: "fr" });
    expect(textsTo("33612340001")[0]!.text).toMatch(/^Touchpoint Bank : avez-vous payé 640,00 EUR/);
    await webhook("inbound", inbound("33612340001", "Oui 👍"));
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.outcome === "false_alarm" && x.messages.length >= 3 ? x : undefined;
    });
    expect(c.status).toBe("resolved");
    await eventually(async () => (textsTo("33612340001").length === 2 ? true : undefined));
    expect(textsTo("33612340001").at(-1)!.text).toContain("merci de votre confirmation");

    // A NO after the case closed is not lost: it is filed with the case and put in front of the advocate.
    await webhook("inbound", inbound("33612340001", "non"));
    const late = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.attention ? x : undefined;
    });
    expect(late.attention).toMatch(/wrote after the case was closed/);
    expect(late.outcome).toBe("false_alarm");
  });

  it("labels every rule that fired with the customer's answer, for its precision", async () => {
    const stats = (await t.api("GET", "/v1/rulesets/stats")).body.items as Json[];
    const impossible = stats.find((r) => r.rule === "impossible-location-spend");
    // Sophie said NO (confirmed fraud), the French customer said OUI (false alarm).
    expect(impossible).toMatchObject({ confirmed: 1, falseAlarms: 1, precision: 0.5 });
    const metrics = await (await t.tp.app!.request("/metrics")).text();
    expect(metrics).toMatch(
      /^touchpoint_time_to_resolve_seconds_count\{outcome="confirmed_fraud",by="advocate"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^touchpoint_time_to_resolve_seconds_count\{outcome="false_alarm",by="customer"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^touchpoint_time_to_contact_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^touchpoint_contact_decisions_total\{action="send"\} [1-9]/m);
    const foreign = stats.find((r) => r.rule === "foreign-spend-without-travel-notice");
    expect(foreign.confirmed).toBeGreaterThanOrEqual(1);
  });

  it("acts on one answer when YES and NO race, and tells the advocate about the other", async () => {
    const kase = await textedCase("race-1", "+33612340014");
    await Promise.all([
      webhook("inbound", inbound("33612340014", "YES")),
      webhook("inbound", inbound("33612340014", "NO")),
    ]);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.messages.filter((m: Json) => m.direction === "inbound").length === 2 && x.messages.length >= 4
        ? x
        : undefined;
    });
    await t.drained();
    const after = await caseById(kase.id);
    const texts = textsTo("33612340014").map((m) => m.text);
    if (after.outcome === "confirmed_fraud") {
      expect(texts.some((x) => x.includes("thank you for confirming"))).toBe(false);
      expect(kinds(after)).toContain("action.card_block");
    } else {
      expect(after.outcome).toBe("false_alarm");
      expect(kinds(after)).not.toContain("action.card_block");
      expect(texts.some((x) => x.includes("blocked"))).toBe(false);
    }
    // Whichever lost is in front of the advocate, whether it lost the race or came just after.
    const late = after.timeline.filter(
      (s: Json) =>
        (s.kind === "advocate.alerted" && /after the case was settled/.test(s.detail.reason)) ||
        (s.kind === "reply.received" && s.detail.note === "arrived after the case was closed"),
    );
    expect(late).toHaveLength(1);
    expect(c.outcome).not.toBeNull();
  });

  it("sends one text when several jobs race on the same send decision", async () => {
    await t.api("PUT", "/v1/customers/dup-1", { name: "Dup", phone: "+33612340015", homeCountry: "FR" });
    const customer = (await getCustomer(t.tp.db.sql, "dup-1"))!;
    let sends = 0;
    const deps: ContactDeps = {
      sql: t.tp.db.sql,
      latestLocation: async () => undefined,
      strategy: defaultStrategy({ voiceAfterMinutes: 10, replyTimeoutMinutes: 30 }),
      transport: {
        kind: "vonage",
        channels: new Set(["sms"]),
        async send() {
          sends++;
          await new Promise((r) => setTimeout(r, 20));
          return { messageUuid: `race-${sends}` };
        },
      },
      from: "TPBank",
      bank: { name: "Touchpoint Bank", phone: "+44 20 7946 0000" },
      policy: {
        quietStartHour: 21,
        quietEndHour: 8,
        maxPerIncident: 3,
        maxPer3Days: 3,
        replyTimeoutMinutes: 30,
      },
      log: t.tp.log,
      metrics: t.tp.metrics,
      schedule: async () => {},
      now: () => new Date(),
    };
    const one = () =>
      deliver(deps, {
        caseId: null,
        customer,
        kind: "help",
        body: "hello",
        key: "dup-1:race",
        finalAttempt: false,
      });
    await Promise.all(Array.from({ length: 8 }, one));
    expect(sends).toBe(1);
  });

  it("refuses forged, tampered and stale webhooks with 401 and changes nothing", async () => {
    const kase = await textedCase("forge-1", "+33612340002");
    const body = inbound("33612340002", "NO");
    const forged = await webhook("inbound", body, { secret: "not-the-real-secret-0000000000" });
    const tampered = await webhook("inbound", body, { tamper: true });
    const stale = await webhook("inbound", body, { at: new Date(Date.now() - 3600_000) });
    const unsigned = await t.tp.app!.request("/webhooks/vonage/inbound", {
      method: "POST",
      body: JSON.stringify(body),
    });
    expect([forged.status, tampered.status, stale.status, unsigned.status]).toEqual([401, 401, 401, 401]);
    await t.drained();
    const c = await caseById(kase.id);
    expect(c).toMatchObject({ status: "open", outcome: null });
    expect(c.messages.filter((m: Json) => m.direction === "inbound")).toEqual([]);
  });

  it("honours STOP at once: one confirmation, then no more texts, even for a new incident", async () => {
    const kase = await textedCase("stop-1", "+33612340003");
    await webhook("inbound", inbound("33612340003", "STOP"));
    await webhook("inbound", inbound("33612340003", "stop"));
    await eventually(async () => (textsTo("33612340003").length === 2 ? true : undefined));
    await t.drained();
    expect(textsTo("33612340003").at(-1)!.text).toContain("no more texts");
    expect((await t.api("GET", "/v1/customers/stop-1")).body.optedOutAt).not.toBeNull();

    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "false_alarm" });
    await t.api("POST", "/v1/events", [
      tx("stop-1-c", "stop-1", "2026-11-29T09:10:00Z", PARIS),
      tx("stop-1-d", "stop-1", "2026-11-29T10:40:00Z", PHNOM_PENH),
    ]);
    const second = await openCaseWith(t.api, "stop-1", ["impossible-location-spend"]);
    await eventually(async () => {
      const c = await caseById(second.id);
      return kinds(c).includes("task.call_customer") ? c : undefined;
    });
    await t.drained();
    expect(textsTo("33612340003")).toHaveLength(2);
    const c = await caseById(second.id);
    // The strategy passed over SMS, saying why, and (with no automated calls configured here)
    // handed the case to a person at once.
    expect(c.timeline.find((s: Json) => s.kind === "contact.step").detail).toMatchObject({
      action: "skip",
      reason: expect.stringContaining("the customer opted out of sms"),
    });
  });

  it("after STOP sends nothing but the one confirmation, even the card-blocked answer to a NO", async () => {
    const kase = await textedCase("stop-2", "+33612340095");
    await webhook("inbound", inbound("33612340095", "STOP"));
    await eventually(async () => (textsTo("33612340095").length === 2 ? true : undefined));
    await webhook("inbound", inbound("33612340095", "NO"));
    await eventually(async () => {
      const c = await caseById(kase.id);
      return c.outcome === "confirmed_fraud" ? c : undefined;
    });
    await t.drained();
    expect(textsTo("33612340095")).toHaveLength(2);
    expect(textsTo("33612340095").at(-1)!.text).toContain("no more texts");
    // Not even written down as a text refused: nothing was to be sent, so nothing failed.
    const [row] = await t.tp.db.sql`
      select count(*)::int as n from messages where case_id = ${kase.id} and kind = 'card_blocked'`;
    expect(row?.n).toBe(0);
  });

  it("answers HELP with who we are and how to stop, and passes anything else to the advocate", async () => {
    const kase = await textedCase("help-1", "+33612340004");
    await webhook("inbound", inbound("33612340004", "help"));
    await webhook("inbound", inbound("33612340004", "who is this? I'm in a meeting"));
    await eventually(async () => (textsTo("33612340004").length === 2 ? true : undefined));
    expect(textsTo("33612340004").at(-1)!.text).toMatch(/Reply STOP/);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.timeline.filter((s: Json) => s.kind === "advocate.alerted").length > 0 ? x : undefined;
    });
    expect(c.status).toBe("open");
  });

  it("logs and ignores a reply from a number that belongs to no customer", async () => {
    expect((await webhook("inbound", inbound("447000000001", "NO"))).status).toBe(200);
    await t.drained();
    const [r] = await t.tp.db
      .sql`select customer_id, case_id from messages where from_number = '+447000000001'`;
    expect(r).toEqual({ customer_id: null, case_id: null });
  });

  it("defers a medium-severity text for a customer in Phnom Penh at 02:30 their time, and texts a high one at once", async () => {
    clock = new Date("2026-11-22T19:30:00Z");
    try {
      await t.api("PUT", "/v1/customers/kh-medium", {
        name: "Night Owl",
        phone: "+33612340005",
        homeCountry: "FR",
      });
      await t.api("POST", "/v1/events", [tx("khm-1", "kh-medium", "2026-11-22T18:00:00Z", PHNOM_PENH)]);
      const medium = await openCaseWith(t.api, "kh-medium", ["foreign-spend-without-travel-notice"]);
      const decided = await eventually(async () =>
        (await caseById(medium.id)).timeline.find((s: Json) => s.kind === "contact.decided"),
      );
      expect(decided.detail).toMatchObject({
        action: "defer",
        timezone: "Asia/Phnom_Penh",
        localTime: "02:30",
        notBefore: "2026-11-23T01:00:00.000Z",
      });
      // The timeline entry is written before the morning check is queued: wait for the job.
      const morning = await eventually(async () =>
        (await t.tp.queues.outreach.getDelayed()).find(
          (j) => j.data.type === "check" && j.data.caseId === medium.id,
        ),
      );
      expect(morning.opts.delay).toBeGreaterThan(0);
      expect(textsTo("33612340005")).toEqual([]);

      // Paris then Phnom Penh: impossible, high, and the customer is now in Phnom Penh at night.
      await t.api("PUT", "/v1/customers/kh-high", {
        name: "Night Traveller",
        phone: "+33612340006",
        homeCountry: "FR",
      });
      await t.api("POST", "/v1/events", [
        tx("khh-1", "kh-high", "2026-11-22T16:00:00Z", PARIS),
        tx("khh-2", "kh-high", "2026-11-22T18:00:00Z", PHNOM_PENH),
      ]);
      await eventually(async () => (textsTo("33612340006").length === 1 ? true : undefined));
      const high = await openCaseWith(t.api, "kh-high", ["impossible-location-spend"]);
      const d = (await caseById(high.id)).timeline.find((s: Json) => s.kind === "contact.decided");
      expect(d.detail).toMatchObject({ action: "send", timezone: "Asia/Phnom_Penh" });
      expect(d.detail.reason).toContain("high severity");
    } finally {
      clock = new Date("2026-11-22T12:00:00Z");
    }
  });

  it("retries through Vonage throttling and still sends exactly one text", async () => {
    fake.failNext(429, 2, { title: "Throttled" });
    const kase = await textedCase("throttle-1", "+33612340007");
    expect(textsTo("33612340007")).toHaveLength(1);
    expect((await caseById(kase.id)).messages[0]).toMatchObject({ status: "submitted" });
    // Without a Retry-After, each throttled try is an attempt, retried with backoff.
    expect((await t.tp.queues.outreach.getJob(`check-${kase.id}-high`))?.attemptsMade).toBe(3);
  });

  it("honours Vonage's Retry-After by pausing outreach, without spending the text's attempts", async () => {
    fake.failNext(429, 1, { title: "Throttled" }, { "retry-after": "1" });
    const kase = await textedCase("throttle-2", "+33612340012");
    expect(textsTo("33612340012")).toHaveLength(1);
    // Only the attempt that succeeded counts: the throttled one went back to wait, not to failed.
    const job = await t.tp.queues.outreach.getJob(`check-${kase.id}-high`);
    expect(job?.attemptsMade).toBe(1);
  });

  it("records delivery receipts; a permanent failure becomes a call task for the advocate", async () => {
    const kase = await textedCase("dlr-1", "+33612340008");
    const sent = textsTo("33612340008")[0]!;
    await webhook("status", {
      message_uuid: sent.messageUuid,
      to: "33612340008",
      status: "delivered",
      timestamp: new Date().toISOString(),
      channel: "sms",
      client_ref: sent.clientRef,
    });
    await eventually(async () =>
      (await caseById(kase.id)).messages[0].status === "delivered" ? true : undefined,
    );

    const other = await textedCase("dlr-2", "+33612340009");
    const m2 = textsTo("33612340009")[0]!;
    await webhook("status", {
      message_uuid: m2.messageUuid,
      status: "undeliverable",
      timestamp: new Date().toISOString(),
      client_ref: m2.clientRef,
      error: {
        type: "https://developer.vonage.com/api-errors/messages#1320",
        title: "1320",
        detail: "Number blocked by carrier",
      },
    });
    const c = await eventually(async () => {
      const x = await caseById(other.id);
      return kinds(x).includes("task.call_customer") ? x : undefined;
    });
    expect(c.messages[0].status).toBe("undeliverable");
  });

  it("holds a medium-severity reminder until the customer's morning", async () => {
    await t.api("PUT", "/v1/customers/late-1", {
      name: "Late Reminder",
      phone: "+33612340016",
      homeCountry: "FR",
    });
    const london = { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 };
    await t.api("POST", "/v1/events", [tx("late-1-a", "late-1", "2026-11-22T11:50:00Z", london)]);
    const kase = await openCaseWith(t.api, "late-1", ["foreign-spend-without-travel-notice"]);
    await eventually(async () => (textsTo("33612340016").length === 1 ? true : undefined));
    clock = new Date("2026-11-22T22:30:00Z"); // 22:30 in London, where the customer is
    try {
      await (await eventually(async () => t.tp.queues.outreach.getJob(`noreply-${kase.id}-1`)))!.promote();
      const held = await eventually(async () => {
        const c = await caseById(kase.id);
        const d = c.timeline.filter((s: Json) => s.kind === "contact.decided");
        return d.length === 2 ? d[1] : undefined;
      });
      expect(held.detail).toMatchObject({
        action: "defer",
        timezone: "Europe/London",
        notBefore: "2026-11-23T08:00:00.000Z",
      });
      // The decision is on the timeline a moment before the deferred reminder is queued.
      expect(
        await eventually(async () =>
          t.tp.queues.outreach.getJob(`noreply-${kase.id}-1-at-${Date.parse("2026-11-23T08:00:00Z")}`),
        ),
      ).toBeDefined();
      expect(textsTo("33612340016")).toHaveLength(1);
    } finally {
      clock = new Date("2026-11-22T12:00:00Z");
    }
  });

  it("resends a text the handset was too busy to take, as a new text with its own key", async () => {
    const kase = await textedCase("busy-1", "+33612340011");
    const first = textsTo("33612340011")[0]!;
    await webhook("status", {
      message_uuid: first.messageUuid,
      status: "undeliverable",
      timestamp: new Date().toISOString(),
      client_ref: first.clientRef,
      error: {
        type: "https://developer.vonage.com/api-errors/messages#1307",
        title: "1307",
        detail: "Handset busy",
      },
    });
    const retry = await eventually(async () => t.tp.queues.outreach.getJob(`resend-${kase.id}_check-1`));
    await retry.promote();
    await eventually(async () => (textsTo("33612340011").length === 2 ? true : undefined));
    expect(textsTo("33612340011")[1]).toMatchObject({ text: first.text, clientRef: `${kase.id}:check~1` });
    expect(kinds(await caseById(kase.id))).not.toContain("task.call_customer");
  });

  it("sends one reminder on a medium case when nobody answers, then asks the advocate to call", async () => {
    await t.api("PUT", "/v1/customers/quiet-1", {
      name: "Quiet One",
      phone: "+33612340010",
      homeCountry: "FR",
    });
    const london = { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 };
    await t.api("POST", "/v1/events", [tx("quiet-1-a", "quiet-1", "2026-11-22T11:50:00Z", london)]);
    const kase = await openCaseWith(t.api, "quiet-1", ["foreign-spend-without-travel-notice"]);
    await eventually(async () => (textsTo("33612340010").length === 1 ? true : undefined));
    await t.drained();
    const first = await t.tp.queues.outreach.getJob(`noreply-${kase.id}-1`);
    expect(first).toBeDefined();
    await first!.promote();
    await eventually(async () => (textsTo("33612340010").length === 2 ? true : undefined));
    expect(textsTo("33612340010")[1]!.text).toMatch(/please tell us/);
    const second = await eventually(async () => t.tp.queues.outreach.getJob(`noreply-${kase.id}-2`));
    await second.promote();
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return kinds(x).includes("task.call_customer") ? x : undefined;
    });
    expect(c.timeline.find((s: Json) => s.kind === "task.call_customer").detail.reason).toMatch(/no answer/);
    // The reminder went through the contact policy like the first text.
    expect(c.timeline.filter((s: Json) => s.kind === "contact.decided")).toHaveLength(2);
    // The desk and the API say what the advocate must do now.
    expect(c.attention).toMatch(/call the customer: no answer/);
    const listed = (await t.api("GET", "/v1/cases?customerId=quiet-1")).body.items[0];
    expect(listed.attention).toBe(c.attention);
    expect(textsTo("33612340010")).toHaveLength(2);
  });

  it("sends an advocate's own text through Vonage, once per Idempotency-Key, on the thread with who wrote it", async () => {
    const kase = await textedCase("typed-1", "+33612340020");
    const fraud = await t.tp.db.sql`select team from cases where id = ${kase.id}`;
    await t.api("PUT", "/v1/advocates/adv-typed", {
      name: "Tariq Typed",
      team: fraud[0]!.team,
      status: "online",
    });
    const tariq = t.as(await t.token("advocate", { advocateId: "adv-typed" }));
    const text = "Hello, this is Tariq from Touchpoint Bank. Are you in Phnom Penh right now?";
    const sent = await tariq("POST", `/v1/cases/${kase.id}/messages`, { text }, { "idempotency-key": "k-1" });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ caseId: kase.id, body: text, status: "pending", transport: "vonage" });
    // The client's retry of the same request is the same text, not a second one.
    const again = await tariq(
      "POST",
      `/v1/cases/${kase.id}/messages`,
      { text },
      { "idempotency-key": "k-1" },
    );
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(sent.body.id);
    await eventually(async () => (textsTo("33612340020").length === 2 ? true : undefined));
    await t.drained();
    expect(textsTo("33612340020").map((m) => m.text)).toEqual([
      expect.stringMatching(/Reply YES or NO/),
      text,
    ]);
    const c = await caseById(kase.id);
    expect(c.messages.at(-1)).toMatchObject({
      kind: "advocate",
      body: text,
      status: "submitted",
      author: { id: "adv-typed", name: "Tariq Typed" },
    });
    expect(c.timeline.find((s: Json) => s.kind === "message.written")).toMatchObject({
      actor: "adv-typed",
      detail: { text },
    });

    // Links and card numbers never go out, and the reason says which field and why.
    const link = await tariq("POST", `/v1/cases/${kase.id}/messages`, {
      text: "Check https://touchpoint.example/x",
    });
    expect(link.status).toBe(422);
    expect(link.body.error.issues).toEqual([
      { path: "text", message: expect.stringMatching(/never carry links/) },
    ]);
    const card = await tariq("POST", `/v1/cases/${kase.id}/messages`, {
      text: "Is 4242 4242 4242 4242 yours?",
    });
    expect(card.body.error.issues[0].message).toMatch(/card number/);
    // Readers who do not work cases cannot write to customers.
    const ingest = t.as(await t.token("ingest"));
    expect((await ingest("POST", `/v1/cases/${kase.id}/messages`, { text: "hi" })).status).toBe(403);
    // After STOP, an advocate's text is refused with the reason, and nothing is stored.
    await webhook("inbound", inbound("33612340020", "STOP"));
    await eventually(async () => ((await caseById(kase.id)).customer.optedOut ? true : undefined));
    const stopped = await tariq("POST", `/v1/cases/${kase.id}/messages`, { text: "Are you there?" });
    expect(stopped.status).toBe(409);
    expect(stopped.body.error.message).toMatch(/replied STOP/);
    const [n] = await t.tp.db
      .sql`select count(*)::int as n from messages where case_id = ${kase.id} and kind = 'advocate'`;
    expect(n!.n).toBe(1);
  });

  it("refuses an advocate's text giving a number other than the bank's, and a key reused for another text, storing nothing", async () => {
    const kase = await textedCase("typed-2", "+33612340021");
    const fraud = await t.tp.db.sql`select team from cases where id = ${kase.id}`;
    await t.api("PUT", "/v1/advocates/adv-typed-2", {
      name: "Ty Ped",
      team: fraud[0]!.team,
      status: "online",
    });
    const ty = t.as(await t.token("advocate", { advocateId: "adv-typed-2" }));
    const messages = `/v1/cases/${kase.id}/messages`;
    const stored = async () =>
      (await t.tp.db.sql`select body from messages where case_id = ${kase.id} and kind = 'advocate'`).map(
        (r) => r.body as string,
      );

    // The bank's own number, in any format, may go; any other may not.
    const bank = "Call us on 020 7946 0000 if you are unsure.";
    expect((await ty("POST", messages, { text: bank }, { "idempotency-key": "k-bank" })).status).toBe(202);
    for (const [text, n] of [
      // Named as written, so the advocate finds it in the text.
      ["Call me on my direct line, +44 7911 123456.", "+44 7911 123456"],
      ["Ring 07700 900999 to sort it out", "07700 900999"],
      ["Ring ０７７００ ９００９９９", "07700 900999"],
      ["Ring 212-736-5000", "212-736-5000"],
    ]) {
      const r = await ty("POST", messages, { text });
      expect(r.status, text).toBe(422);
      expect(r.body.error.issues, text).toEqual([
        {
          path: "text",
          message: `a phone number (${n}) other than the bank's; give only the bank's own, +44 20 7946 0000`,
        },
      ]);
    }
    expect(await stored()).toEqual([bank]);

    // The same key again: the same text is the first answer; another text is refused.
    const again = await ty("POST", messages, { text: bank }, { "idempotency-key": "k-bank" });
    expect(again.status).toBe(200);
    const other = await ty("POST", messages, { text: "Are you there?" }, { "idempotency-key": "k-bank" });
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({
      code: "unprocessable",
      issues: [{ path: "Idempotency-Key", message: expect.stringMatching(/different text/) }],
    });
    expect(await stored()).toEqual([bank]);
    const c = await caseById(kase.id);
    expect(c.timeline.filter((s: Json) => s.kind === "message.written")).toHaveLength(1);
  });

  it("replaces a card after a NO: the card system gets the request, the customer a text naming only a town or branch", async () => {
    const kase = await textedCase("repl-1", "+33612340030");
    const early = await t.api("POST", `/v1/cases/${kase.id}/actions`, {
      type: "card.replace",
      deliverTo: { kind: "home" },
    });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toBe("a card is replaced on a confirmed-fraud case only");
    await webhook("inbound", inbound("33612340030", "NO"));
    await eventually(async () =>
      (await caseById(kase.id)).outcome === "confirmed_fraud" ? true : undefined,
    );
    await t.drained();
    const before = textsTo("33612340030").length;

    const bad = await t.api("POST", `/v1/cases/${kase.id}/actions`, {
      type: "card.replace",
      deliverTo: { kind: "address", line1: "12 rue de la République", city: "Lyon", postcode: "69002" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([expect.objectContaining({ path: "deliverTo.country" })]);
    const toLyon = {
      type: "card.replace",
      deliverTo: {
        kind: "address",
        line1: "12 rue de la République",
        city: "Lyon",
        postcode: "69002",
        country: "FR",
      },
    };
    const done = await t.api("POST", `/v1/cases/${kase.id}/actions`, toLyon);
    expect(done.status).toBe(202);
    expect(done.body).toMatchObject({
      texted: true,
      action: { type: "card.replace", card: { id: "repl-1-card", last4: "5555" } },
    });
    // The card system gets the whole address; the answer and the text do not carry it.
    const job = await t.tp.queues.actions.getJob(`replace-${kase.id}-repl-1-card`);
    expect(job?.data).toMatchObject({
      type: "card.replace",
      caseId: kase.id,
      deliverTo: { kind: "address", line1: "12 rue de la République", city: "Lyon", postcode: "69002" },
    });
    expect(JSON.stringify(done.body)).not.toContain("République");
    await eventually(async () => (textsTo("33612340030").length === before + 1 ? true : undefined));
    const text = textsTo("33612340030").at(-1)!.text;
    expect(text).toMatch(
      /^Touchpoint Bank: your new card, replacing the one ending 5555, is on its way to the address you gave us in Lyon and should be there by (Mon|Tue|Wed|Thu|Fri) \d{1,2} [A-Z][a-z]{2}\. /,
    );
    expect(text).not.toMatch(/République|69002/);
    const c = await caseById(kase.id);
    expect(c.timeline.find((s: Json) => s.kind === "action.card_replace")).toMatchObject({
      detail: { card: { last4: "5555" }, deliverTo: "address" },
    });
    // The same request again (a client's retry) does nothing twice: one job, one text.
    const retry = await t.api("POST", `/v1/cases/${kase.id}/actions`, toLyon);
    expect(retry.status).toBe(200);
    expect(retry.body.repeated).toBe(true);
    await t.drained();
    expect(textsTo("33612340030")).toHaveLength(before + 1);
    // Once per card per case: a different request is refused, and nothing more is sent.
    const again = await t.api("POST", `/v1/cases/${kase.id}/actions`, {
      type: "card.replace",
      deliverTo: { kind: "branch", branch: "Lyon Part-Dieu" },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe("card ending 5555 is already being replaced on this case");
  });

  it("blocks a card at the advocate's word, once, whether the customer also answers NO by text", async () => {
    const kase = await textedCase("blk-1", "+33612340031");
    const block = await t.api("POST", `/v1/cases/${kase.id}/actions`, {
      type: "card.block",
      reason: "customer said on the phone the Phnom Penh payment was not hers",
    });
    expect(block.status).toBe(202);
    expect(block.body.action).toMatchObject({
      type: "card.block",
      cards: [{ id: "blk-1-card", last4: "5555" }],
    });
    const job = await t.tp.queues.actions.getJob(`card-block-${kase.id}`);
    expect(job?.data).toMatchObject({ type: "card.block", reason: expect.stringMatching(/on the phone/) });
    // Asked again (a retry): the same request under the same job, said to be a repeat.
    const again = await t.api("POST", `/v1/cases/${kase.id}/actions`, {
      type: "card.block",
      reason: "again",
    });
    expect(again.status).toBe(200);
    expect(again.body.repeated).toBe(true);
    // Her NO by text afterwards confirms the fraud but asks the card system nothing twice.
    await webhook("inbound", inbound("33612340031", "NO"));
    await eventually(async () =>
      (await caseById(kase.id)).outcome === "confirmed_fraud" ? true : undefined,
    );
    await t.drained();
    const c = await caseById(kase.id);
    expect(c.timeline.filter((s: Json) => s.kind === "action.card_block")).toHaveLength(1);
    expect(c.timeline.find((s: Json) => s.kind === "action.card_block").actor).not.toBe("system");
    const missing = await t.api("POST", `/v1/cases/${kase.id}/actions`, { type: "card.block" });
    expect(missing.body.error.issues[0].path).toBe("reason");
  });
});
