/**
 * The channels at their edges (found by a review of issue 23): each test failed on the first code,
 * a defect named in the review report. Same harness and fake as test/channels.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signVonageWebhook } from "../engine/outreach/signature.ts";
import { eventually, type Json, loadPeopleVia } from "../fixtures/stories.ts";
import { channelHelpers, channelsEnv, givePhones, SECRET } from "./support/channels.ts";
import {
  customerTexts,
  customerWhatsApps,
  type FakeVonage,
  signedPost,
  startFakeVonage,
} from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

describe("the channels at their edges", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  const clock = new Date("2026-11-22T12:00:00Z");

  beforeAll(async () => {
    fake = await startFakeVonage();
    t = await startTestTouchpoint({ listen: true, env: channelsEnv(fake), now: () => clock });
    await loadPeopleVia(t.api);
    await givePhones(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const { caseById, kinds, to, callsTo, putCustomer, openTravel, travellerCase, press } = channelHelpers(
    () => t,
    () => fake,
  );

  it("a transient Vonage error (503) on the automated call is retried, not skipped as 'already called'", async () => {
    const kase = await travellerCase("r-503", "+33612342001");
    await eventually(async () => (to("33612342001").length === 1 ? true : undefined));
    // The next request to Vonage is the automated call (VOICE_AFTER_MINUTES = 0.04): it fails once.
    fake.failNext(503, 1);
    await eventually(async () => {
      const x = await caseById(kase.id);
      return x.timeline.some((s: Json) => s.kind === "contact.step" && s.detail.step === 2) ? x : undefined;
    }, 20_000);
    // The job's retry (exponential backoff from 500 ms) either places the call or skips the step.
    await eventually(async () => {
      const x = await caseById(kase.id);
      const settled =
        callsTo("33612342001").length > 0 ||
        x.timeline.some((s: Json) => s.kind === "contact.step" && s.detail.action === "skip");
      return settled ? true : undefined;
    }, 20_000);
    await t.drained();
    const c = await caseById(kase.id);
    const skip = c.timeline.find((s: Json) => s.kind === "contact.step" && s.detail.action === "skip");
    // Before the fix: the job's retry finds the 'retrying' call row, planStep says "already called them",
    // and no call is ever placed.
    expect(skip?.detail.reason).toBeUndefined();
    expect(callsTo("33612342001")).toHaveLength(1);
  });

  it("a keypad webhook whose query names another case does not move that case", async () => {
    const a = await travellerCase("r-key-a", "+33612342002");
    const [call] = await eventually(
      async () => (callsTo("33612342002").length > 0 ? callsTo("33612342002") : undefined),
      20_000,
    );
    // Case B never had a call (its customer takes texts only).
    const b = await travellerCase("r-key-b", "+33612342003", ["sms"]);
    await eventually(async () => (to("33612342003").length === 1 ? true : undefined));
    // The body is signed (it is A's call); only the query, which the signature does not cover, names B.
    const res = await press(b.id, call!.uuid, "2", 2);
    expect(res.status).toBe(200);
    await t.drained();
    expect((await caseById(b.id)).outcome).toBeNull();
    expect((await caseById(a.id)).outcome).toBeNull();
  });

  it("keypad 0 (talk to someone) then the call ends: the case still has something owed to the customer", async () => {
    const kase = await travellerCase("r-key-0", "+33612342004");
    const [call] = await eventually(
      async () => (callsTo("33612342004").length > 0 ? callsTo("33612342004") : undefined),
      20_000,
    );
    const reply = (await (await press(kase.id, call!.uuid, "0")).json()) as Json[];
    expect(reply.at(-1).action).toBe("connect");
    // The connect rings the advocate's phone; nobody picks up; the customer's call ends.
    await signedPost(t.tp.app!, SECRET, "/webhooks/vonage/voice/event", {
      status: "completed",
      uuid: call!.uuid,
      conversation_uuid: call!.conversationUuid,
      duration: "45",
      timestamp: new Date().toISOString(),
    });
    await t.drained();
    // The strategy's call task, due later: run it now.
    const task = await t.tp.queues.outreach.getJob(`noreply-${kase.id}-2`);
    if (task && (await task.isDelayed())) await task.promote();
    await t.drained();
    const c = await caseById(kase.id);
    // Before the fix: open, no outcome, no attention, no task: the customer asked for a person and the
    // case waits for nobody.
    expect(c.status).toBe("open");
    expect(c.attention !== null || kinds(c).includes("task.call_customer")).toBe(true);
  });

  it("a WhatsApp check resent after a temporary failure never falls back to SMS for a customer who sent STOP by SMS", async () => {
    await putCustomer("r-wa-stop", "+33612342005", ["whatsapp", "sms"]);
    await customerTexts(t.tp.app!, SECRET, "33612342005", "STOP");
    await eventually(async () => to("33612342005").find((m) => /no more/i.test(m.text)));
    const kase = await openTravel("r-wa-stop");
    const asked = await eventually(async () =>
      to("33612342005").find((m) => m.channel === "whatsapp" && m.messageType === "template"),
    );
    await signedPost(t.tp.app!, SECRET, "/webhooks/vonage/status", {
      message_uuid: asked.messageUuid,
      status: "undeliverable",
      timestamp: new Date().toISOString(),
      client_ref: asked.clientRef,
      channel: "whatsapp",
      error: { type: "https://developer.vonage.com/api-errors/messages#1302", title: "1302" },
    });
    const retry = await eventually(async () => t.tp.queues.outreach.getJob(`resend-${kase.id}_check-1`));
    await retry.promote();
    await eventually(async () => ((await retry.getState()) === "completed" ? true : undefined));
    await t.drained();
    const sms = to("33612342005").filter((m) => m.channel === "sms" && !/no more/i.test(m.text));
    // Before the fix: the resend has no template, routeMessage falls back to SMS, and the customer who
    // replied STOP to texts gets the question by text.
    expect(sms.map((m) => m.text)).toEqual([]);
  });

  it("STOP on WhatsApp stops WhatsApp only: the high case's automated call still comes", async () => {
    await travellerCase("r-wa-stop-call", "+33612342006", ["whatsapp", "voice"]);
    await eventually(async () => to("33612342006").find((m) => m.channel === "whatsapp"));
    await customerWhatsApps(t.tp.app!, SECRET, "33612342006", "STOP");
    await eventually(async () => to("33612342006").find((m) => /no more/i.test(m.text)));
    // VOICE_AFTER_MINUTES = 0.04: the call is due 2.4 s after the WhatsApp question.
    // Before the fix: the STOP is an inbound row on the case, repliedSince() says "customer replied",
    // and neither the call nor the advocate's call task ever comes.
    const call = await eventually(
      async () => (callsTo("33612342006").length > 0 ? callsTo("33612342006") : undefined),
      15_000,
      "the automated call after STOP on WhatsApp",
    ).catch(() => []);
    expect(call).toHaveLength(1);
  });

  it("keypad 2 on a case already settled does not tell the customer their card is blocked when it is not", async () => {
    const kase = await travellerCase("r-settled", "+33612342007");
    const [call] = await eventually(
      async () => (callsTo("33612342007").length > 0 ? callsTo("33612342007") : undefined),
      20_000,
    );
    // While the phone rings, a YES by text (or an advocate) settles the case as a false alarm.
    await customerTexts(t.tp.app!, SECRET, "33612342007", "YES");
    await eventually(async () => ((await caseById(kase.id)).status === "resolved" ? true : undefined));
    // The customer, on the call, presses 2.
    const ncco = (await (await press(kase.id, call!.uuid, "2")).json()) as Json[];
    await t.drained();
    const c = await caseById(kase.id);
    const told = /blocked your card/.test(JSON.stringify(ncco));
    // Before the fix: told "We have blocked your card ending 4 8 2 1", while the case stays a false alarm
    // and no card.block is ever published.
    expect({ told, blocked: kinds(c).includes("action.card_block") }).not.toEqual({
      told: true,
      blocked: false,
    });
  });

  it("an answering machine's message that Vonage failed to take (503) is tried again", async () => {
    await travellerCase("r-machine", "+33612342008");
    const [call] = await eventually(
      async () => (callsTo("33612342008").length > 0 ? callsTo("33612342008") : undefined),
      20_000,
    );
    fake.failNext(503, 1);
    await signedPost(t.tp.app!, SECRET, "/webhooks/vonage/voice/event", {
      status: "machine",
      uuid: call!.uuid,
      conversation_uuid: call!.conversationUuid,
      timestamp: new Date().toISOString(),
    });
    // Before the fix: the 503 is caught and logged ("machine message not transferred"); the call plays on
    // into the payment's details, on a voicemail.
    const transfer = await eventually(
      async () => fake.transfers.find((x) => x.uuid === call!.uuid),
      10_000,
      "a transfer to the machine's message",
    ).catch(() => undefined);
    expect(transfer).toBeDefined();
  });

  it("refuses a signed GET's token replayed for another caller: the query (from) is not covered by the signature", async () => {
    const kase = await travellerCase("r-forged-caller", "+33612342009", ["sms"]);
    await eventually(async () => (to("33612342009").length === 1 ? true : undefined));
    // A token Vonage signed for some other call's answer webhook (payload_hash of the empty body)...
    const authorization = await signVonageWebhook({ rawBody: "", secret: SECRET, now: new Date() });
    const genuine = await t.tp.app!.request(
      "/webhooks/vonage/voice/answer?from=33699999998&to=442079460000&uuid=genuine-1",
      { method: "GET", headers: { authorization } },
    );
    expect(genuine.status).toBe(200);
    // ...replayed with the victim's number in the query.
    const replayed = await t.tp.app!.request(
      "/webhooks/vonage/voice/answer?from=33612342009&to=442079460000&uuid=forged-1",
      { method: "GET", headers: { authorization } },
    );
    // Before: 200, an NCCO naming the advocate's own number, "customer calling" on the victim's
    // case, and an inbound row that stops the case's strategy (repliedSince).
    expect(replayed.status).toBe(401);
    const c = await caseById(kase.id);
    expect(kinds(c)).not.toContain("call.received");
  });

  it("a WhatsApp voice note (or photo) from a customer is taken and shown to the advocate, not refused", async () => {
    const kase = await travellerCase("r-wa-audio", "+33612342010", ["whatsapp", "sms"]);
    await eventually(async () => to("33612342010").find((m) => m.channel === "whatsapp"));
    const res = await signedPost(t.tp.app!, SECRET, "/webhooks/vonage/inbound", {
      to: "447700900000",
      from: "33612342010",
      channel: "whatsapp",
      message_uuid: "wa-audio-1",
      timestamp: new Date().toISOString(),
      message_type: "audio",
      audio: { url: "https://api-eu.nexmo.com/v3/media/0a1b2c3d" },
      profile: { name: "Sam" },
    });
    // Before the fix: 400 "not a Vonage webhook" (message_type must be text, button or reply); Vonage
    // keeps resending it, and "it wasn't me", said in a voice note, reaches nobody.
    expect(res.status).toBe(200);
    await t.drained();
    const c = await caseById(kase.id);
    expect(c.messages.some((m: Json) => m.direction === "inbound")).toBe(true);
  });

  it("takes a keypad answer that comes before the worker recorded the call's uuid", async () => {
    const kase = await travellerCase("r-early-key", "+33612342010");
    const [call] = await eventually(
      async () => (callsTo("33612342010").length > 0 ? callsTo("33612342010") : undefined),
      20_000,
    );
    // As if the worker that placed the call had not yet written Vonage's uuid on its row.
    await t.tp.db
      .sql`update messages set provider_id = null where case_id = ${kase.id} and kind = 'check_call'`;
    const reply = (await (await press(kase.id, call!.uuid, "1")).json()) as Json[];
    expect(reply[0].text).toMatch(/nothing more to do/i);
    await eventually(async () => ((await caseById(kase.id)).status === "resolved" ? true : undefined));
    const [row] = await t.tp.db
      .sql`select provider_id from messages where case_id = ${kase.id} and kind = 'check_call'`;
    expect(row?.provider_id).toBe(call!.uuid);
  });

  it("measures WhatsApp's 24-hour window from when the customer wrote, not from a delayed webhook", async () => {
    const kase = await travellerCase("r-late-wa", "+33612342011", ["whatsapp", "sms"]);
    await eventually(async () => (to("33612342011").length > 0 ? true : undefined));
    // The customer wrote 25 hours before the case's clock; the webhook reaches us only now.
    const late = await signedPost(t.tp.app!, SECRET, "/webhooks/vonage/inbound", {
      to: "447700900000",
      from: "33612342011",
      channel: "whatsapp",
      message_uuid: `late-${Date.now()}`,
      timestamp: new Date(clock.getTime() - 25 * 3600_000).toISOString(),
      message_type: "text",
      text: "who is this?",
    });
    expect(late.status).toBe(200);
    await eventually(async () =>
      (await caseById(kase.id)).messages.some((m: Json) => m.body === "who is this?") ? true : undefined,
    );
    const advocate = t.as(await t.token("advocate", { advocateId: (await caseById(kase.id)).advocate.id }));
    expect(
      (
        await advocate("POST", `/v1/cases/${kase.id}/messages`, {
          text: "This is your bank, about a payment.",
        })
      ).status,
    ).toBe(202);
    const sent = await eventually(async () => to("33612342011").find((m) => /about a payment/.test(m.text)));
    // Outside the window free text cannot go on WhatsApp: it goes by SMS.
    expect(sent.channel).toBe("sms");
  });
});
