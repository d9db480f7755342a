/**
 * The case page's next step: what needs the advocate now, or, while nobody needs to act, what the
 * case is waiting for and what touchpoint does next, when (engine/cases/waiting.ts).
 */
import { waitingFor } from "../../engine/cases/waiting.ts";
import { When } from "./layout.tsx";
import type { Detail } from "./words.tsx";

export function NextStep({ c, replyTimeoutMinutes }: { c: Detail; replyTimeoutMinutes: number }) {
  if (c.attention) return <p class="attention">Needs you: {c.attention}</p>;
  const w = waitingFor(
    { status: c.status, timeline: c.timeline, optedOut: c.customer?.optedOut ?? false },
    replyTimeoutMinutes,
  );
  if (!w) return null;
  const who = c.customer?.name ?? "the customer";
  if (w.kind === "held")
    return (
      <p class="waiting-on" id="waiting">
        Waiting: the first text to {who} is held for quiet hours; it goes at <When at={w.until} />.
      </p>
    );
  return (
    <p class="waiting-on" id="waiting">
      Waiting for {who}'s answer to {w.by === "advocate" ? "the advocate's text" : "the text"}{" "}
      {w.outbox ? "stored in the outbox (not sent: no Vonage credentials)" : "sent"} <When at={w.askedAt} />
      {w.reminderAt ? (
        <>
          ; a reminder goes at <When at={w.reminderAt} />
        </>
      ) : w.reminderHeldUntil ? (
        <>
          ; the reminder is held for quiet hours until <When at={w.reminderHeldUntil} />
        </>
      ) : null}
      {w.callTaskAt ? (
        <>
          {w.reminderAt || w.reminderHeldUntil ? ", then" : "; without an answer,"} a call task for the
          advocate at <When at={w.callTaskAt} />.
        </>
      ) : (
        <>; nothing goes to them automatically after it.</>
      )}
    </p>
  );
}
