/**
 * The bank's app as a channel: touchpoint POSTs the question to the app's backend
 * (APP_WEBHOOK_URL), which shows it in the app and later answers with
 * `POST /v1/cases/:id/answers`. Each request is signed as Stripe and GitHub sign theirs: an
 * HMAC-SHA256 of `<timestamp>.<body>` under a shared secret, so the app's backend can check that
 * the request is ours, whole, and recent (it must refuse an old timestamp: a replay).
 *
 *   X-Touchpoint-Timestamp: 1733481600            (seconds since the epoch)
 *   X-Touchpoint-Signature: v1=<hex of HMAC-SHA256(secret, "1733481600." + body)>
 *   Idempotency-Key: <the message's key>          (a retry carries the same one)
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { PermanentError, RetryableError } from "../../errors.ts";

export interface AppMessage {
  /** The message's key: the same on every retry of one send decision. */
  key: string;
  caseId: string | null;
  customerId: string;
  /** fraud_check, reminder, card_blocked, … (the SMS kinds). */
  kind: string;
  /** The words, as the text message would say them. */
  text: string;
  /** What the customer may answer: ["yes", "no"] for a question, [] when it only informs. */
  answers: Array<"yes" | "no">;
}

export interface AppTransport {
  /** The app's backend took it (any 2xx), or RetryableError / PermanentError. */
  send(m: AppMessage): Promise<{ messageUuid: string }>;
}

export function appSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * For the app's backend (and tests): whether a request carries our signature over this body,
 * made at most `toleranceSeconds` from `now`. Constant-time.
 */
export function verifyAppSignature(o: {
  secret: string;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  body: string;
  now: Date;
  toleranceSeconds?: number;
}): boolean {
  const ts = Number(o.timestamp);
  if (!Number.isInteger(ts) || !o.signature) return false;
  if (Math.abs(o.now.getTime() / 1000 - ts) > (o.toleranceSeconds ?? 300)) return false;
  const want = Buffer.from(appSignature(o.secret, ts, o.body));
  const got = Buffer.from(o.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function createAppTransport(o: {
  url: string;
  secret: string;
  timeoutMs: number;
  now?: () => Date;
}): AppTransport {
  const now = o.now ?? (() => new Date());
  return {
    async send(m) {
      const body = JSON.stringify({
        messageId: m.key,
        caseId: m.caseId,
        customerId: m.customerId,
        kind: m.kind,
        text: m.text,
        answers: m.answers,
        // Where the app's backend sends the answer (role ingest).
        ...(m.caseId && m.answers.length > 0 ? { answerTo: `/v1/cases/${m.caseId}/answers` } : {}),
      });
      const timestamp = Math.floor(now().getTime() / 1000);
      let res: Response;
      try {
        res = await fetch(o.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-touchpoint-timestamp": String(timestamp),
            "x-touchpoint-signature": appSignature(o.secret, timestamp, body),
            "idempotency-key": m.key,
          },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
      } catch (err) {
        const e = err as { name?: string; message?: string };
        throw new RetryableError(
          `the app's backend is unreachable: ${e.name === "TimeoutError" ? "timed out" : (e.message ?? "network error")}`,
        );
      }
      // The body is not ours to keep (it may echo the customer); drain it so the socket is reused.
      await res.body?.cancel().catch(() => {});
      if (res.ok) return { messageUuid: `app:${m.key}` };
      const said = `the app's backend answered ${res.status}`;
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw new RetryableError(said);
      throw new PermanentError(said, `app_${res.status}`);
    },
  };
}
