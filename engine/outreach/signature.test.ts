import { describe, expect, it } from "vitest";
import { UnauthorizedError } from "../errors.ts";
import { signVonageWebhook, verifyVonageWebhook } from "./signature.ts";

const secret = "a-signature-secret-of-decent-length";
const body = JSON.stringify({ message_uuid: "m-1", from: "447911123042", text: "NO" });
const now = new Date("2026-11-22T11:20:00Z");

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("Vonage webhook signatures", () => {
  it("accepts what Vonage signs", async () => {
    const authorization = await signVonageWebhook({ rawBody: body, secret, now });
    const claims = await verifyVonageWebhook({ authorization, rawBody: body, secret, now });
    expect(claims.payload_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  const refusals: Array<[string, () => Promise<unknown>]> = [
    [
      "a missing header",
      async () => verifyVonageWebhook({ authorization: undefined, rawBody: body, secret, now }),
    ],
    [
      "another secret",
      async () =>
        verifyVonageWebhook({
          authorization: await signVonageWebhook({
            rawBody: body,
            secret: "forged-secret-xxxxxxxxxxxx",
            now,
          }),
          rawBody: body,
          secret,
          now,
        }),
    ],
    [
      "a tampered body",
      async () =>
        verifyVonageWebhook({
          authorization: await signVonageWebhook({ rawBody: body, secret, now }),
          rawBody: body.replace("NO", "YES"),
          secret,
          now,
        }),
    ],
    [
      "a stale token",
      async () =>
        verifyVonageWebhook({
          authorization: await signVonageWebhook({
            rawBody: body,
            secret,
            now: new Date(now.getTime() - 10 * 60_000),
          }),
          rawBody: body,
          secret,
          now,
        }),
    ],
    [
      "a token from the future",
      async () =>
        verifyVonageWebhook({
          authorization: await signVonageWebhook({
            rawBody: body,
            secret,
            now: new Date(now.getTime() + 10 * 60_000),
          }),
          rawBody: body,
          secret,
          now,
        }),
    ],
    [
      "alg none",
      async () => {
        const token = `${b64({ alg: "none", typ: "JWT" })}.${b64({ iat: Math.floor(now.getTime() / 1000), payload_hash: "x" })}.`;
        return verifyVonageWebhook({ authorization: `Bearer ${token}`, rawBody: body, secret, now });
      },
    ],
  ];
  it.each(refusals)("refuses %s", async (_name, attempt) => {
    await expect(attempt()).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
