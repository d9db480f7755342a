/**
 * Vonage signed webhooks (Messages API): `Authorization: Bearer <JWT>`, HS256 with the account's
 * signature secret, whose `payload_hash` claim is the SHA-256 (hex) of the raw body. The token,
 * the hash and the token's age are all checked; comparisons are constant-time.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { UnauthorizedError } from "../errors.ts";

/** The claims Vonage puts in a signed webhook's token. */
export interface WebhookClaims {
  /** Issued at, seconds since the epoch. */
  iat: number;
  iss?: string;
  jti?: string;
  api_key?: string;
  application_id?: string;
  /** SHA-256 of the raw body, hex. */
  payload_hash: string;
}

const sha256hex = (body: string | Uint8Array) => createHash("sha256").update(body).digest("hex");

/** Verifies a webhook; throws UnauthorizedError (with a reason for the log, never for the caller to act on). */
export async function verifyVonageWebhook(o: {
  authorization: string | undefined;
  rawBody: string | Uint8Array;
  secret: string;
  now: Date;
  /** Oldest acceptable `iat`, seconds before `now`; default 300. Up to 60 s ahead is allowed for clock skew. */
  maxAgeSeconds?: number;
}): Promise<WebhookClaims> {
  const token = o.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (!token) throw new UnauthorizedError("webhook without a bearer token");
  let claims: WebhookClaims;
  try {
    const verified = await jwtVerify(token, new TextEncoder().encode(o.secret), {
      algorithms: ["HS256"],
      currentDate: o.now,
      requiredClaims: ["iat", "payload_hash"],
    });
    claims = verified.payload as unknown as WebhookClaims;
  } catch (err) {
    throw new UnauthorizedError(
      `webhook signature refused: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const nowS = Math.floor(o.now.getTime() / 1000);
  const maxAge = o.maxAgeSeconds ?? 300;
  if (typeof claims.iat !== "number" || claims.iat < nowS - maxAge)
    throw new UnauthorizedError("webhook token too old");
  if (claims.iat > nowS + 60) throw new UnauthorizedError("webhook token issued in the future");
  const expected = Buffer.from(sha256hex(o.rawBody), "utf8");
  const got = Buffer.from(String(claims.payload_hash ?? "").toLowerCase(), "utf8");
  if (got.length !== expected.length || !timingSafeEqual(got, expected))
    throw new UnauthorizedError("webhook body does not match its payload_hash");
  return claims;
}

/**
 * Signs a body as Vonage does (HS256; claims iat, jti, iss "Vonage", api_key, application_id,
 * payload_hash) and returns the Authorization header value. For tests and local fakes; async because
 * jose signs with WebCrypto.
 */
export async function signVonageWebhook(o: {
  rawBody: string | Uint8Array;
  secret: string;
  now: Date;
  apiKey?: string;
  applicationId?: string;
}): Promise<string> {
  const jwt = await new SignJWT({
    api_key: o.apiKey ?? "abcd1234",
    application_id: o.applicationId ?? "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    payload_hash: sha256hex(o.rawBody),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(Math.floor(o.now.getTime() / 1000))
    .setIssuer("Vonage")
    .setJti(randomUUID())
    .sign(new TextEncoder().encode(o.secret));
  return `Bearer ${jwt}`;
}
