/**
 * The SMS sender over the real `@vonage/server-sdk` Messages API, with failures sorted into
 * RetryableError (throttling, 5xx, network, timeout) and PermanentError (the request itself is
 * wrong: bad number, auth, content).
 */
import { readFileSync } from "node:fs";
import { SMS } from "@vonage/messages";
import { Vonage } from "@vonage/server-sdk";
import { PermanentError, RetryableError, ValidationError } from "../errors.ts";
import type { SmsTransport } from "./contact.ts";

export interface VonageSenderOptions {
  apiKey?: string;
  apiSecret?: string;
  applicationId?: string;
  /** PEM text, or a path to a PEM file. */
  privateKey?: string;
  apiHost?: string;
  restHost?: string;
  from: string;
  /** The SDK waits forever by default; we never do. ms. */
  timeoutMs?: number;
}

function pem(key: string): string {
  return key.includes("-----BEGIN") ? key.replace(/\\n/g, "\n") : readFileSync(key, "utf8");
}

interface VetchLike {
  name?: string;
  response?: { status: number; headers: { get(name: string): string | null }; text?: () => Promise<string> };
}

async function classify(err: unknown): Promise<Error> {
  const e = err as VetchLike & Error;
  const res = e?.response;
  if (res && typeof res.status === "number") {
    let detail = "";
    try {
      const body = res.text ? JSON.parse(await res.text()) : {};
      detail = [body.title, body.detail].filter(Boolean).join(": ");
    } catch {}
    const what = `Vonage answered ${res.status}${detail ? ` (${detail})` : ""}`;
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get("retry-after"));
      return new RetryableError(what, Number.isFinite(after) && after > 0 ? after * 1000 : undefined, {
        cause: err,
      });
    }
    return new PermanentError(what, String(res.status), { cause: err });
  }
  // No HTTP answer: connection refused, reset, DNS, or our timeout aborting the request.
  return new RetryableError(
    `Vonage unreachable: ${e?.name === "AbortError" ? "timed out" : (e?.message ?? String(err))}`,
    undefined,
    {
      cause: err,
    },
  );
}

export function createVonageSender(o: VonageSenderOptions): SmsTransport {
  const credentials =
    o.applicationId && o.privateKey
      ? {
          applicationId: o.applicationId,
          privateKey: pem(o.privateKey),
          ...(o.apiKey && o.apiSecret ? { apiKey: o.apiKey, apiSecret: o.apiSecret } : {}),
        }
      : { apiKey: o.apiKey ?? "", apiSecret: o.apiSecret ?? "" };
  const vonage = new Vonage(credentials, {
    ...(o.apiHost ? { apiHost: o.apiHost } : {}),
    ...(o.restHost ? { restHost: o.restHost } : {}),
    timeout: o.timeoutMs ?? 10_000,
  });
  return {
    kind: "vonage",
    async send({ to, text, clientRef }) {
      if (clientRef.length > 100)
        throw new ValidationError("client_ref over 100 characters", [
          { path: "clientRef", message: "at most 100" },
        ]);
      try {
        // Vonage wants digits only: no '+'.
        const { messageUUID } = await vonage.messages.send(
          new SMS({
            channel: "sms",
            messageType: "text",
            to: to.replace(/^\+/, ""),
            from: o.from,
            text,
            clientRef,
          }),
        );
        return { messageUuid: messageUUID };
      } catch (err) {
        throw await classify(err);
      }
    },
  };
}
