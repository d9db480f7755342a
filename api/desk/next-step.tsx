/**
 * The case page's next step: what needs the advocate now, or, while nobody needs to act, what the
 * case is waiting for and what the contact strategy does next, when (engine/cases/waiting.ts).
 */
import { type NextContact, waitingFor } from "../../engine/cases/waiting.ts";
import type { Strategy } from "../../engine/outreach/strategy.ts";
import { When } from "./layout.tsx";
import type { Detail } from "./words.tsx";

const WHAT: Record<string, string> = {
  sms: "the text",
  whatsapp: "the WhatsApp message",
  app: "the question in the app",
  voice: "the automated call",
};

const STEP: Record<NextContact["do"], string> = {
  message: "a message",
  reminder: "a reminder",
  voice: "an automated call",
  task: "a call task for the advocate",
};

export function NextStep({
  c,
  strategy,
  voice,
}: {
  c: Detail;
  strategy: Strategy;
  /** Whether automated calls are configured here. */
  voice: boolean;
}) {
  if (c.attention) return <p class="attention">Needs you: {c.attention}</p>;
  // The automated call asks about a payment: a case about account actions skips it.
  const aboutPayment = c.decisions.some((d) => d.event?.type === "card.transaction");
  const canCall = voice && aboutPayment && (c.customer?.channels ?? ["sms", "voice"]).includes("voice");
  const w = waitingFor({ status: c.status, timeline: c.timeline }, strategy[c.severity], { canCall });
  if (!w) return null;
  const who = c.customer?.name ?? "the customer";
  if (w.kind === "held")
    return (
      <p class="waiting-on" id="waiting">
        Waiting: the first message to {who} is held for quiet hours; it goes at <When at={w.until} />.
      </p>
    );
  const asked = w.by === "advocate" ? "the advocate's text" : (WHAT[w.channel] ?? "the message");
  return (
    <p class="waiting-on" id="waiting">
      Waiting for {who}'s answer to {asked}{" "}
      {w.outbox
        ? "stored in the outbox (not sent: no Vonage credentials)"
        : w.channel === "voice"
          ? "placed"
          : "sent"}{" "}
      <When at={w.askedAt} />
      {w.next.length === 0 ? (
        <>; nothing goes to them automatically after it.</>
      ) : (
        w.next.map((n, i) => (
          <>
            {i === 0 ? "; without an answer, " : ", then "}
            {STEP[n.do]} {n.held ? "held for quiet hours until" : "at"} <When at={n.at} />
            {i === w.next.length - 1 ? "." : ""}
          </>
        ))
      )}
    </p>
  );
}
