/** Reading a customer's text: YES, NO, STOP, HELP, or anything else (never guessed at). Pure. */

export type ReplyKind = "yes" | "no" | "stop" | "help" | "other";

export interface ParsedReply {
  kind: ReplyKind;
  /** Lower case, letters, digits and spaces only: what was matched. */
  normalized: string;
}

const YES = new Set([
  "yes",
  "y",
  "yeah",
  "yea",
  "yep",
  "yup",
  "ya",
  "yes please",
  "yes it was me",
  "yes that was me",
  "it was me",
  "that was me",
  "yes its me",
  "yes it is me",
  "yes i did",
  "i did",
  "yes mine",
  "mine",
  "ok yes",
  "yes ok",
  "yes thanks",
  "yes thank you",
  "correct",
  "confirmed",
  "oui",
  "si",
  "ja",
]);
const NO = new Set([
  "no",
  "no that wasnt me",
  "no that was not me",
  "that wasnt me",
  "that was not me",
  "no wasnt me",
  "n",
  "nope",
  "nah",
  "no it wasnt me",
  "no it was not me",
  "it wasnt me",
  "it was not me",
  "not me",
  "wasnt me",
  "no not me",
  "no i didnt",
  "i didnt",
  "i did not",
  "no i did not",
  "not mine",
  "no thats not me",
  "thats not me",
  "no thanks",
  "non",
  "nein",
  "fraud",
  "no fraud",
]);
const STOP = new Set([
  "stop",
  "stopall",
  "stop all",
  "end",
  "cancel",
  "unsubscribe",
  "quit",
  "stop please",
  "please stop",
  "arret",
  "arreter",
]);
const HELP = new Set(["help", "info", "aide"]);

/** Strips accents, punctuation and emoji; keeps letters, digits and single spaces. */
export function normalizeReply(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/['’`]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim()
    .replace(/\s+/g, " ");
}

export function parseReply(text: string): ParsedReply {
  const normalized = normalizeReply(text);
  const thumbs = text.includes("👍") ? "yes" : text.includes("👎") ? "no" : undefined;
  const kind: ReplyKind = STOP.has(normalized)
    ? "stop"
    : HELP.has(normalized)
      ? "help"
      : YES.has(normalized)
        ? "yes"
        : NO.has(normalized)
          ? "no"
          : normalized === "" && thumbs
            ? thumbs
            : "other";
  return { kind, normalized };
}
