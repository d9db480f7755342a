/**
 * The SMS sender over the real `@vonage/server-sdk` Messages API, with failures sorted into
 * RetryableError (throttling, 408, 5xx, network, timeout) and PermanentError (the request itself
 * is wrong: bad number, credentials, content), so the outreach worker branches on type.
 *
 * What the SDK (3.27, server-client 1.20) does, read from its source: it posts with `node-fetch`,
 * a non-2xx answer throws `VetchError { message, config, response }` where `config` is the whole
 * request (Authorization header and the recipient's number included) and `response` is the
 * node-fetch Response with its body still unread; its `timeout` aborts through an AbortController
 * (node-fetch `AbortError`); a refused connection is a node-fetch `FetchError` of type `system`.
 * It neither retries nor backs off, and has no timeout unless given one.
 */
import { readFileSync } from "node:fs";
import { SMS, WhatsAppTemplate, WhatsAppText } from "@vonage/messages";
import { Vonage } from "@vonage/server-sdk";
import { PermanentError, RetryableError, ValidationError } from "../errors.ts";
import type { MessageTransport } from "./contact.ts";

export interface VonageSenderOptions {
  apiKey?: string;
  apiSecret?: string;
  /** With `privateKey`, the sender authenticates with the application's JWT (else Basic key:secret). */
  applicationId?: string;
  /** PEM text (literal `\n` accepted, as env files carry it), or a path to a PEM file. */
  privateKey?: string;
  /** Messages API host, default Vonage's (`https://api.nexmo.com`). */
  apiHost?: string;
  restHost?: string;
  /** Sender id or number. */
  from: string;
  /** The bank's WhatsApp Business number (E.164 digits); unset: no WhatsApp. */
  whatsappFrom?: string;
  /** Per request, ms; default 10,000. The SDK's own default is to wait forever. */
  timeoutMs?: number;
}

const MAX_CLIENT_REF = 100;
/** How long to wait for the body of an error answer, ms: the SDK's timeout no longer covers it. */
const ERROR_BODY_WAIT_MS = 2_000;

/** A private key as PEM text: given inline (literal `\n` accepted, as env files carry it) or as a path to a PEM file. */
export function pem(key: string): string {
  return key.includes("-----BEGIN") ? key.replace(/\\n/g, "\n") : readFileSync(key, "utf8");
}

/** Vonage error details may echo a number back; nothing we store or log carries more than 4 digits of it. */
export function maskDigits(s: string): string {
  return s.replace(/\+?\d{5,}/g, (run) => `…${run.slice(-4)}`);
}

/** Retry-After is delta-seconds or an HTTP date; ms, when it says anything usable. */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds > 0 ? Math.round(seconds * 1000) : undefined;
  const at = Date.parse(header);
  return Number.isNaN(at) || at <= now.getTime() ? undefined : at - now.getTime();
}

interface HttpFailure {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

function httpFailure(err: unknown): HttpFailure | undefined {
  const res = (err as { response?: Partial<HttpFailure> } | null)?.response;
  return res && typeof res.status === "number" && typeof res.headers?.get === "function"
    ? (res as HttpFailure)
    : undefined;
}

/** Vonage's problem body `{ type, title, detail }`, read with a deadline; empty when absent or unreadable. */
async function problem(res: HttpFailure): Promise<{ type?: string; title?: string; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const text = await Promise.race([
      res.text(),
      new Promise<string>((ok) => {
        timer = setTimeout(() => ok(""), ERROR_BODY_WAIT_MS);
      }),
    ]);
    const body: unknown = JSON.parse(text);
    if (typeof body !== "object" || body === null) return {};
    const pick = (k: string) => {
      const v = (body as Record<string, unknown>)[k];
      return typeof v === "string" && v !== "" ? v : undefined;
    };
    return { type: pick("type"), title: pick("title"), detail: pick("detail") };
  } catch {
    return {};
  } finally {
    clearTimeout(timer);
  }
}

/** Network failures worth another try: node-fetch's abort (our timeout) and system errors (refused, reset, DNS). */
function isNetworkFailure(err: unknown): boolean {
  const e = err as { name?: unknown; type?: unknown } | null;
  return (
    e?.name === "AbortError" ||
    e?.name === "TimeoutError" ||
    (e?.name === "FetchError" && e.type === "system")
  );
}

/**
 * Sorts a failure of a Vonage SDK call (messages, voice: they share server-client's `VetchError`).
 * The SDK's error is not kept as `cause`: its `config` holds our credentials and the full number,
 * and would follow the error into logs.
 */
export async function classify(err: unknown, now: () => Date): Promise<Error> {
  const res = httpFailure(err);
  if (res) {
    const p = await problem(res);
    const said = [p.title, p.detail].filter(Boolean).join(": ");
    const message = `Vonage answered ${res.status}${said ? ` (${maskDigits(said)})` : ""}`;
    if (res.status === 408 || res.status === 429 || res.status >= 500)
      return new RetryableError(message, retryAfterMs(res.headers.get("retry-after"), now()));
    return new PermanentError(message, p.type ?? p.title ?? `http_${res.status}`);
  }
  const e = err as { name?: string; message?: string; code?: string } | null;
  if (isNetworkFailure(err)) {
    const why = e?.name === "AbortError" ? "timed out" : maskDigits(e?.code ?? e?.message ?? "network error");
    return new RetryableError(`Vonage unreachable: ${why}`, undefined, { cause: err });
  }
  // Thrown before any request left: a private key the SDK cannot sign with, and the like. No retry fixes it.
  return new PermanentError(
    `Vonage request not sent: ${maskDigits(e?.message ?? String(err))}`,
    "client_error",
  );
}

/**
 * The Vonage SMS sender. `send({ to, text, clientRef })` takes `to` in E.164 ('+' optional) and
 * `clientRef` of at most 100 characters (echoed in status webhooks as `client_ref`); it resolves with
 * Vonage's message UUID or throws RetryableError / PermanentError (ValidationError for a clientRef out
 * of bounds, which is a bug of ours).
 */
export function createVonageSender(o: VonageSenderOptions): MessageTransport {
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
  // Adapter at the edge: the clock is read here only to turn an HTTP-date Retry-After into a wait.
  const now = () => new Date();

  return {
    kind: "vonage",
    channels: new Set(o.whatsappFrom ? ["sms", "whatsapp"] : ["sms"]),
    async send({ channel = "sms", to, text, clientRef, template }) {
      if (clientRef.length === 0 || clientRef.length > MAX_CLIENT_REF) {
        throw new ValidationError(`clientRef must be 1 to ${MAX_CLIENT_REF} characters`, [
          { path: "clientRef", message: `${clientRef.length} characters` },
        ]);
      }
      // Vonage wants the E.164 digits without '+' (and without 00).
      const digits = to.replace(/^\+/, "");
      if (!/^[1-9]\d{6,14}$/.test(digits)) {
        throw new PermanentError(`not an E.164 number: ${maskDigits(to)}`, "invalid_number");
      }
      let message: SMS | WhatsAppText | WhatsAppTemplate;
      if (channel === "whatsapp") {
        if (!o.whatsappFrom)
          throw new PermanentError("WhatsApp is not configured (WHATSAPP_FROM)", "no_whatsapp");
        const from = o.whatsappFrom.replace(/^\+/, "");
        // Outside the customer's 24-hour window only an approved template may start a conversation.
        message = template
          ? new WhatsAppTemplate({
              to: digits,
              from,
              template: { name: template.name, parameters: template.parameters },
              whatsapp: { policy: "deterministic", locale: template.locale as never },
              clientRef,
            })
          : new WhatsAppText({ to: digits, from, text, clientRef });
      } else {
        message = new SMS({ channel: "sms", messageType: "text", to: digits, from: o.from, text, clientRef });
      }
      try {
        const { messageUUID } = await vonage.messages.send(message);
        return { messageUuid: messageUUID };
      } catch (err) {
        throw await classify(err, now);
      }
    },
  };
}
