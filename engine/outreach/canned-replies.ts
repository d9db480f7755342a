/**
 * Canned replies: the bank's own short answers, per language, that supervisors keep and advocates
 * put in the reply box with one click. A canned reply becomes an advocate's text, so it passes the
 * same checks as one written by hand (advocate.ts) when it is saved, not only when it is sent.
 */
import { z } from "zod";
import { UnprocessableError } from "../errors.ts";
import { text } from "../events.ts";
import { cleanText } from "../input.ts";
import { ADVOCATE_TEXT_MAX, advocateTextIssues } from "./advocate.ts";

/** A canned reply's id, as its address carries it: lower-case words joined by hyphens. */
export const cannedReplyId = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/,
    "lower-case letters, digits and hyphens, e.g. card-on-its-way",
  );

export const cannedReplyBody = z.strictObject({
  /** What the button says on the case page. */
  title: text(60),
  /** The customers it is for, by their language (two letters, as a customer's `language`). */
  language: z.string().regex(/^[a-z]{2}$/, "two-letter language code, e.g. en"),
  /** The text that goes into the reply box: checked as an advocate's text is. */
  text: z.string().max(ADVOCATE_TEXT_MAX * 2),
});
export type CannedReplyInput = z.output<typeof cannedReplyBody>;

/**
 * The reply as it is stored, or an UnprocessableError naming `text` with each reason the advocate's
 * own text would be refused for (a link, a card or phone number, blank, too long). `bankPhone` is
 * the bank's own number, the only one a text may give.
 */
export function checkedCannedReply(input: CannedReplyInput, bankPhone: string): CannedReplyInput {
  const body = cleanText(input.text).trim();
  const issues = advocateTextIssues(body, bankPhone);
  if (issues.length > 0)
    throw new UnprocessableError(
      "this text could never be sent to a customer",
      issues.map((message) => ({
        path: "text",
        message: message === "empty" ? "must not be blank" : message,
      })),
    );
  return { title: cleanText(input.title).trim(), language: input.language, text: body };
}
