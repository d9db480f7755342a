/**
 * Message templates: data files per language (`templates/<lang>.json`, one Mustache template per
 * message kind), rendered with no HTML escaping and measured in SMS segments by Twilio's
 * `sms-segments-calculator` (GSM-7 vs UCS-2, extension characters counted twice, 160/153 and
 * 70/67 characters a segment). Pure.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Mustache from "mustache";
import { SegmentedMessage } from "sms-segments-calculator";
import { ValidationError } from "../errors.ts";

export const MESSAGE_KINDS = [
  "fraud_check",
  "behaviour_check",
  "reminder",
  "behaviour_reminder",
  "card_blocked",
  "account_secured",
  "thanks_false_alarm",
  "opt_out_confirmation",
  "help",
  "card_replacement",
  "feedback_question",
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/**
 * One language's file: a template per kind, the words for each behaviour event type, and the
 * words of an automated call (`voice`, rendered by ncco.ts).
 */
type Table = Record<MessageKind, string> & {
  actions: Record<string, string>;
  voice: Record<string, string | undefined>;
};

const dir = join(dirname(fileURLToPath(import.meta.url)), "templates");
const tables = new Map<string, Table>();
for (const lang of ["en", "fr"])
  tables.set(lang, JSON.parse(readFileSync(join(dir, `${lang}.json`), "utf8")) as Table);

export const LANGUAGES = [...tables.keys()];

/**
 * What a template may use. There is deliberately no field for a card number: only `last4` (checked
 * to be four digits) can reach a text.
 */
export interface TemplateVars {
  bankName: string;
  /** The bank's published number: the only number a text may carry. */
  bankPhone: string;
  advocateName: string;
  /** Merchant and city as the card network gave them; cleaned of links and long digit runs. */
  merchant?: string;
  city?: string;
  /** Major units (2300 = 2,300.00), formatted for the language with the ISO currency code. */
  amount?: number;
  /** ISO 4217, e.g. `EUR`. */
  currency?: string;
  /** Only the last four digits of a card ever reach a text. */
  last4?: string;
  /** Event type of a behaviour check, e.g. `payee.added`, put into words by the language's `actions`. */
  action?: string;
  /** Where a replacement card goes, as a town or a branch name only: never a street address. */
  deliverTo?: string;
  /** When it should arrive, already in words for the language ("Fri 4 Dec"). */
  arrivesBy?: string;
}

export interface Rendered {
  text: string;
  encoding: "GSM-7" | "UCS-2";
  segments: number;
  /** The language actually used (after falling back to `en`). */
  language: string;
}

/** `fr-CA` and `fr_FR` use `fr`; anything without a file uses `en`. */
function pickLanguage(language: string): { lang: string; table: Table } {
  const primary = language.toLowerCase().split(/[-_]/)[0] ?? "";
  const lang = tables.has(primary) ? primary : "en";
  const table = tables.get(lang);
  if (!table) throw new Error("templates/en.json is missing");
  return { lang, table };
}

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }]);
}

/** Formatters by locale and currency: building one costs far more than using it. */
const amountFormats = new Map<string, Intl.NumberFormat>();

function formatAmount(value: number, currency: string, lang: string): string {
  if (!Number.isFinite(value) || value < 0) throw invalid("amount", "a finite, non-negative number");
  const locale = lang === "fr" ? "fr-FR" : "en-GB";
  const key = `${locale}:${currency}`;
  let format = amountFormats.get(key);
  if (!format) {
    try {
      // The code, not the symbol: symbols such as ₫ or ₹ are not GSM-7 and would force UCS-2 (70 a segment).
      format = new Intl.NumberFormat(locale, { style: "currency", currency, currencyDisplay: "code" });
    } catch {
      throw invalid("currency", "an ISO 4217 code such as EUR");
    }
    // Intl refuses anything but three letters: at most two locales × 26³ codes, far fewer in practice.
    amountFormats.set(key, format);
  }
  const s = format.format(value);
  // French grouping uses narrow no-break spaces, which are not GSM-7 either.
  return s.replace(/[\u00a0\u202f]/g, " ");
}

const DOMAIN =
  /\b([\p{L}\p{N}-]+)(?:\.[\p{L}\p{N}-]+)*\.(?:com|net|org|info|biz|shop|store|app|io|co|me|ly|eu|uk|fr|de|es|it|be|ch|nl|us|ca|au)\b(?:\/\S*)?/giu;

/**
 * Card-network descriptors carry phone numbers and web addresses ("PAYPAL *SHOP 4029357733",
 * "WWW.SHOP.COM/HELP"); a text must carry neither, so they are dropped, and the name is kept short.
 */
export function cleanDescriptor(s: string): string {
  return s
    .replace(/\b(?:https?:\/\/|www\.)/giu, "")
    .replace(DOMAIN, "$1")
    .replace(/\+?\d[\d .-]{3,}\d/g, (run) => (run.replace(/\D/g, "").length > 4 ? "" : run))
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 40)
    .trim();
}

/** The names a template uses (`{{x}}` or `{{{x}}}`). */
export function templateVariables(template: string): string[] {
  return (Mustache.parse(template) as unknown[][])
    .filter((t) => t[0] === "name" || t[0] === "&")
    .map((t) => String(t[1]));
}

/** The raw template of one kind in one language (after fallback), for inspection and tests. */
export function templateOf(kind: MessageKind, language: string): string {
  return pickLanguage(language).table[kind];
}

/**
 * The words of an automated call of one kind (`voice.<kind>` in the language file), after the same
 * fallback as texts; undefined when the file has no such kind.
 */
export function voiceTemplateOf(kind: string, language: string): { lang: string; template?: string } {
  const { lang, table } = pickLanguage(language);
  return { lang, template: table.voice?.[kind] };
}

/** The template variables as a language writes them (amount formatted, descriptors cleaned, actions in words). */
function viewOf(lang: string, table: Table, vars: TemplateVars): Record<string, string> {
  if (vars.last4 !== undefined && vars.last4 !== "" && !/^\d{4}$/.test(vars.last4))
    throw invalid("last4", "exactly four digits");
  return {
    bankName: vars.bankName,
    bankPhone: vars.bankPhone,
    advocateName: vars.advocateName,
    merchant: cleanDescriptor(vars.merchant ?? ""),
    city: cleanDescriptor(vars.city ?? ""),
    last4: vars.last4 ?? "",
    amount: vars.amount !== undefined && vars.currency ? formatAmount(vars.amount, vars.currency, lang) : "",
    action: vars.action ? (table.actions[vars.action] ?? "") : "",
    deliverTo: cleanDescriptor(vars.deliverTo ?? ""),
    arrivesBy: vars.arrivesBy ?? "",
  };
}

/**
 * The parameters of the WhatsApp template that asks a check outside the customer's 24-hour
 * window (an approved template's text is fixed: only its `{{1}}`… are ours). In order, payment:
 * first name, amount, merchant, town, card's last four, advocate's name; behaviour: first name,
 * what was done (in words), advocate's name. Every one must be non-empty (Meta refuses blanks).
 */
export function whatsappParameters(
  subject: "payment" | "behaviour",
  language: string,
  vars: TemplateVars & { firstName: string },
): string[] {
  const { lang, table } = pickLanguage(language);
  const v = viewOf(lang, table, vars);
  const names =
    subject === "payment"
      ? ["firstName", "amount", "merchant", "city", "last4", "advocateName"]
      : ["firstName", "action", "advocateName"];
  const values = names.map((n) => (n === "firstName" ? vars.firstName.trim() : (v[n] ?? "")));
  const missing = names.filter((_, i) => !values[i]);
  if (missing.length > 0)
    throw new ValidationError(
      `the WhatsApp ${subject} template needs ${missing.join(", ")}`,
      missing.map((m) => ({ path: m, message: "required by the WhatsApp template" })),
    );
  return values;
}

/** Renders one message; every variable the template names must be given and non-empty (ValidationError otherwise). */
export function renderMessage(kind: MessageKind, language: string, vars: TemplateVars): Rendered {
  const { lang, table } = pickLanguage(language);
  const template = table[kind];
  const view = viewOf(lang, table, vars);
  const missing = templateVariables(template).filter((name) => !view[name]);
  if (missing.length > 0) {
    throw new ValidationError(
      `template ${lang}/${kind} needs ${missing.join(", ")}`,
      missing.map((m) => ({ path: m, message: "required by the template" })),
    );
  }
  const text = Mustache.render(template, view, {}, { escape: (s: string) => s })
    .replace(/\s+/g, " ")
    .trim();
  return { text, ...segmentsOf(text), language: lang };
}

/**
 * The GSM-7 code units of each UTF-16 code unit that has any: the library's own table. Required,
 * not imported: it is CommonJS with `exports.default`, which Node's (and tsx's) default import
 * gives as `{ default: table }` while vitest's gives the table, so an import passed every test and
 * found no character in production (templates.test.ts now loads this module as `npm start` does).
 */
const GSM = (
  createRequire(import.meta.url)("sms-segments-calculator/dist/libs/UnicodeToGSM.js") as {
    default: Record<number, readonly number[] | undefined>;
  }
).default;

/** Whether a UTF-16 code unit is a GSM-7 character (basic or extension). */
export function isGsm7(code: number): boolean {
  return GSM[code] !== undefined;
}
/** A segment's 140 octets, in bits, and what a multi-part segment's header (6 octets) leaves of them. */
const SEGMENT_BITS = 1120;
const WITH_HEADER_BITS = SEGMENT_BITS - 48;
/** UCS-2 characters (16 bits each) in one segment alone, and in each part of a longer text. */
const UCS2_ALONE = SEGMENT_BITS / 16;
const UCS2_PART = Math.floor(WITH_HEADER_BITS / 16);

/**
 * Characters outside GSM-7 that always stand alone as one grapheme of one UTF-16 unit (no mark
 * combines into them or with them, no surrogates): letters with accents (Latin-1, Latin
 * Extended, Vietnamese), Greek, Cyrillic, typographic punctuation, currency signs. A text of these
 * and GSM-7 is UCS-2 at one unit a character, which is all the library would find.
 */
function standsAlone(code: number): boolean {
  return (
    (code >= 0x00a0 && code <= 0x02ff && code !== 0x00ad) ||
    (code >= 0x0370 && code <= 0x03ff) ||
    (code >= 0x0400 && code <= 0x0482) ||
    (code >= 0x048a && code <= 0x052f) ||
    (code >= 0x1e00 && code <= 0x1eff) ||
    (code >= 0x2010 && code <= 0x2027) ||
    (code >= 0x2030 && code <= 0x205e) ||
    (code >= 0x20a0 && code <= 0x20c0)
  );
}

/**
 * The encoding and segment count of a text, as `sms-segments-calculator` counts them, in one pass
 * for nearly every text we send: GSM-7 characters only, or those with accented letters, Greek,
 * Cyrillic or typographic punctuation beside them (UCS-2). The library splits the text into
 * graphemes, joining arrays as it goes, and re-sums each segment at every character: ~280 KB of
 * garbage for a GSM-7 text and ~150 KB for a UCS-2 one, 5–10% of the worker's allocation in the
 * bench. Anything else (combining marks, emoji, other scripts) goes to the library;
 * `templates.test.ts` holds this to it.
 */
export function segmentsOf(text: string): Pick<Rendered, "encoding" | "segments"> {
  let bits = 0;
  // Filled as the library fills them: a character that does not fit starts the next segment
  // (an extension character is never split), each segment of a multi-part text carrying a header.
  let parts = 1;
  let used = 0;
  let ucs2 = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const units = GSM[code];
    if (units === undefined) {
      if (!standsAlone(code)) return viaLibrary(text);
      ucs2 = true;
      continue;
    }
    const size = units.length * 7;
    bits += size;
    if (used + size > WITH_HEADER_BITS) {
      parts++;
      used = 0;
    }
    used += size;
  }
  // In UCS-2 every character, those of GSM-7 included, is one 16-bit unit.
  if (ucs2)
    return {
      encoding: "UCS-2",
      segments: text.length <= UCS2_ALONE ? 1 : Math.ceil(text.length / UCS2_PART),
    };
  return { encoding: "GSM-7", segments: bits <= SEGMENT_BITS ? 1 : parts };
}

function viaLibrary(text: string): Pick<Rendered, "encoding" | "segments"> {
  const seg = new SegmentedMessage(text);
  return { encoding: seg.encodingName === "GSM-7" ? "GSM-7" : "UCS-2", segments: seg.segmentsCount };
}
