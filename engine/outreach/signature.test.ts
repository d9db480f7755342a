import { createHash, generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { UnauthorizedError } from "../errors.ts";
import { signVonageWebhook, verifyVonageWebhook } from "./signature.ts";

const secret = "a-signature-secret-of-decent-length";
const body = JSON.stringify({ message_uuid: "m-1", from: "447911123042", text: "NO" });
const now = new Date("2026-11-22T11:20:00Z");
const nowS = Math.floor(now.getTime() / 1000);
const hash = createHash("sha256").update(body).digest("hex");

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const signedAt = (at: Date) => signVonageWebhook({ rawBody: body, secret, now: at });
const secondsFromNow = (s: number) => new Date(now.getTime() + s * 1000);

describe("verifyVonageWebhook", () => {
  it("accepts what Vonage signs, and returns its claims", async () => {
    const authorization = await signVonageWebhook({
      rawBody: body,
      secret,
      now,
      apiKey: "abcd1234",
      applicationId: "app-1",
    });
    const claims = await verifyVonageWebhook({ authorization, rawBody: body, secret, now });
    expect(claims).toMatchObject({
      iat: nowS,
      iss: "Vonage",
      api_key: "abcd1234",
      application_id: "app-1",
      payload_hash: hash,
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("checks the hash of the body as bytes, given as a string or a Uint8Array", async () => {
    const authorization = await signedAt(now);
    await expect(
      verifyVonageWebhook({ authorization, rawBody: new TextEncoder().encode(body), secret, now }),
    ).resolves.toHaveProperty("payload_hash", hash);
  });

  it("accepts a token up to five minutes old and up to a minute ahead (clock skew)", async () => {
    for (const skew of [-300, -299, 0, 59, 60]) {
      await expect(
        verifyVonageWebhook({
          authorization: await signedAt(secondsFromNow(skew)),
          rawBody: body,
          secret,
          now,
        }),
      ).resolves.toBeDefined();
    }
  });

  it("honours a configured maximum age", async () => {
    const authorization = await signedAt(secondsFromNow(-120));
    await expect(
      verifyVonageWebhook({ authorization, rawBody: body, secret, now, maxAgeSeconds: 60 }),
    ).rejects.toThrow("too old");
  });

  it("accepts the scheme in any case, as HTTP allows", async () => {
    const authorization = (await signedAt(now)).replace("Bearer", "bearer");
    await expect(verifyVonageWebhook({ authorization, rawBody: body, secret, now })).resolves.toBeDefined();
  });

  const { privateKey: rsaKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const craft = async (alg: "RS256" | "HS512", claims: object) =>
    `Bearer ${await new SignJWT({ ...claims })
      .setProtectedHeader({ alg, typ: "JWT" })
      .sign(alg === "RS256" ? rsaKey : new TextEncoder().encode(secret))}`;

  const refusals: Array<[string, () => Promise<string | undefined>, string?]> = [
    ["a missing header", async () => undefined],
    ["an empty header", async () => ""],
    ["Basic credentials", async () => `Basic ${Buffer.from("key:secret").toString("base64")}`],
    ["a token without the Bearer scheme", async () => (await signedAt(now)).replace("Bearer ", "")],
    [
      "a token signed with another secret",
      () => signVonageWebhook({ rawBody: body, secret: "forged-secret-xxxxxxxxxxxx", now }),
    ],
    ["a stale token (6 minutes old)", () => signedAt(secondsFromNow(-360)), "too old"],
    ["a token from the future (2 minutes ahead)", () => signedAt(secondsFromNow(120)), "future"],
    [
      "alg none",
      async () => `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ iat: nowS, payload_hash: hash })}.`,
    ],
    ["RS256, even with a valid RSA signature", () => craft("RS256", { iat: nowS, payload_hash: hash })],
    ["HS512 with the right secret", () => craft("HS512", { iat: nowS, payload_hash: hash })],
    [
      "a token without payload_hash",
      async () =>
        `Bearer ${await new SignJWT({})
          .setProtectedHeader({ alg: "HS256" })
          .setIssuedAt(nowS)
          .sign(new TextEncoder().encode(secret))}`,
    ],
    [
      "a token without iat",
      async () =>
        `Bearer ${await new SignJWT({ payload_hash: hash })
          .setProtectedHeader({ alg: "HS256" })
          .sign(new TextEncoder().encode(secret))}`,
    ],
    ["garbage", async () => "Bearer not.a.jwt"],
  ];
  it.each(refusals)("refuses %s", async (_name, header, reason) => {
    const attempt = verifyVonageWebhook({ authorization: await header(), rawBody: body, secret, now });
    await expect(attempt).rejects.toBeInstanceOf(UnauthorizedError);
    if (reason) await expect(attempt).rejects.toThrow(reason);
  });

  it("refuses a body changed after signing", async () => {
    const authorization = await signedAt(now);
    await expect(
      verifyVonageWebhook({ authorization, rawBody: body.replace('"NO"', '"YES"'), secret, now }),
    ).rejects.toThrow("body does not match its payload_hash");
    await expect(
      verifyVonageWebhook({ authorization, rawBody: `${body} `, secret, now }),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
