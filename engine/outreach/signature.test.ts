import { createHash, generateKeyPairSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, type JWTPayload, SignJWT } from "jose";
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

  it("says why it refused, for the log: no token, a bad signature, a missing claim", async () => {
    await expect(
      verifyVonageWebhook({ authorization: undefined, rawBody: body, secret, now }),
    ).rejects.toThrow("webhook without a bearer token");
    const forged = await signVonageWebhook({ rawBody: body, secret: "forged-secret-xxxxxxxxxxxx", now });
    await expect(verifyVonageWebhook({ authorization: forged, rawBody: body, secret, now })).rejects.toThrow(
      /^webhook signature refused: signature verification failed$/,
    );
    const withoutHash = `Bearer ${await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(nowS)
      .sign(new TextEncoder().encode(secret))}`;
    await expect(
      verifyVonageWebhook({ authorization: withoutHash, rawBody: body, secret, now }),
    ).rejects.toThrow(/^webhook signature refused: .*payload_hash/);
    const withoutIat = `Bearer ${await new SignJWT({ payload_hash: hash })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(secret))}`;
    await expect(
      verifyVonageWebhook({ authorization: withoutIat, rawBody: body, secret, now }),
    ).rejects.toThrow(/^webhook signature refused: .*iat/);
  });

  it("takes the token from a header with extra spaces after the scheme, but nothing after the token", async () => {
    const authorization = await signedAt(now);
    const token = authorization.slice("Bearer ".length);
    await expect(
      verifyVonageWebhook({ authorization: `Bearer   ${token}`, rawBody: body, secret, now }),
    ).resolves.toHaveProperty("payload_hash", hash);
    for (const bad of [`${authorization} extra`, `Token ${authorization}`, `Bearer ${token}.x y`]) {
      await expect(verifyVonageWebhook({ authorization: bad, rawBody: body, secret, now })).rejects.toThrow(
        "webhook without a bearer token",
      );
    }
  });

  it("accepts a payload_hash written in upper-case hex", async () => {
    const authorization = `Bearer ${await new SignJWT({ payload_hash: hash.toUpperCase() })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(nowS)
      .sign(new TextEncoder().encode(secret))}`;
    await expect(verifyVonageWebhook({ authorization, rawBody: body, secret, now })).resolves.toBeDefined();
  });

  it("refuses a payload_hash of the wrong length as a mismatch, not a crash", async () => {
    for (const payload_hash of ["", hash.slice(0, 10), `${hash}00`]) {
      const authorization = `Bearer ${await new SignJWT({ payload_hash })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(nowS)
        .sign(new TextEncoder().encode(secret))}`;
      await expect(verifyVonageWebhook({ authorization, rawBody: body, secret, now })).rejects.toThrow(
        "webhook body does not match its payload_hash",
      );
    }
  });

  it("refuses a token whose iat is not a number of seconds", async () => {
    // A malformed claim on purpose: jose's types rule it out, a forger's token need not.
    const authorization = `Bearer ${await new SignJWT({
      payload_hash: hash,
      iat: String(nowS),
    } as unknown as JWTPayload)
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(secret))}`;
    await expect(verifyVonageWebhook({ authorization, rawBody: body, secret, now })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it("names the age limits in its refusals", async () => {
    await expect(
      verifyVonageWebhook({
        authorization: await signedAt(secondsFromNow(-301)),
        rawBody: body,
        secret,
        now,
      }),
    ).rejects.toThrow("webhook token too old");
    await expect(
      verifyVonageWebhook({ authorization: await signedAt(secondsFromNow(61)), rawBody: body, secret, now }),
    ).rejects.toThrow("webhook token issued in the future");
  });
});

describe("signVonageWebhook", () => {
  it("signs an HS256 JWT with Vonage's claims and default key and application", async () => {
    const authorization = await signVonageWebhook({ rawBody: body, secret, now });
    expect(authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = authorization.slice("Bearer ".length);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decodeJwt(token)).toMatchObject({
      iat: nowS,
      iss: "Vonage",
      api_key: "abcd1234",
      application_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
      payload_hash: hash,
    });
  });

  it("uses the API key and application it is given", async () => {
    const authorization = await signVonageWebhook({
      rawBody: body,
      secret,
      now,
      apiKey: "key-2",
      applicationId: "app-2",
    });
    expect(decodeJwt(authorization.slice("Bearer ".length))).toMatchObject({
      api_key: "key-2",
      application_id: "app-2",
    });
  });

  it("gives each signature its own token id", async () => {
    const jti = async () => decodeJwt((await signedAt(now)).slice("Bearer ".length)).jti;
    expect(await jti()).not.toBe(await jti());
  });
});
