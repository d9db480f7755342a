/**
 * The automated call, as Vonage Call Control Objects (NCCO) in the customer's language, and the
 * call's webhooks (keypad answer, call events) parsed into typed values. Pure: the words come from
 * the `voice` part of templates/<lang>.json, the clock and the network are the caller's.
 *
 * NCCO actions keep Vonage's camelCase (`bargeIn`, `eventUrl`, `timeOut`): the SDK sends an inline
 * NCCO untouched, and a webhook answers with this JSON as it is.
 */
import Mustache from "mustache";
import { z } from "zod";
import { fieldIssues, ValidationError } from "../errors.ts";
import { cleanDescriptor, type TemplateVars, templateVariables, voiceTemplateOf } from "./templates.ts";

export type Endpoint = { type: "phone"; number: string } | { type: "sip"; uri: string };

export interface TalkAction {
  action: "talk";
  text: string;
  /** A Vonage TTS language, e.g. `en-GB`, `fr-FR`. */
  language: string;
  /** true: a key pressed while it speaks stops it and goes to the next `input`. */
  bargeIn?: boolean;
}

export interface InputAction {
  action: "input";
  type: ["dtmf"];
  /** `timeOut`: seconds of silence before Vonage gives up (0 to 10). */
  dtmf: { maxDigits: number; timeOut: number; submitOnHash: boolean };
  /** Where Vonage POSTs the keypad result; its answer is the call's next NCCO. */
  eventUrl: [string];
  eventMethod: "POST";
}

export interface ConnectAction {
  action: "connect";
  /** The caller id shown to the one we connect to: E.164 digits without '+'. */
  from: string;
  /** Seconds to ring before giving up. */
  timeout: number;
  endpoint: [Endpoint];
  eventUrl?: [string];
  /**
   * `synchronous`: when the one we connect to does not answer (busy, timeout, unanswered,
   * rejected, failed), Vonage asks `eventUrl` for the next NCCO: the fallback to the team's line.
   */
  eventType?: "synchronous";
}

export type NccoAction = TalkAction | InputAction | ConnectAction;
export type Ncco = NccoAction[];

/** Everything a call says, per language file (`voice.<kind>`). */
export const VOICE_KINDS = [
  "greeting",
  "check",
  "menu",
  "no_key",
  "wrong_key",
  "goodbye",
  "no_input",
  "machine",
  "connect_not_me",
  "connect_agent",
  "connect_team",
  "connect_caller",
  "callback",
] as const;
export type VoiceKind = (typeof VOICE_KINDS)[number];

/** Seconds the keypad waits after the menu. */
export const KEYPAD_TIMEOUT_S = 8;
/** Seconds a connect rings the advocate (or the team's line) before giving up. */
export const CONNECT_TIMEOUT_S = 30;

/** Vonage TTS languages we speak, by primary language: the first is the default. */
const TTS: Record<string, readonly string[]> = {
  en: ["en-GB", "en-US", "en-AU", "en-IE", "en-IN", "en-NZ", "en-ZA"],
  fr: ["fr-FR", "fr-CA"],
};

/** The language whose words are used (`fr-CA` → `fr`; no words of its own → `en`). */
const langOf = (language: string) => voiceTemplateOf("menu", language).lang;

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }]);
}

/**
 * The TTS language for a customer's language: `fr-CA` stays `fr-CA` (Vonage speaks it), `fr` or
 * `fr-BE` is `fr-FR`, and anything without words of its own is English, as for texts.
 */
export function ttsLanguage(language: string): string {
  const lang = langOf(language);
  const [primary = "", region = ""] = language.replace("_", "-").split("-");
  const tag = `${primary.toLowerCase()}-${region.toUpperCase()}`;
  const voices = TTS[lang] ?? TTS.en!;
  return primary.toLowerCase() === lang && voices.includes(tag) ? tag : voices[0]!;
}

const amountFormats = new Map<string, Intl.NumberFormat>();

/**
 * An amount as TTS reads it well: the locale's currency format with its symbol (`€2300`,
 * `2300,00 €`, `£12.50`), which speech engines expand to words ("two thousand three hundred
 * euros"). No grouping separator: a comma, a narrow no-break space or a dot inside a number is
 * read by some voices as a pause or a decimal point, splitting one amount in two. No minor units
 * when the amount is whole: "two thousand three hundred euros", not "... and zero cents".
 */
export function spokenAmount(amount: number, currency: string, locale: string): string {
  if (!Number.isFinite(amount) || amount < 0) throw invalid("amount", "a finite, non-negative number");
  const whole = Number.isInteger(amount);
  const key = `${locale}:${currency}:${whole}`;
  let format = amountFormats.get(key);
  if (!format) {
    try {
      format = new Intl.NumberFormat(locale, {
        style: "currency",
        currency,
        useGrouping: false,
        ...(whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {}),
      });
    } catch {
      throw invalid("currency", "an ISO 4217 code such as EUR");
    }
    amountFormats.set(key, format);
  }
  // Narrow no-break space between number and symbol in French: a plain space reads the same.
  return format.format(amount).replace(/[\u00a0\u202f]/g, " ");
}

/** Card digits said one by one ("4 2 4 2"), not as a number ("four thousand two hundred ..."). */
function spokenDigits(digits: string): string {
  return digits.split("").join(" ");
}

/**
 * A phone number said digit by digit in its groups, a pause (comma) between groups:
 * `+44 20 7946 0000` → `+ 4 4, 2 0, 7 9 4 6, 0 0 0 0`. A group longer than four digits is cut in
 * threes, so an unspaced number is not read as one long run.
 */
export function spokenPhone(phone: string): string {
  const groups = (phone.match(/\d+/g) ?? []).flatMap((g) =>
    g.length > 4 ? (g.match(/\d{1,3}/g) ?? []) : [g],
  );
  const said = groups.map(spokenDigits).join(", ");
  return phone.trim().startsWith("+") ? `+ ${said}` : said;
}

/** Merchant and town for a voice: cleaned as for texts, and without the marks TTS would read aloud ("star"). */
function spokenName(s: string | undefined): string {
  return cleanDescriptor((s ?? "").replace(/[*#_|~^<>{}[\]\\]/g, " "));
}

/**
 * The words of one kind in the customer's language. Every variable the words name must be given
 * (ValidationError otherwise); card digits must be exactly four.
 */
export function voiceText(kind: VoiceKind, language: string, vars: Partial<TemplateVars>): string {
  const { lang, template } = voiceTemplateOf(kind, language);
  if (template === undefined) throw new Error(`templates/${lang}.json has no voice.${kind}`);
  if (vars.last4 !== undefined && vars.last4 !== "" && !/^\d{4}$/.test(vars.last4))
    throw invalid("last4", "exactly four digits");
  const locale = ttsLanguage(language);
  const view: Record<string, string> = {
    bankName: vars.bankName?.trim() ?? "",
    bankPhone: vars.bankPhone ? spokenPhone(vars.bankPhone) : "",
    advocateName: vars.advocateName?.trim() ?? "",
    merchant: spokenName(vars.merchant),
    city: spokenName(vars.city),
    last4: vars.last4 ? spokenDigits(vars.last4) : "",
    amount:
      vars.amount !== undefined && vars.currency ? spokenAmount(vars.amount, vars.currency, locale) : "",
  };
  const missing = templateVariables(template).filter((name) => !view[name]);
  if (missing.length > 0) {
    throw new ValidationError(
      `voice ${lang}/${kind} needs ${missing.join(", ")}`,
      missing.map((m) => ({ path: m, message: "required by the words" })),
    );
  }
  return Mustache.render(template, view, {}, { escape: (s: string) => s })
    .replace(/\s+/g, " ")
    .trim();
}

function talk(text: string, language: string, bargeIn = false): TalkAction {
  return { action: "talk", text, language: ttsLanguage(language), bargeIn };
}

function absoluteUrl(url: string, path: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(path, "an absolute http(s) URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw invalid(path, "an absolute http(s) URL");
  return url;
}

/**
 * The automated check: who is calling, then the payment in words (amount, merchant, town, the
 * card's last four), then the menu (1 it was me, 2 it was not, 0 someone), then a one-key input
 * posted to `inputUrl` (which should say which case and which attempt it is: the keypad webhook
 * carries only the call's ids).
 *
 * Attempt 1 opens with a greeting that holds no payment detail, in a talk of its own: with machine
 * detection the call can be moved to `machineNcco` while the greeting plays, before anything about
 * the payment is said. Attempt 2 is the repeat after no key (`heard: "none"`) or a key that is not
 * a choice (`heard: "other"`): an apology, then the question and the menu again.
 */
export function checkCallNcco(o: {
  language: string;
  vars: TemplateVars;
  inputUrl: string;
  attempt: 1 | 2;
  heard?: "none" | "other";
}): Ncco {
  const inputUrl = absoluteUrl(o.inputUrl, "inputUrl");
  const question = `${voiceText("check", o.language, o.vars)} ${voiceText("menu", o.language, o.vars)}`;
  const opening =
    o.attempt === 1
      ? [talk(voiceText("greeting", o.language, o.vars), o.language)]
      : [talk(voiceText(o.heard === "other" ? "wrong_key" : "no_key", o.language, o.vars), o.language)];
  return [
    ...opening,
    // bargeIn: a customer who knows the answer may press it while the question is still read.
    talk(question, o.language, true),
    {
      action: "input",
      type: ["dtmf"],
      dtmf: { maxDigits: 1, timeOut: KEYPAD_TIMEOUT_S, submitOnHash: false },
      eventUrl: [inputUrl],
      eventMethod: "POST",
    },
  ];
}

/** The answer to key 1: thank you, it was you, nothing more to do. The call then ends. */
export function goodbyeNcco(o: { language: string; advocateName: string }): Ncco {
  return [talk(voiceText("goodbye", o.language, { advocateName: o.advocateName }), o.language)];
}

/** The answer to a second silence: we will be back in touch, and the bank's number. The call then ends. */
export function noInputNcco(o: { language: string; bankPhone: string }): Ncco {
  return [talk(voiceText("no_input", o.language, { bankPhone: o.bankPhone }), o.language)];
}

/** "We will call you back" (and the bank's number): for a caller nobody can be put through to now. */
export function callbackNcco(o: {
  language: string;
  bankName: string;
  bankPhone: string;
  advocateName: string;
}): Ncco {
  const { language, ...vars } = o;
  return [talk(voiceText("callback", language, vars), language)];
}

/**
 * For an answering machine: who called and the bank's number, twice, and the warning about
 * codes. It takes nothing else, so no payment detail can reach a voicemail others may hear.
 */
export function machineNcco(o: { language: string; bankName: string; bankPhone: string }): Ncco {
  return [
    talk(voiceText("machine", o.language, { bankName: o.bankName, bankPhone: o.bankPhone }), o.language),
  ];
}

/**
 * A short message (`voiceText("connect_…")`; none when empty), then the call connected to
 * `endpoint` (`endpointFor`), shown as coming from `from` (E.164, one of the application's numbers).
 */
export function connectNcco(o: {
  language: string;
  endpoint: Endpoint;
  from: string;
  message?: string;
  /** Seconds to ring; default CONNECT_TIMEOUT_S. */
  timeoutSeconds?: number;
  /** Where the connected leg's events go; default the application's event URL. */
  eventUrl?: string;
  /** With `eventUrl`: a connect nobody answers asks it for the next NCCO (a fallback). */
  synchronous?: boolean;
}): Ncco {
  const from = o.from.trim().replace(/^\+/, "");
  if (!/^[1-9]\d{6,14}$/.test(from)) throw invalid("from", "an E.164 number, one of the application's");
  const connect: ConnectAction = {
    action: "connect",
    from,
    timeout: o.timeoutSeconds ?? CONNECT_TIMEOUT_S,
    endpoint: [o.endpoint],
    ...(o.eventUrl ? { eventUrl: [absoluteUrl(o.eventUrl, "eventUrl")] as [string] } : {}),
    ...(o.eventUrl && o.synchronous ? { eventType: "synchronous" as const } : {}),
  };
  const message = o.message?.trim();
  return message ? [talk(message, o.language), connect] : [connect];
}

const E164 = /^\+[1-9]\d{6,14}$/;
const SIP =
  /^sips?:(?:[^@\s;:]+(?::[^@\s;]*)?@)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:;\S*)?$/i;

/**
 * Where a call can be connected: an E.164 number (`+447700900123` → Vonage's digits without '+')
 * or a SIP URI (`sip:amara@pbx.bank.example`). Anything else is a ValidationError.
 */
export function endpointFor(phoneOrSip: string): Endpoint {
  const s = phoneOrSip.trim();
  if (E164.test(s)) return { type: "phone", number: s.slice(1) };
  if (SIP.test(s)) return { type: "sip", uri: s };
  throw invalid("phone", "an E.164 number such as +447700900123 or a SIP URI such as sip:name@host");
}

/** A field Vonage sends as a string or a number, or leaves out; never more than `max` characters. */
const text = (max: number) => z.string().max(max);

const keypadSchema = z.looseObject({
  dtmf: z.looseObject({
    // Vonage sends "" when the customer pressed nothing; null is taken the same way.
    digits: z.string().max(40).nullish(),
    timed_out: z.boolean().optional(),
  }),
  uuid: text(100).min(1),
  conversation_uuid: text(100).optional(),
  from: text(64).optional(),
  to: text(64).optional(),
  timestamp: text(64).optional(),
});

export interface Keypad {
  /** 1 yes (it was me), 2 no (it was not), 0 agent, none (no key), other (any other key). */
  kind: "yes" | "no" | "agent" | "none" | "other";
  digits: string;
  timedOut: boolean;
  uuid: string;
  conversationUuid?: string;
}

const KEYS: Record<string, Keypad["kind"]> = { "1": "yes", "2": "no", "0": "agent" };

/** The input webhook's body (the keypad answer). A body that is not one is a ValidationError. */
export function parseKeypad(body: unknown): Keypad {
  const r = keypadSchema.safeParse(body);
  if (!r.success) throw new ValidationError("not a keypad answer", fieldIssues(r.error, { whole: "(body)" }));
  const digits = r.data.dtmf.digits ?? "";
  return {
    kind: digits === "" ? "none" : (KEYS[digits] ?? "other"),
    digits,
    timedOut: r.data.dtmf.timed_out ?? false,
    uuid: r.data.uuid,
    ...(r.data.conversation_uuid ? { conversationUuid: r.data.conversation_uuid } : {}),
  };
}

/**
 * The call states Vonage posts to the event webhook, and machine detection's verdicts (`human`,
 * `machine`; with beep detection, `machine` again with `sub_state: "beep_start"`).
 */
export const CALL_STATUSES = [
  "started",
  "ringing",
  "answered",
  "busy",
  "cancelled",
  "unanswered",
  "disconnected",
  "rejected",
  "failed",
  "timeout",
  "completed",
  "human",
  "machine",
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** States after which the call is over: the strategy moves on from these. */
export const FINAL_CALL_STATUSES: ReadonlySet<string> = new Set<CallStatus>([
  "busy",
  "cancelled",
  "unanswered",
  "rejected",
  "failed",
  "timeout",
  "completed",
]);

const seconds = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/)]).transform(Number);

const eventSchema = z.looseObject({
  status: text(40).optional(),
  // Machine detection's events have carried the leg's id as `call_uuid`.
  uuid: text(100).min(1).optional(),
  call_uuid: text(100).min(1).optional(),
  conversation_uuid: text(100).optional(),
  // A direction Vonage may add one day is dropped, not a reason to refuse the event.
  direction: z.enum(["inbound", "outbound"]).optional().catch(undefined),
  // A SIP leg's from/to is a URI, longer than a number.
  from: text(256).optional(),
  to: text(256).optional(),
  timestamp: text(64).optional(),
  duration: seconds.optional(),
  detail: text(200).optional(),
  sub_state: text(40).optional(),
});

interface CallEventBase {
  uuid?: string;
  conversationUuid?: string;
  direction?: "inbound" | "outbound";
  /** As Vonage sends them: digits without '+'. */
  from?: string;
  to?: string;
  /** ISO 8601, as Vonage sent it. */
  timestamp?: string;
  /** Seconds, on `completed`. */
  durationSeconds?: number;
  /** Why a call failed or was not answered, when Vonage says (`invalid_number`, `restricted`, ...). */
  detail?: string;
  /** With beep detection: `beep_start`, `beep_timeout`. */
  subState?: string;
  /** The call is over (busy, cancelled, unanswered, rejected, failed, timeout, completed). */
  final: boolean;
}

/**
 * A known status always carries the call's uuid. Anything else Vonage posts there (a new status,
 * a transfer or error notice with no status) is kept, flagged `known: false`, for the timeline.
 */
export type CallEvent = CallEventBase &
  ({ known: true; status: CallStatus; uuid: string } | { known: false; status: string });

/** The event webhook's body. Unknown fields are allowed; a body that is not an object is a ValidationError. */
export function parseCallEvent(body: unknown): CallEvent {
  const r = eventSchema.safeParse(body);
  if (!r.success) throw new ValidationError("not a call event", fieldIssues(r.error, { whole: "(body)" }));
  const e = r.data;
  const uuid = e.uuid ?? e.call_uuid;
  const base: CallEventBase = {
    ...(uuid ? { uuid } : {}),
    ...(e.conversation_uuid ? { conversationUuid: e.conversation_uuid } : {}),
    ...(e.direction ? { direction: e.direction } : {}),
    ...(e.from ? { from: e.from } : {}),
    ...(e.to ? { to: e.to } : {}),
    ...(e.timestamp ? { timestamp: e.timestamp } : {}),
    ...(e.duration !== undefined ? { durationSeconds: e.duration } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.sub_state ? { subState: e.sub_state } : {}),
    final: FINAL_CALL_STATUSES.has(e.status ?? ""),
  };
  const status = e.status ?? "";
  if ((CALL_STATUSES as readonly string[]).includes(status)) {
    if (!uuid) throw invalid("uuid", `required on a "${status}" event`);
    return { ...base, known: true, status: status as CallStatus, uuid };
  }
  return { ...base, known: false, status };
}
