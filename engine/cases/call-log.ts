/** Calls the advocate made to the customer, logged on the case's timeline as `call.logged`. */
import { z } from "zod";
import { didYouMean } from "../did-you-mean.ts";
import { UnprocessableError } from "../errors.ts";
import { text } from "../events.ts";
import type { Q } from "../store/database.ts";
import { addTimeline, timelineDetailByKey } from "../store/timeline.ts";

/**
 * How a call went. `reached` and `left_message` answer the call task before it (the customer was told,
 * as by a text); `no_answer` does not: nothing reached them, so the case still needs a call.
 */
export const CALL_OUTCOMES = ["reached", "no_answer", "left_message"] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

export const callBody = z.strictObject({
  outcome: z.enum(CALL_OUTCOMES, {
    error: (issue) => {
      const said = `unknown outcome ${JSON.stringify(issue.input)}`;
      const guess = typeof issue.input === "string" ? didYouMean(issue.input, CALL_OUTCOMES) : undefined;
      return guess
        ? `${said}; did you mean "${guess}"?`
        : `${said}; expected one of ${CALL_OUTCOMES.join(", ")}`;
    },
  }),
  note: text(4000).optional(),
});
export type CallLog = z.output<typeof callBody>;

/**
 * Writes the call once per key: the same key with the same call is a retry (false), with another
 * call a refusal, so a reused key never silently drops what the advocate logged.
 */
export async function logCall(
  sql: Q,
  call: CallLog & { caseId: string; by: string; key: string },
): Promise<boolean> {
  const idemKey = `call:${call.caseId}:${call.key}`;
  const detail = { outcome: call.outcome, ...(call.note ? { note: call.note } : {}) };
  const added = await addTimeline(sql, call.caseId, "call.logged", idemKey, detail, { actor: call.by });
  if (added) return true;
  const earlier = await timelineDetailByKey(sql, idemKey);
  if (earlier?.outcome !== detail.outcome || earlier?.note !== detail.note)
    throw new UnprocessableError("this Idempotency-Key was used for another call", [
      {
        path: "Idempotency-Key",
        message: "already used on this case for a different call; log it with a new key",
      },
    ]);
  return false;
}
