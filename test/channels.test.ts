/**
 * Issue 23: the customer answers on the channel they use. WhatsApp, an automated call with keypad
 * answers, a call to the bank that reaches the named advocate, and the bank's app — each through
 * the real pipeline and the real Vonage SDK against the fake at the HTTP boundary, webhooks signed
 * as Vonage signs them.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAppSignature } from "../engine/outreach/channels/app.ts";
import { eventually, type Json, loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { describeViolations, seriousViolations } from "./support/axe.ts";
import { launchBrowser, signInWatching } from "./support/browser.ts";
import {
  channelHelpers,
  channelsEnv,
  givePhones,
  PARIS,
  PHNOM_PENH,
  PUBLIC_URL,
  SECRET,
  TEAM_LINE,
  tx,
} from "./support/channels.ts";
import {
  customerWhatsApps,
  type FakeVonage,
  signedGet,
  signedPost,
  startFakeVonage,
} from "./support/fake-vonage.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const APP_SECRET = "app-webhook-secret-0123456789";

interface AppRequest {
  headers: IncomingMessage["headers"];
  body: string;
}

describe("the channels customers answer on", () => {
  let t: TestTouchpoint;
  let fake: FakeVonage;
  let appServer: ReturnType<typeof createServer>;
  const appRequests: AppRequest[] = [];
  // 12:00 UTC: 19:00 in Phnom Penh, where the travellers' last payments are; 03:30 for the quiet-hours test.
  let clock = new Date("2026-11-22T12:00:00Z");
  /** Cases the desk test reads: one answered on WhatsApp, one by keypad. */
  const seen: { whatsapp?: string; keypad?: string } = {};

  beforeAll(async () => {
    fake = await startFakeVonage();
    appServer = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        appRequests.push({ headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((ok) => appServer.listen(0, "127.0.0.1", ok));
    t = await startTestTouchpoint({
      listen: true,
      env: channelsEnv(fake, {
        APP_WEBHOOK_URL: `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/touchpoint`,
        APP_WEBHOOK_SECRET: APP_SECRET,
      }),
      now: () => clock,
    });
    await loadPeopleVia(t.api);
    await givePhones(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await new Promise((ok) => appServer?.close(ok));
  });

  const { caseById, kinds, to, callsTo, travellerCase, press, eventPath } = channelHelpers(
    () => t,
    () => fake,
  );

  async function advocatePhoneOf(caseId: string): Promise<string> {
    const c = await eventually(async () => {
      const x = await caseById(caseId);
      return x.advocate ? x : undefined;
    });
    const advocates = (await t.api("GET", "/v1/advocates")).body.items as Json[];
    return advocates.find((a) => a.id === c.advocate.id)!.phone;
  }

  it("asks a customer who prefers WhatsApp there, as the approved template, and a WhatsApp NO blocks the card", async () => {
    const kase = await travellerCase("wa-1", "+33612341001", ["whatsapp", "sms", "voice"]);
    seen.whatsapp = kase.id;
    const [asked] = await eventually(async () =>
      to("33612341001").length > 0 ? to("33612341001") : undefined,
    );
    expect(asked).toMatchObject({ channel: "whatsapp", messageType: "template", from: "447700900000" });
    expect(asked!.template).toMatchObject({ name: "touchpoint_payment_check", locale: "en_GB" });
    expect(asked!.template!.parameters).toEqual([
      "Sam",
      "EUR 640.00",
      "Maison Test",
      "Phnom Penh",
      "4821",
      expect.any(String),
    ]);

    const res = await customerWhatsApps(t.tp.app!, SECRET, "33612341001", "NO");
    expect(res.status).toBe(200);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.outcome === "confirmed_fraud" && kinds(x).includes("action.card_block") ? x : undefined;
    });
    expect(c.messages.find((m: Json) => m.direction === "inbound")).toMatchObject({
      channel: "whatsapp",
      body: "NO",
    });
    // The answer goes back where they wrote, as free text: the 24-hour window is open.
    const blocked = await eventually(async () => to("33612341001").find((m) => /blocked/.test(m.text)));
    expect(blocked).toMatchObject({ channel: "whatsapp", messageType: "text" });
    // The advocate's own words go there too, from the reply box.
    const advocate = t.as(await t.token("advocate", { advocateId: c.advocate.id }));
    const typed = await advocate("POST", `/v1/cases/${kase.id}/messages`, {
      text: "I have blocked it. I will call you in a minute.",
    });
    expect(typed.status).toBe(202);
    const reply = await eventually(async () =>
      to("33612341001").find((m) => /call you in a minute/.test(m.text)),
    );
    expect(reply).toMatchObject({ channel: "whatsapp", messageType: "text" });
    // No SMS ever went to them, and no call: they answered before the voice step.
    expect(to("33612341001").every((m) => m.channel === "whatsapp")).toBe(true);
    await t.drained();
    expect(callsTo("33612341001")).toEqual([]);
  });

  it("calls after VOICE_AFTER_MINUTES without an answer; keypad 2 confirms fraud and puts the customer through to their advocate", async () => {
    const kase = await travellerCase("call-2", "+33612341002");
    seen.keypad = kase.id;
    await eventually(async () => (to("33612341002").length === 1 ? true : undefined));
    const [call] = await eventually(
      async () => (callsTo("33612341002").length > 0 ? callsTo("33612341002") : undefined),
      20_000,
    );
    expect(call!.eventUrl).toEqual([
      expect.stringMatching(/^https:\/\/tp\.bank\.example\/webhooks\/vonage\/voice\/event\?message=\d+$/),
    ]);
    const ncco = call!.ncco as Json[];
    const input = ncco.find((a) => a.action === "input");
    expect(input).toMatchObject({
      type: ["dtmf"],
      dtmf: { maxDigits: 1 },
      eventUrl: [
        expect.stringMatching(
          new RegExp(`^${PUBLIC_URL}/webhooks/vonage/voice/input\\?case=${kase.id}&attempt=1&message=\\d+$`),
        ),
      ],
    });
    const said = ncco
      .filter((a) => a.action === "talk")
      .map((a) => a.text)
      .join(" ");
    expect(said).toMatch(/Maison Test/);
    expect(said).toMatch(/4 8 2 1/);
    expect(said).toMatch(/Press 1 .* Press 2 .* Press 0/);

    const answered = await signedPost(t.tp.app!, SECRET, eventPath(call!), {
      status: "answered",
      uuid: call!.uuid,
      conversation_uuid: call!.conversationUuid,
      direction: "outbound",
      timestamp: new Date().toISOString(),
    });
    expect(answered.status).toBe(200);
    const reply = await press(kase.id, call!.uuid, "2");
    expect(reply.status).toBe(200);
    const next = (await reply.json()) as Json[];
    const advocatePhone = await advocatePhoneOf(kase.id);
    expect(next.at(-1)).toMatchObject({
      action: "connect",
      endpoint: [{ type: "phone", number: advocatePhone.slice(1) }],
    });
    expect(next[0].text).toMatch(/blocked your card ending 4 8 2 1/);

    // When the advocate does not pick up, Vonage asks the connect's eventUrl what next: the team's line.
    expect(next.at(-1)).toMatchObject({
      eventType: "synchronous",
      eventUrl: [`${PUBLIC_URL}/webhooks/vonage/voice/fallback?case=${kase.id}`],
    });
    const leg = {
      uuid: "advocate-leg-1",
      conversation_uuid: call!.conversationUuid,
      timestamp: new Date().toISOString(),
    };
    const ringing = await signedPost(t.tp.app!, SECRET, `/webhooks/vonage/voice/fallback?case=${kase.id}`, {
      ...leg,
      status: "ringing",
    });
    expect(ringing.status).toBe(204);
    // A leg of some other conversation (a token stolen from another call) moves nothing here.
    const stranger = await signedPost(t.tp.app!, SECRET, `/webhooks/vonage/voice/fallback?case=${kase.id}`, {
      ...leg,
      conversation_uuid: "CON-of-another-call",
      status: "timeout",
    });
    expect(stranger.status).toBe(204);
    const unanswered = await signedPost(
      t.tp.app!,
      SECRET,
      `/webhooks/vonage/voice/fallback?case=${kase.id}`,
      {
        ...leg,
        status: "timeout",
      },
    );
    expect(((await unanswered.json()) as Json[]).at(-1)).toMatchObject({
      action: "connect",
      endpoint: [{ type: "phone", number: TEAM_LINE.slice(1) }],
    });
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      // The keypad job's last step is the advocate's alert, after the card block.
      return x.outcome === "confirmed_fraud" && kinds(x).includes("advocate.alerted") ? x : undefined;
    });
    expect(
      c.timeline.some(
        (s: Json) => s.kind === "call.connected" && /did not answer \(timeout\)/.test(s.detail.reason),
      ),
    ).toBe(true);
    expect(kinds(c)).toEqual(
      expect.arrayContaining(["call.placed", "call.status", "call.keypad", "action.card_block"]),
    );
    expect(
      c.messages.filter((m: Json) => m.channel === "voice").map((m: Json) => [m.direction, m.kind]),
    ).toEqual([
      ["outbound", "check_call"],
      ["inbound", "reply.no"],
    ]);
    // Vonage resends the keypad webhook: nothing happens twice.
    await press(kase.id, call!.uuid, "2");
    await t.drained();
    const again = await caseById(kase.id);
    expect(again.timeline.filter((s: Json) => s.kind === "action.card_block")).toHaveLength(1);
    expect(callsTo("33612341002")).toHaveLength(1);
  });

  it("keypad 1 resolves the case as a false alarm", async () => {
    const kase = await travellerCase("call-1", "+33612341003");
    const [call] = await eventually(
      async () => (callsTo("33612341003").length > 0 ? callsTo("33612341003") : undefined),
      20_000,
    );
    const reply = await press(kase.id, call!.uuid, "1");
    expect(((await reply.json()) as Json[])[0].text).toMatch(/nothing more to do/i);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.status === "resolved" ? x : undefined;
    });
    expect(c.outcome).toBe("false_alarm");
  });

  it("asks once more after silence, then counts it as no answer and moves the strategy on", async () => {
    const kase = await travellerCase("call-0", "+33612341004");
    const [call] = await eventually(
      async () => (callsTo("33612341004").length > 0 ? callsTo("33612341004") : undefined),
      20_000,
    );
    const first = (await (await press(kase.id, call!.uuid, "")).json()) as Json[];
    expect(first[0].text).toMatch(/did not hear a key/);
    expect(first.at(-1).eventUrl).toEqual([
      expect.stringMatching(
        new RegExp(`^${PUBLIC_URL}/webhooks/vonage/voice/input\\?case=${kase.id}&attempt=2&message=\\d+$`),
      ),
    ]);
    const second = (await (await press(kase.id, call!.uuid, "", 2)).json()) as Json[];
    expect(second.some((a) => a.action === "input")).toBe(false);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return kinds(x).includes("task.call_customer") ? x : undefined;
    });
    expect(c).toMatchObject({ status: "open", outcome: null });
  });

  it("leaves an answering machine the bank's number and nothing about the payment", async () => {
    const kase = await travellerCase("call-m", "+33612341005");
    const [call] = await eventually(
      async () => (callsTo("33612341005").length > 0 ? callsTo("33612341005") : undefined),
      20_000,
    );
    await signedPost(t.tp.app!, SECRET, eventPath(call!), {
      status: "machine",
      sub_state: "beep_start",
      uuid: call!.uuid,
      conversation_uuid: call!.conversationUuid,
      timestamp: new Date().toISOString(),
    });
    const transfer = await eventually(async () => fake.transfers.find((x) => x.uuid === call!.uuid));
    const words = JSON.stringify(transfer.ncco);
    expect(words).toMatch(/7 9 4 6|7946/);
    expect(words).not.toMatch(/Maison|640|4 8 2 1/);
    await eventually(async () =>
      kinds(await caseById(kase.id)).includes("task.call_customer") ? true : undefined,
    );
  });

  it("never places an automated call in the customer's quiet hours, whatever the severity", async () => {
    clock = new Date("2026-11-22T20:30:00Z"); // 03:30 in Phnom Penh, where the last payment was
    try {
      const kase = await travellerCase("call-q", "+33612341006");
      // The high case is still texted at once; when the call's turn comes it is skipped, and the
      // advocate's call task keeps its time after it.
      await eventually(async () => (to("33612341006").length === 1 ? true : undefined));
      const c = await eventually(async () => {
        const x = await caseById(kase.id);
        return x.timeline.some((s: Json) => s.kind === "contact.step" && s.detail.action === "skip")
          ? x
          : undefined;
      }, 20_000);
      const skip = c.timeline.find((s: Json) => s.kind === "contact.step" && s.detail.action === "skip");
      expect(skip.detail.reason).toMatch(/no automated call: quiet hours/);
      const task = await eventually(async () => t.tp.queues.outreach.getJob(`noreply-${kase.id}-2`));
      expect(task.data).toMatchObject({ type: "no-reply", stage: 2 });
      await t.drained();
      expect(callsTo("33612341006")).toEqual([]);
    } finally {
      clock = new Date("2026-11-22T12:00:00Z");
    }
  });

  it("puts a customer who calls the bank straight through to their named advocate, and the case shows the call", async () => {
    const kase = await travellerCase("inbound-1", "+33612341007", ["sms"]);
    const advocatePhone = await advocatePhoneOf(kase.id);
    const res = await signedGet(
      t.tp.app!,
      SECRET,
      "/webhooks/vonage/voice/answer?from=33612341007&to=442079460000&uuid=in-call-1&conversation_uuid=CON-in-1",
    );
    expect(res.status).toBe(200);
    const ncco = (await res.json()) as Json[];
    expect(ncco.at(-1)).toMatchObject({
      action: "connect",
      endpoint: [{ type: "phone", number: advocatePhone.slice(1) }],
    });
    // Nothing about the case is said before a person has them.
    expect(JSON.stringify(ncco)).not.toMatch(/Maison|640|4821|Phnom/);
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return kinds(x).includes("call.received") ? x : undefined;
    });
    expect(c.timeline.find((s: Json) => s.kind === "call.received").detail).toMatchObject({
      pushedTo: "advocate",
    });

    // A caller with no case reaches the team's line; a forged request reaches nobody.
    const stranger = (await (
      await signedGet(
        t.tp.app!,
        SECRET,
        "/webhooks/vonage/voice/answer?from=33699999999&to=442079460000&uuid=in-call-2",
      )
    ).json()) as Json[];
    expect(stranger.at(-1)).toMatchObject({
      action: "connect",
      endpoint: [{ type: "phone", number: TEAM_LINE.slice(1) }],
    });
    const forged = await signedGet(
      t.tp.app!,
      "not-the-secret-0123456789",
      "/webhooks/vonage/voice/answer?from=33612341007&to=4420&uuid=x",
    );
    expect(forged.status).toBe(401);
  });

  it("asks in the bank's app with a signed request, and the app's NO moves the case as a text does", async () => {
    const kase = await travellerCase("app-1", "+33612341008", ["app", "sms"]);
    const asked = await eventually(async () =>
      appRequests.find((r) => JSON.parse(r.body).caseId === kase.id),
    );
    expect(
      verifyAppSignature({
        secret: APP_SECRET,
        timestamp: asked.headers["x-touchpoint-timestamp"] as string,
        signature: asked.headers["x-touchpoint-signature"] as string,
        body: asked.body,
        now: new Date(),
      }),
    ).toBe(true);
    expect(
      verifyAppSignature({
        secret: APP_SECRET,
        timestamp: asked.headers["x-touchpoint-timestamp"] as string,
        signature: asked.headers["x-touchpoint-signature"] as string,
        body: asked.body.replace("Maison", "Maisom"),
        now: new Date(),
      }),
    ).toBe(false);
    expect(JSON.parse(asked.body)).toMatchObject({
      answers: ["yes", "no"],
      answerTo: `/v1/cases/${kase.id}/answers`,
    });
    expect(to("33612341008")).toEqual([]);

    const app = t.as(await t.token("ingest"));
    const bad = await app("POST", `/v1/cases/${kase.id}/answers`, { answer: "maybe" });
    expect(bad.status).toBe(400);
    const asAdvocate = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    expect((await asAdvocate("POST", `/v1/cases/${kase.id}/answers`, { answer: "no" })).status).toBe(403);
    const no = await app("POST", `/v1/cases/${kase.id}/answers`, { answer: "no", answerId: "ans-1" });
    expect(no.status).toBe(202);
    await app("POST", `/v1/cases/${kase.id}/answers`, { answer: "no", answerId: "ans-1" });
    const c = await eventually(async () => {
      const x = await caseById(kase.id);
      return x.outcome === "confirmed_fraud" ? x : undefined;
    });
    await t.drained();
    expect(
      (await caseById(kase.id)).timeline.filter((s: Json) => s.kind === "action.card_block"),
    ).toHaveLength(1);
    expect(c.messages.find((m: Json) => m.direction === "inbound")).toMatchObject({
      channel: "app",
      body: "NO",
    });
    // The card-blocked answer went to the app, where they answered.
    expect(
      appRequests.some(
        (r) => JSON.parse(r.body).kind === "card_blocked" && JSON.parse(r.body).caseId === kase.id,
      ),
    ).toBe(true);
  });

  it("STOP on WhatsApp stops WhatsApp only: the next case asks by SMS", async () => {
    const first = await travellerCase("wa-stop", "+33612341009", ["whatsapp", "sms"]);
    await eventually(async () => (to("33612341009").length === 1 ? true : undefined));
    await customerWhatsApps(t.tp.app!, SECRET, "33612341009", "STOP");
    const confirmation = await eventually(async () => to("33612341009").find((m) => /no more/.test(m.text)));
    expect(confirmation.channel).toBe("whatsapp");
    const customer = (await t.api("GET", "/v1/customers/wa-stop?full=1")).body;
    expect(customer.optedOutAt).toBeNull();
    await t.api("POST", `/v1/cases/${first.id}/resolve`, { outcome: "false_alarm" });
    await t.api("POST", "/v1/events", [
      tx("wa-stop-c", "wa-stop", "2026-11-29T09:10:00Z", PARIS),
      tx("wa-stop-d", "wa-stop", "2026-11-29T10:40:00Z", PHNOM_PENH),
    ]);
    await openCaseWith(t.api, "wa-stop", ["impossible-location-spend"]);
    const sms = await eventually(async () => to("33612341009").find((m) => m.channel === "sms"));
    expect(sms.text).toMatch(/Reply YES or NO/);
  });

  it("shows the advocate one conversation across channels, each line labelled by its channel", async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const { page, errors } = await signInWatching(
        browser,
        `http://127.0.0.1:${t.tp.port}`,
        await t.token("supervisor", { team: "fraud" }),
      );
      await page.goto(`http://127.0.0.1:${t.tp.port}/desk/cases/${seen.keypad}`);
      const lines = await page.locator("#thread li .muted").allTextContents();
      expect(lines[0]).toMatch(/^Text · touchpoint sent \(fraud check\)/);
      expect(lines[1]).toMatch(/^Call · touchpoint called \(automated, keypad answers\) · answered/);
      expect(lines[2]).toMatch(/^Call · Sam call-2 pressed a key/);
      expect(await page.locator("#thread li .body").nth(2).textContent()).toBe("pressed 2: it was not me");
      expect(describeViolations("case page with a call", await seriousViolations(page))).toBe("");

      await page.goto(`http://127.0.0.1:${t.tp.port}/desk/cases/${seen.whatsapp}`);
      const wa = await page.locator("#thread li .muted").allTextContents();
      expect(wa[0]).toMatch(/^WhatsApp · touchpoint sent \(fraud check\)/);
      expect(wa[1]).toMatch(/^WhatsApp · Sam wa-1 wrote/);
      // The reply box answers where the customer wrote.
      expect(await page.locator("label[for=reply-text]").textContent()).toMatch(/^WhatsApp/);
      expect(errors).toEqual([]);
    } finally {
      await browser?.close();
    }
  });
});
