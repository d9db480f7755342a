import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeVonage, startFakeVonage } from "../../test/support/fake-vonage.ts";
import { PermanentError, RetryableError, ValidationError } from "../errors.ts";
import { createVonageSender, retryAfterMs } from "./vonage.ts";

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the send to fail");
    },
    (e: unknown) => e,
  );

describe("the Vonage sender, through the real SDK against a fake Messages API", () => {
  let fake: FakeVonage;
  beforeAll(async () => {
    fake = await startFakeVonage();
  });
  afterAll(() => fake.close());

  const sender = (timeoutMs = 2000) =>
    createVonageSender({
      apiKey: "key",
      apiSecret: "secret",
      apiHost: fake.url,
      restHost: fake.url,
      from: "Touchpoint",
      timeoutMs,
    });
  const sms = (clientRef: string) => ({ to: "+447911123042", text: "x", clientRef });

  it("sends an SMS with the number as Vonage wants it (digits, no '+'), our sender id and client_ref", async () => {
    const { messageUuid } = await sender().send({
      to: "+447911123042",
      text: "Touchpoint Bank: did you pay EUR 2,300.00 at Galerie Lumière?",
      clientRef: "case-1:check",
    });
    const got = fake.messages.at(-1);
    expect(got).toMatchObject({
      to: "447911123042",
      from: "Touchpoint",
      text: "Touchpoint Bank: did you pay EUR 2,300.00 at Galerie Lumière?",
      clientRef: "case-1:check",
      channel: "sms",
      messageUuid,
    });
    expect(got?.authorization).toBe(`Basic ${Buffer.from("key:secret").toString("base64")}`);
  });

  it("authenticates with the application's JWT when given an application id and a private key", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pemText = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const s = createVonageSender({
      applicationId: "app-1",
      // As an env file carries it: one line, literal \n.
      privateKey: pemText.replace(/\n/g, "\\n"),
      apiHost: fake.url,
      from: "Touchpoint",
    });
    await s.send({ to: "+33612345619", text: "Bonjour", clientRef: "k2" });
    const authorization = fake.messages.at(-1)?.authorization ?? "";
    expect(authorization).toMatch(/^Bearer ey/);
    const claims = JSON.parse(Buffer.from(authorization.split(".")[1] ?? "", "base64url").toString());
    expect(claims.application_id).toBe("app-1");
  });

  it("makes throttling retryable, waiting as long as Retry-After says", async () => {
    fake.failNext(429, 1, { title: "Too Many Requests" }, { "retry-after": "2" });
    const err = await failure(sender().send(sms("k3")));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(2000);
  });

  it("makes a server error retryable", async () => {
    fake.failNext(500);
    expect(await failure(sender().send(sms("k4")))).toBeInstanceOf(RetryableError);
    fake.failNext(503);
    expect(await failure(sender().send(sms("k4")))).toBeInstanceOf(RetryableError);
  });

  it("makes a refused request permanent, with Vonage's error type as its code and no full number in it", async () => {
    fake.failNext(422, 1, {
      type: "https://developer.vonage.com/api-errors/messages#1150",
      title: "Invalid params",
      detail: "The value of `to` (447911123042) is not a valid number",
    });
    const err = await failure(sender().send(sms("k5")));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("https://developer.vonage.com/api-errors/messages#1150");
    expect((err as Error).message).toContain("422 (Invalid params");
    expect((err as Error).message).not.toMatch(/\d{5,}/);
  });

  it("makes bad credentials permanent, coded by title when Vonage gives no type", async () => {
    fake.failNext(401, 1, { title: "Unauthorized" });
    const err = await failure(sender().send(sms("k6")));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("Unauthorized");
  });

  it("gives up on a stalled Vonage after its timeout, as retryable", async () => {
    fake.stallNext(1500);
    const before = Date.now();
    const err = await failure(sender(300).send(sms("k7")));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toContain("timed out");
    expect(Date.now() - before).toBeLessThan(1400);
  });

  it("makes a refused connection retryable", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((ok) => closed.close(() => ok()));
    const s = createVonageSender({
      apiKey: "key",
      apiSecret: "secret",
      apiHost: `http://127.0.0.1:${port}`,
      from: "T",
    });
    expect(await failure(s.send(sms("k8")))).toBeInstanceOf(RetryableError);
  });

  it("makes a private key the SDK cannot sign with permanent, without sending anything", async () => {
    const before = fake.attempts;
    const s = createVonageSender({
      applicationId: "app-1",
      privateKey: "-----BEGIN PRIVATE KEY-----\\nnot a key\\n-----END PRIVATE KEY-----",
      apiHost: fake.url,
      from: "T",
    });
    const err = await failure(s.send(sms("k9")));
    expect(err).toBeInstanceOf(PermanentError);
    expect(fake.attempts).toBe(before);
  });

  it("refuses a client_ref over 100 characters and a number that is not E.164, before calling Vonage", async () => {
    const before = fake.attempts;
    expect(await failure(sender().send(sms("k".repeat(101))))).toBeInstanceOf(ValidationError);
    const bad = await failure(sender().send({ to: "07911 123042", text: "x", clientRef: "k10" }));
    expect(bad).toBeInstanceOf(PermanentError);
    expect((bad as PermanentError).code).toBe("invalid_number");
    expect(fake.attempts).toBe(before);
    await expect(sender().send(sms("k".repeat(100)))).resolves.toHaveProperty("messageUuid");
  });
});

describe("retryAfterMs", () => {
  const now = new Date("2026-11-22T11:05:00Z");
  it("reads delta-seconds and HTTP dates, in ms", () => {
    expect(retryAfterMs("2", now)).toBe(2000);
    expect(retryAfterMs("Sun, 22 Nov 2026 11:05:30 GMT", now)).toBe(30_000);
  });
  it("ignores what says nothing usable", () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs("0", now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs("Sun, 22 Nov 2026 11:04:00 GMT", now)).toBeUndefined();
  });
});
