import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeVonage, startFakeVonage } from "../../test/support/fake-vonage.ts";
import { PermanentError, RetryableError } from "../errors.ts";
import { createVonageSender } from "./vonage.ts";

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

  it("sends an SMS with the number in Vonage's form and our client_ref", async () => {
    const { messageUuid } = await sender().send({
      to: "+447911123042",
      text: "Hello",
      clientRef: "case-1:check",
    });
    const got = fake.messages.at(-1)!;
    expect(got).toMatchObject({
      to: "447911123042",
      from: "Touchpoint",
      text: "Hello",
      clientRef: "case-1:check",
      channel: "sms",
      messageUuid,
    });
    expect(got.authorization).toMatch(/^Basic /);
  });

  it("authenticates with an application's JWT when given an application id and private key", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const s = createVonageSender({
      applicationId: "app-1",
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      apiHost: fake.url,
      from: "Touchpoint",
    });
    await s.send({ to: "+33612345619", text: "Bonjour", clientRef: "k2" });
    expect(fake.messages.at(-1)!.authorization).toMatch(/^Bearer ey/);
  });

  it("makes throttling and server errors retryable, with Retry-After when given", async () => {
    fake.failNext(429, 1, { title: "Throttled" }, { "retry-after": "2" });
    const throttled = await sender()
      .send({ to: "+447911123042", text: "x", clientRef: "k3" })
      .catch((e) => e);
    expect(throttled).toBeInstanceOf(RetryableError);
    expect(throttled.retryAfterMs).toBe(2000);
    fake.failNext(503);
    await expect(sender().send({ to: "+447911123042", text: "x", clientRef: "k4" })).rejects.toBeInstanceOf(
      RetryableError,
    );
  });

  it("makes a refused request permanent", async () => {
    fake.failNext(422, 1, { title: "Invalid params", detail: "The value of `to` is invalid" });
    const err = await sender()
      .send({ to: "+447911123042", text: "x", clientRef: "k5" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain("422");
  });

  it("gives up on a stalled Vonage after its timeout, as retryable", async () => {
    fake.stallNext(1500);
    const before = Date.now();
    await expect(
      sender(300).send({ to: "+447911123042", text: "x", clientRef: "k6" }),
    ).rejects.toBeInstanceOf(RetryableError);
    expect(Date.now() - before).toBeLessThan(1400);
  });
});
