/** Reading a customer's text: YES, NO, STOP, HELP, or anything else, which is never guessed at. Pure. */

export type ReplyKind = "yes" | "no" | "stop" | "help" | "other";

export interface ParsedReply {
  kind: ReplyKind;
  /** Lower case, accents stripped, letters, digits and single spaces only. */
  normalized: string;
}

// Whole replies, after normalization and after dropping courtesies (see `core`). A reply must be
// one of these exactly: "yes but not the second one" is nowhere, so it goes to the advocate.
const YES = new Set([
  "yes",
  "y",
  "yeah",
  "yea",
  "yeh",
  "yep",
  "yup",
  "ya",
  "yes it was me",
  "yes that was me",
  "yes its me",
  "yes it is me",
  "yes that is me",
  "yes thats me",
  "yes i did",
  "yes i made it",
  "yes mine",
  "yes thats mine",
  "yes that is mine",
  "yes its mine",
  "yes its fine",
  "it was me",
  "that was me",
  "thats me",
  "i did",
  "i made it",
  "mine",
  "thats mine",
  "its mine",
  "ok yes",
  "yes ok",
  "yes correct",
  "correct",
  "confirmed",
  "yes confirmed",
  "yes all good",
  // French (the fr templates ask OUI ou NON).
  "oui",
  "ouais",
  "oui cest moi",
  "oui cetait moi",
  "cest moi",
  "cetait moi",
  "oui cest bien moi",
  "cest bien moi",
]);

const NO = new Set([
  "no",
  "n",
  "nope",
  "nah",
  "no it wasnt me",
  "no it was not me",
  "no that wasnt me",
  "no that was not me",
  "no wasnt me",
  "no not me",
  "no thats not me",
  "no that is not me",
  "no i didnt",
  "no i did not",
  "no not mine",
  "no its not mine",
  "no thats not mine",
  "it wasnt me",
  "it was not me",
  "that wasnt me",
  "that was not me",
  "thats not me",
  "wasnt me",
  "not me",
  "i didnt",
  "i did not",
  "not mine",
  "its not mine",
  "thats not mine",
  "no fraud",
  "fraud",
  "non",
  "non ce netait pas moi",
  "non cest pas moi",
  "non ce nest pas moi",
  "ce netait pas moi",
  "ce nest pas moi",
  "cest pas moi",
  "pas moi",
  "non pas moi",
]);

// Opt-out words (CTIA / FCC: STOP, END, CANCEL, UNSUBSCRIBE, QUIT, and STOPALL); honoured at once.
const STOP = new Set([
  "stop",
  "stopall",
  "stop all",
  "end",
  "cancel",
  "unsubscribe",
  "quit",
  "stop texting me",
  "stop texting",
  "stop messaging me",
  "stop sending me texts",
  "stop it",
  "unsubscribe me",
  "arret",
  "arreter",
  "desabonner",
  "desinscrire",
]);

const HELP = new Set(["help", "info", "aide"]);

// Courtesies that wrap an answer without changing it: "Yes, thanks!", "Hi, no it wasn't me", "stop please".
const LEADING = ["hi", "hello", "hey", "bonjour", "please"];
const TRAILING = ["please", "thanks", "thank you", "thx", "cheers", "merci", "svp", "sil vous plait"];

// Emoji answers, alone or beside a word that agrees with them; any skin tone.
const YES_EMOJI = /[\u{1F44D}\u{2705}\u{2714}\u{1F44C}]/u; // 👍 ✅ ✔ 👌
const NO_EMOJI = /[\u{1F44E}\u{274C}\u{274E}\u{1F6AB}]/u; // 👎 ❌ ❎ 🚫

/** Strips accents, apostrophes, punctuation and emoji; keeps letters, digits and single spaces. */
export function normalizeReply(text: string): string {
  return (
    text
      // Apostrophes go first: NFKD would split the acute accent (´) into a space and a mark.
      .replace(/['’`´]/g, "")
      .normalize("NFKD")
      .replace(/\p{M}+/gu, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim()
      .replace(/\s+/g, " ")
  );
}

/** The answer without greetings, courtesies or repeats: "hi yes yes thanks" → "yes". */
function core(normalized: string): string {
  let s = ` ${normalized} `;
  for (let changed = true; changed; ) {
    changed = false;
    for (const w of LEADING)
      if (s.startsWith(` ${w} `)) {
        s = s.slice(w.length + 1);
        changed = true;
      }
    for (const w of TRAILING)
      if (s.endsWith(` ${w} `) && s.trim() !== w) {
        s = s.slice(0, s.length - w.length - 1);
        changed = true;
      }
  }
  const words = s.trim().split(" ");
  // "no no no", "yes yes": one answer said twice is still one answer.
  return words.every((w) => w === words[0]) ? (words[0] ?? "") : words.join(" ");
}

/**
 * Classifies a reply. Conservative by design: yes/no only when the whole message is one of the
 * known answers (a question mark, a second clause or a contradicting emoji makes it "other", which
 * an advocate reads); STOP and HELP are honoured even as a question ("help?").
 */
export function parseReply(text: string): ParsedReply {
  const normalized = normalizeReply(text);
  const answer = core(normalized);
  if (STOP.has(answer)) return { kind: "stop", normalized };
  if (HELP.has(answer)) return { kind: "help", normalized };

  const word: ReplyKind | undefined = YES.has(answer) ? "yes" : NO.has(answer) ? "no" : undefined;
  const thumbsUp = YES_EMOJI.test(text);
  const thumbsDown = NO_EMOJI.test(text);
  const emoji: ReplyKind | undefined =
    thumbsUp && thumbsDown ? "other" : thumbsUp ? "yes" : thumbsDown ? "no" : undefined;

  // "Yes?" / "no?" asks rather than answers.
  if (/[?？¿]/u.test(text)) return { kind: "other", normalized };
  if (answer === "") return { kind: emoji ?? "other", normalized };
  if (word === undefined) return { kind: "other", normalized };
  return { kind: emoji === undefined || emoji === word ? word : "other", normalized };
}

/**
 * A 1-5 score, answering the feedback question ("Reply 1 (poor) to 5 (great)"): one digit alone,
 * courtesies aside ("5", "5!", "4 thanks", "5/5"); anything else is not a score. Pure.
 */
export function parseScore(text: string): 1 | 2 | 3 | 4 | 5 | undefined {
  const answer = core(normalizeReply(text));
  // "5 5" is "5/5" after normalization, which core() already folds to "5".
  const n = /^[1-5]$/.test(answer) ? Number(answer) : undefined;
  return n as 1 | 2 | 3 | 4 | 5 | undefined;
}
