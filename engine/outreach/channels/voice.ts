/**
 * The automated call over the real `@vonage/server-sdk` Voice API client: `POST /v1/calls` with an
 * inline NCCO, and `PUT /v1/calls/:uuid` to move a live call to another NCCO. Failures are sorted
 * as the SMS sender sorts them (vonage.ts `classify`): 408, 429, 5xx, network and timeout
 * RetryableError; other 4xx PermanentError; never the number or the credentials in a message.
 *
 * What the SDK (@vonage/voice 1.21) does, read from its source: it authenticates with the
 * application's JWT only (application id + private key); `createOutboundCall` snake-cases the
 * top-level keys (`event_url`, `advanced_machine_detection`) but sends the NCCO untouched;
 * `transferCallWithNCCO` PUTs `{ action: "transfer", destination: { type: "ncco", ncco } }`.
 */
import { Vonage } from "@vonage/server-sdk";
import { PermanentError, ValidationError } from "../../errors.ts";
import type { Ncco } from "../ncco.ts";
import { classify, maskDigits, pem } from "../vonage.ts";

export interface VonageVoiceOptions {
  applicationId: string;
  /** PEM text (literal `\n` accepted, as env files carry it), or a path to a PEM file. */
  privateKey: string;
  /** Voice API host, default Vonage's (`https://api.nexmo.com`). */
  apiHost?: string;
  /** Per request, ms; default 10,000. The SDK's own default is to wait forever. */
  timeoutMs?: number;
  /**
   * How a call asks for machine detection: `advanced` (default; charged by Vonage) or `standard`
   * (free, less accurate, no beep). See `detection` below.
   */
  machineDetection?: "advanced" | "standard";
}

export interface VoiceTransport {
  /**
   * Rings `to` (E.164) from `from` (E.164, one of the application's numbers) and plays `ncco`;
   * the call's states are posted to `eventUrl`. With `machineDetection`, a `human` or `machine`
   * event arrives there before the NCCO starts.
   */
  call(c: {
    to: string;
    from: string;
    ncco: Ncco;
    eventUrl: string;
    machineDetection?: boolean;
  }): Promise<{ uuid: string; conversationUuid?: string }>;
  /** Replaces what a live call is doing with `ncco` (an answering machine's message, a connect). */
  transfer(uuid: string, ncco: Ncco): Promise<void>;
}

/** The SDK's call with an inline NCCO (its other form fetches the NCCO from an answer URL). */
type CreateCall = Extract<Parameters<Vonage["voice"]["createOutboundCall"]>[0], { ncco: unknown }>;
type Actions = Parameters<Vonage["voice"]["transferCallWithNCCO"]>[1];

/**
 * Machine detection, chosen from the SDK's types (`machineDetection: "continue" | "hangup"`, or
 * `advancedMachineDetection: { behavior, mode: "default" | "detect" | "detect_beep", beepTimeout }`).
 * Advanced, `continue`, `detect_beep`: synchronous, so Vonage posts `human` or `machine` before it
 * starts the NCCO (our greeting holds no payment detail, and the `machine` event is when to
 * `transfer` to the machine's message); `detect_beep` waits for the beep, so that message is
 * recorded whole rather than cut by the greeting. `continue`, never `hangup`: a voicemail still
 * gets the bank's number. Standard detection (`continue`) also posts `human`/`machine`, free,
 * without the beep.
 */
function detection(kind: "advanced" | "standard"): Partial<CreateCall> {
  // The SDK types these with enums; the strings are what goes on the wire.
  return kind === "standard"
    ? ({ machineDetection: "continue" } as Partial<CreateCall>)
    : ({ advancedMachineDetection: { behavior: "continue", mode: "detect_beep" } } as Partial<CreateCall>);
}

/** Vonage wants the E.164 digits without '+'. */
function digits(number: string, field: string): string {
  const d = number.trim().replace(/^\+/, "");
  if (!/^[1-9]\d{6,14}$/.test(d))
    throw new PermanentError(`${field} is not an E.164 number: ${maskDigits(number)}`, "invalid_number");
  return d;
}

/** The SDK puts the uuid into the request path: anything but a Vonage id could change the path. */
const CALL_UUID = /^[A-Za-z0-9-]{1,100}$/;

function checkUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === "https:" || u.protocol === "http:") return url;
  } catch {}
  throw new ValidationError("eventUrl must be an absolute http(s) URL", [
    { path: "eventUrl", message: "an absolute http(s) URL" },
  ]);
}

/** The Vonage voice client. Throws RetryableError / PermanentError from Vonage, ValidationError for a bug of ours. */
export function createVonageVoice(o: VonageVoiceOptions): VoiceTransport {
  const vonage = new Vonage(
    { applicationId: o.applicationId, privateKey: pem(o.privateKey) },
    { ...(o.apiHost ? { apiHost: o.apiHost } : {}), timeout: o.timeoutMs ?? 10_000 },
  );
  // Adapter at the edge: the clock is read here only to turn an HTTP-date Retry-After into a wait.
  const now = () => new Date();
  const machine = detection(o.machineDetection ?? "advanced");

  return {
    async call(c) {
      if (c.ncco.length === 0)
        throw new ValidationError("a call needs an NCCO", [{ path: "ncco", message: "at least one action" }]);
      const request: CreateCall = {
        to: [{ type: "phone", number: digits(c.to, "to") }],
        from: { type: "phone", number: digits(c.from, "from") },
        // Our NCCO types are the wire format; the SDK types actions with enums of the same strings.
        ncco: c.ncco as unknown as CreateCall["ncco"],
        eventUrl: [checkUrl(c.eventUrl)],
        ...(c.machineDetection ? machine : {}),
      };
      try {
        const r = await vonage.voice.createOutboundCall(request);
        return { uuid: r.uuid, ...(r.conversationUUID ? { conversationUuid: r.conversationUUID } : {}) };
      } catch (err) {
        throw await classify(err, now);
      }
    },

    async transfer(uuid, ncco) {
      if (!CALL_UUID.test(uuid))
        throw new ValidationError("not a call uuid", [{ path: "uuid", message: "letters, digits and '-'" }]);
      if (ncco.length === 0)
        throw new ValidationError("a transfer needs an NCCO", [
          { path: "ncco", message: "at least one action" },
        ]);
      try {
        await vonage.voice.transferCallWithNCCO(uuid, ncco as unknown as Actions);
      } catch (err) {
        throw await classify(err, now);
      }
    },
  };
}
