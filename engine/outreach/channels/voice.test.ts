import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeVonage, startFakeVonage } from "../../../test/support/fake-vonage.ts";
import { PermanentError, RetryableError, ValidationError } from "../../errors.ts";
import { checkCallNcco, connectNcco, endpointFor, machineNcco } from "../ncco.ts";
import { createVonageVoice } from "./voice.ts";

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );

const story = {
  bankName: "Touchpoint Bank",
  bankPhone: "+44 20 7946 0000",
  advocateName: "Amara Okafor",
  merchant: "Galerie Lumière",
  city: "Paris",
  amount: 2300,
  currency: "EUR",
  last4: "4242",
};
const eventUrl = "https://touchpoint.example/webhooks/vonage/voice/event";
const inputUrl = "https://touchpoint.example/webhooks/vonage/voice/input?case=c1&attempt=1";

describe("the Vonage voice client, through the real SDK against a fake Voice API", () => {
  let fake: FakeVonage;
  // A throwaway application key: the Voice API takes only the application's JWT.
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
  beforeAll(async () => {
    fake = await startFakeVonage();
  });
  afterAll(() => fake.close());

  const voice = (o: { timeoutMs?: number; machineDetection?: "advanced" | "standard" } = {}) =>
    createVonageVoice({ applicationId: "app-voice-1", privateKey, apiHost: fake.url, timeoutMs: 2000, ...o });
  const check = checkCallNcco({ language: "en", vars: story, inputUrl, attempt: 1 });
  const ring = (v = voice()) => v.call({ to: "+447911123042", from: "+442079460000", ncco: check, eventUrl });

  it("rings the customer with the NCCO untouched and the event URL snake-cased, as the SDK sends them", async () => {
    const { uuid, conversationUuid } = await ring();
    const got = fake.calls.at(-1);
    expect(got?.uuid).toBe(uuid);
    expect(got?.conversationUuid).toBe(conversationUuid);
    expect(got?.body).toEqual({
      to: [{ type: "phone", number: "447911123042" }],
      from: { type: "phone", number: "442079460000" },
      ncco: check,
      event_url: [eventUrl],
    });
    // camelCase inside the NCCO survives: Vonage reads `bargeIn`, `eventUrl`, `timeOut` there.
    expect(JSON.stringify(got?.ncco)).toContain(
      '"eventUrl":["https://touchpoint.example/webhooks/vonage/voice/input',
    );
    expect(JSON.stringify(got?.ncco)).toContain('"timeOut":8');
  });

  it("authenticates with a bearer JWT for the application", async () => {
    await ring();
    const got = fake.calls.at(-1);
    expect(got?.authorization).toMatch(/^Bearer ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(got?.claims.application_id).toBe("app-voice-1");
  });

  it("asks for advanced machine detection that continues and waits for the beep, only when told to", async () => {
    await voice().call({
      to: "+447911123042",
      from: "+442079460000",
      ncco: check,
      eventUrl,
      machineDetection: true,
    });
    expect(fake.calls.at(-1)?.advancedMachineDetection).toEqual({
      behavior: "continue",
      mode: "detect_beep",
    });
    expect(fake.calls.at(-1)?.machineDetection).toBeUndefined();

    await voice({ machineDetection: "standard" }).call({
      to: "+447911123042",
      from: "+442079460000",
      ncco: check,
      eventUrl,
      machineDetection: true,
    });
    expect(fake.calls.at(-1)?.machineDetection).toBe("continue");
    expect(fake.calls.at(-1)?.advancedMachineDetection).toBeUndefined();

    await ring();
    expect(fake.calls.at(-1)?.body).not.toHaveProperty("advanced_machine_detection");
    expect(fake.calls.at(-1)?.body).not.toHaveProperty("machine_detection");
  });

  it("moves a live call to another NCCO with PUT /v1/calls/:uuid", async () => {
    const { uuid } = await ring();
    const message = machineNcco({ language: "en", bankName: story.bankName, bankPhone: story.bankPhone });
    await voice().transfer(uuid, message);
    expect(fake.transfers.at(-1)).toMatchObject({ uuid, action: "transfer", ncco: message, known: true });
    expect(fake.transfers.at(-1)?.body).toEqual({
      action: "transfer",
      destination: { type: "ncco", ncco: message },
    });
    expect(fake.transfers.at(-1)?.authorization).toMatch(/^Bearer ey/);
  });

  it("transfers a connect to a SIP address as the SDK rewrites it, the URI kept", async () => {
    const { uuid } = await ring();
    const connect = connectNcco({
      language: "en",
      endpoint: endpointFor("sip:amara@pbx.bank.example"),
      from: "+442079460000",
    });
    await voice().transfer(uuid, connect);
    expect(fake.transfers.at(-1)?.ncco).toEqual([
      {
        action: "connect",
        from: "442079460000",
        timeout: 30,
        endpoint: [{ type: "sip", uri: "sip:amara@pbx.bank.example", standardHeaders: {} }],
      },
    ]);
  });

  it("makes throttling retryable, waiting as long as Retry-After says", async () => {
    fake.failNext(429, 1, { title: "Too Many Requests" }, { "retry-after": "3" });
    const err = await failure(ring());
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(3000);
  });

  it("makes a server error retryable, on a transfer as on a call", async () => {
    const { uuid } = await ring();
    fake.failNext(503);
    expect(await failure(voice().transfer(uuid, check))).toBeInstanceOf(RetryableError);
  });

  it("makes a refused call permanent, with Vonage's error type as its code and no full number in it", async () => {
    fake.failNext(400, 1, {
      type: "https://developer.nexmo.com/api-errors#bad-request",
      title: "Bad Request",
      detail: "The to number 447911123042 is invalid",
    });
    const err = await failure(ring());
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("https://developer.nexmo.com/api-errors#bad-request");
    expect((err as Error).message).toContain("400 (Bad Request");
    expect((err as Error).message).not.toMatch(/\d{5,}/);
  });

  it("makes a refused application permanent, and says nothing of its key", async () => {
    fake.failNext(401, 1, { title: "Unauthorized" });
    const err = await failure(ring());
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).not.toContain("PRIVATE KEY");
    expect(JSON.stringify(err)).not.toContain("Bearer");
  });

  it("gives up on a stalled Vonage after its timeout, as retryable", async () => {
    fake.stallNext(1500);
    const err = await failure(ring(voice({ timeoutMs: 300 })));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toContain("timed out");
  });

  it("makes a refused connection retryable", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((ok) => closed.close(() => ok()));
    const v = createVonageVoice({ applicationId: "a", privateKey, apiHost: `http://127.0.0.1:${port}` });
    expect(await failure(ring(v))).toBeInstanceOf(RetryableError);
  });

  it("refuses a number that is not E.164 before asking Vonage, without repeating it", async () => {
    const before = fake.attempts;
    const err = await failure(
      voice().call({ to: "07911123042x", from: "+442079460000", ncco: check, eventUrl }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("invalid_number");
    expect((err as Error).message).not.toContain("07911123042");
    expect(fake.attempts).toBe(before);
  });

  it("refuses a uuid that would change the request's path, an empty NCCO and a relative event URL", async () => {
    await expect(voice().transfer("../messages", check)).rejects.toBeInstanceOf(ValidationError);
    await expect(voice().transfer("abc", [])).rejects.toBeInstanceOf(ValidationError);
    await expect(
      voice().call({ to: "+447911123042", from: "+442079460000", ncco: [], eventUrl }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      voice().call({ to: "+447911123042", from: "+442079460000", ncco: check, eventUrl: "/voice/event" }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it("reads the private key from an env-file line with literal \\n", async () => {
    const v = createVonageVoice({
      applicationId: "app-voice-2",
      privateKey: privateKey.replace(/\n/g, "\\n"),
      apiHost: fake.url,
    });
    await ring(v);
    expect(fake.calls.at(-1)?.claims.application_id).toBe("app-voice-2");
  });
});
