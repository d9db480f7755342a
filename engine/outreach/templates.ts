/**
 * Message templates: data files per language (`templates/<lang>.json`), rendered by Mustache with
 * no HTML escaping, measured in SMS segments (Twilio's calculator: GSM-7 vs UCS-2, extension
 * characters counted twice). Pure.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Mustache from "mustache";
import { SegmentedMessage } from "sms-segments-calculator";
import { ValidationError } from "../errors.ts";

export type MessageKind =
  | "fraud_check"
  | "behaviour_check"
  | "reminder"
  | "behaviour_reminder"
  | "card_blocked"
  | "account_secured"
  | "thanks_false_alarm"
  | "opt_out_confirmation"
  | "help";

type Table = Record<MessageKind, string> & { actions: Record<string, string> };

const dir = join(dirname(fileURLToPath(import.meta.url)), "templates");
const tables = new Map<string, Table>();
for (const lang of ["en", "fr"])
  tables.set(lang, JSON.parse(readFileSync(join(dir, `${lang}.json`), "utf8")) as Table);

export const LANGUAGES = [...tables.keys()];

export interface TemplateVars {
  bankName: string;
  bankPhone: string;
  advocateName: string;
  merchant?: string;
  city?: string;
  /** Major units; formatted for the language with the currency code (GSM-7 safe, unlike €). */
  amount?: number;
  currency?: string;
  /** Only the last four digits of a card ever reach a text. */
  last4?: string;
  /** Event type of a behaviour check, e.g. `payee.added`. */
  action?: string;
}

export interface Rendered {
  text: string;
  encoding: "GSM-7" | "UCS-2";
  segments: number;
  language: string;
}

function formatAmount(value: number, currency: string, lang: string): string {
  const s = new Intl.NumberFormat(lang === "fr" ? "fr-FR" : "en-GB", {
    style: "currency",
    currency,
    currencyDisplay: "code",
  }).format(value);
  // French grouping uses narrow no-break spaces, which would force UCS-2 (70 characters a segment).
  return s.replace(/[\u00a0\u202f]/g, " ");
}

/** Renders one message; every variable the template names must be given (ValidationError otherwise). */
export function renderMessage(kind: MessageKind, language: string, vars: TemplateVars): Rendered {
  const lang = tables.has(language) ? language : "en";
  const table = tables.get(lang)!;
  const template = table[kind];
  if (vars.last4 !== undefined && vars.last4 !== "" && !/^\d{4}$/.test(vars.last4)) {
    throw new ValidationError("last4 must be exactly four digits", [
      { path: "last4", message: "four digits only" },
    ]);
  }
  const view: Record<string, string> = {
    bankName: vars.bankName,
    bankPhone: vars.bankPhone,
    advocateName: vars.advocateName,
    merchant: vars.merchant ?? "",
    city: vars.city ?? "",
    last4: vars.last4 ?? "",
    amount: vars.amount !== undefined && vars.currency ? formatAmount(vars.amount, vars.currency, lang) : "",
    action: vars.action ? (table.actions[vars.action] ?? vars.action) : "",
  };
  const missing = (Mustache.parse(template) as unknown[][])
    .filter((t) => t[0] === "name" || t[0] === "&")
    .map((t) => String(t[1]))
    .filter((name) => !view[name]);
  if (missing.length > 0) {
    throw new ValidationError(
      `template ${lang}/${kind} needs ${missing.join(", ")}`,
      missing.map((m) => ({ path: m, message: "required by the template" })),
    );
  }
  const text = Mustache.render(template, view, {}, { escape: (s: string) => s })
    .replace(/\s+/g, " ")
    .trim();
  const seg = new SegmentedMessage(text);
  return {
    text,
    encoding: seg.encodingName === "GSM-7" ? "GSM-7" : "UCS-2",
    segments: seg.segmentsCount,
    language: lang,
  };
}
