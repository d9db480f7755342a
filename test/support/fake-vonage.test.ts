import { WhatsAppCustom, WhatsAppTemplate, WhatsAppText } from "@vonage/messages";
import { Vonage } from "@vonage/server-sdk";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyVonageWebhook } from "../../engine/outreach/signature.ts";
import {
  customerTexts,
  customerWhatsApps,
  type FakeVonage,
  signedGet,
  signedPost,
  startFakeVonage,
  testApplicationKey,
} from "./fake-vonage.ts";

describe("the fake Vonage: WhatsApp on the Messages API, through the real SDK", () => {
  let fake: FakeVonage;
  let vonage: Vonage;
  beforeAll(async () => {
    fake = await startFakeVonage();
    vonage = new Vonage(
      { applicationId: "app-wa", privateKey: testApplicationKey() },
      { apiHost: fake.url, timeout: 2000 },
    );
  });
  afterAll(() => fake.close());

  it("records a WhatsApp text with its channel and type", async () => {
    const { messageUUID } = await vonage.messages.send(
      new WhatsAppText({
        to: "447911123042",
        from: "447700900000",
        text: "Reply YES or NO",
        clientRef: "c1:wa",
      }),
    );
    expect(fake.messages.at(-1)).toMatchObject({
      channel: "whatsapp",
      messageType: "text",
      to: "447911123042",
      from: "447700900000",
      text: "Reply YES or NO",
      clientRef: "c1:wa",
      messageUuid: messageUUID,
    });
  });

  it("records an approved template's name, parameters, locale and policy", async () => {
    await vonage.messages.send(
      new WhatsAppTemplate({
        to: "447911123042",
        from: "447700900000",
        whatsapp: { policy: "deterministic", locale: "en_GB" },
        template: { name: "fraud_check_v1", parameters: ["EUR 2,300.00", "Galerie Lumière", "4242"] },
      } as ConstructorParameters<typeof WhatsAppTemplate>[0]),
    );
    expect(fake.messages.at(-1)).toMatchObject({
      channel: "whatsapp",
      messageType: "template",
      text: "",
      template: {
        name: "fraud_check_v1",
        parameters: ["EUR 2,300.00", "Galerie Lumière", "4242"],
        locale: "en_GB",
        policy: "deterministic",
      },
    });
  });

  it("records a custom template message, its custom part untouched", async () => {
    const custom = {
      type: "template",
      template: {
        name: "fraud_check_v1",
        language: { policy: "deterministic", code: "fr" },
        components: [{ type: "body", parameters: [{ type: "text", text: "2 300,00 EUR" }] }],
      },
    };
    await vonage.messages.send(new WhatsAppCustom({ to: "33612345678", from: "447700900000", custom }));
    const got = fake.messages.at(-1);
    expect(got).toMatchObject({ channel: "whatsapp", messageType: "custom", custom });
    expect(got?.template).toEqual({
      name: "fraud_check_v1",
      parameters: custom.template.components,
      locale: "fr",
      policy: "deterministic",
    });
  });

  it("refuses a template without a name, as Vonage does, and records nothing", async () => {
    const before = fake.messages.length;
    await expect(
      vonage.messages.send(
        new WhatsAppTemplate({
          to: "447911123042",
          from: "447700900000",
          whatsapp: { policy: "deterministic", locale: "en_GB" },
          template: {},
        } as unknown as ConstructorParameters<typeof WhatsAppTemplate>[0]),
      ),
    ).rejects.toMatchObject({ response: { status: 422 } });
    expect(fake.messages).toHaveLength(before);
  });

  it("takes a call only with the application's JWT, not with key and secret", async () => {
    const basic = await fetch(`${fake.url}/v1/calls`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("key:secret").toString("base64")}` },
      body: JSON.stringify({ to: [{ type: "phone", number: "447911123042" }], ncco: [{ action: "talk" }] }),
    });
    expect(basic.status).toBe(401);
    const transfer = await fetch(`${fake.url}/v1/calls/abc`, { method: "PUT", body: "{}" });
    expect(transfer.status).toBe(401);
    expect(fake.calls).toHaveLength(0);
    expect(fake.transfers).toHaveLength(0);
  });
});

describe("signed webhooks for the app under test", () => {
  const secret = "signature-secret-for-tests-0123456789";
  const seen: Array<{ method: string; path: string; raw: string; ok: boolean }> = [];
  const app = new Hono();
  app.all("*", async (c) => {
    const raw = c.req.method === "GET" ? "" : await c.req.text();
    let ok = true;
    try {
      await verifyVonageWebhook({
        authorization: c.req.header("authorization"),
        rawBody: raw,
        secret,
        now: new Date(),
      });
    } catch {
      ok = false;
    }
    seen.push({ method: c.req.method, path: c.req.url.replace(/^https?:\/\/[^/]+/, ""), raw, ok });
    return c.body(null, ok ? 204 : 401);
  });

  it("signedPost signs the exact body sent, an object as JSON or a string as it is", async () => {
    expect(
      (await signedPost(app, secret, "/webhooks/vonage/voice/event", { status: "answered" })).status,
    ).toBe(204);
    expect(seen.at(-1)).toEqual({
      method: "POST",
      path: "/webhooks/vonage/voice/event",
      raw: '{"status":"answered"}',
      ok: true,
    });
    expect((await signedPost(app, secret, "/x", '{ "spaced" : true }')).status).toBe(204);
    expect(seen.at(-1)?.raw).toBe('{ "spaced" : true }');
  });

  it("signedPost's signature fails with another secret, so a test can see a refusal", async () => {
    expect((await signedPost(app, "another-secret-0123456789", "/x", { a: 1 })).status).toBe(401);
  });

  it("signedGet signs the empty body, with the query kept on the path", async () => {
    const path =
      "/webhooks/vonage/voice/answer?to=442079460000&from=447911123042&uuid=u1&conversation_uuid=CON-1";
    expect((await signedGet(app, secret, path)).status).toBe(204);
    expect(seen.at(-1)).toEqual({ method: "GET", path, raw: "", ok: true });
  });

  it("customerWhatsApps posts Vonage's inbound WhatsApp shape to the inbound webhook", async () => {
    expect((await customerWhatsApps(app, secret, "447911123042", "NO")).status).toBe(204);
    const got = seen.at(-1)!;
    expect(got.path).toBe("/webhooks/vonage/inbound");
    expect(JSON.parse(got.raw)).toMatchObject({
      channel: "whatsapp",
      message_type: "text",
      from: "447911123042",
      to: "447700900000",
      text: "NO",
      context_status: "none",
      profile: { name: "Sophie Martin" },
      message_uuid: expect.any(String),
      timestamp: expect.any(String),
    });
  });

  it("customerTexts still posts an SMS inbound, signed", async () => {
    expect((await customerTexts(app, secret, "447911123042", "YES")).status).toBe(204);
    expect(JSON.parse(seen.at(-1)!.raw)).toMatchObject({ channel: "sms", text: "YES", to: "TPBank" });
  });
});
