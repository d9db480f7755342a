/**
 * What an open case is waiting for while nobody needs to act: the customer's answer to a text (and
 * what touchpoint does next if none comes, and when), or a text held back by quiet hours. Read from
 * the case's timeline alone, with the reply timeout the outreach worker uses. Pure.
 */

/** The timeline entries this reads: oldest first, as a case's detail holds them. */
export interface Step {
  at: string;
  kind: string;
  detail: unknown;
}

export type Waiting =
  /** The first text is held by the contact policy (quiet hours) until `until`. */
  | { kind: "held"; until: Date }
  /**
   * Waiting for the customer's answer to the text sent at `askedAt` (`by` touchpoint's check or an
   * advocate's text); if none comes, the reminder at `reminderAt` (null: none is due, or it is held
   * until `reminderHeldUntil`), then a call task for the advocate at `callTaskAt` (null: none follows
   * an advocate's text).
   */
  | {
      kind: "answer";
      by: "touchpoint" | "advocate";
      askedAt: Date;
      reminderAt: Date | null;
      reminderHeldUntil: Date | null;
      callTaskAt: Date | null;
      /** The text went to the outbox (no Vonage credentials): stored, never sent. */
      outbox: boolean;
    };

const CHECKS = new Set(["fraud_check", "behaviour_check"]);
const REMINDERS = new Set(["reminder", "behaviour_reminder"]);

const kindOf = (s: Step) => (s.detail as { kind?: unknown } | null)?.kind;
const inOutbox = (s: Step) => (s.detail as { transport?: unknown } | null)?.transport === "outbox";
const notBefore = (s: Step) => {
  const d = s.detail as { action?: unknown; notBefore?: unknown } | null;
  return d?.action === "defer" && typeof d.notBefore === "string" ? new Date(d.notBefore) : undefined;
};

/**
 * What the case waits for, or undefined when it waits for nobody (closed, answered, or a task is
 * already due: then the case needs its advocate, which says more). `replyTimeoutMinutes` is
 * REPLY_TIMEOUT_MINUTES: the check's reminder goes that long after it, the call task that long after
 * the reminder (engine/outreach/contact.ts, `noReply`); without a reminder (the customer opted out)
 * the call task comes at the first timeout.
 */
export function waitingFor(
  c: { status: string; timeline: readonly Step[]; optedOut: boolean },
  replyTimeoutMinutes: number,
): Waiting | undefined {
  if (c.status !== "open") return undefined;
  const t = c.timeline;
  const lastIndex = (test: (s: Step) => boolean, from = 0) => {
    for (let i = t.length - 1; i >= from; i--) if (test(t[i]!)) return i;
    return -1;
  };
  // Only what came after the customer last wrote is still waiting for them.
  const from = lastIndex((s) => s.kind === "reply.received") + 1;
  // A call task is due: the case needs its advocate, not the customer.
  if (lastIndex((s) => s.kind === "task.call_customer", from) >= 0) return undefined;
  const check = lastIndex((s) => s.kind === "message.sent" && CHECKS.has(kindOf(s) as string), from);
  const written = lastIndex((s) => s.kind === "message.written", from);
  const timeout = replyTimeoutMinutes * 60_000;
  const after = (d: Date, ms: number) => new Date(d.getTime() + ms);
  if (check >= 0) {
    const checkAt = new Date(t[check]!.at);
    const reminder = lastIndex((s) => s.kind === "message.sent" && REMINDERS.has(kindOf(s) as string), check);
    const held = lastIndex((s) => s.kind === "contact.decided" && notBefore(s) !== undefined, check + 1);
    const base = {
      kind: "answer" as const,
      by: written > check ? ("advocate" as const) : ("touchpoint" as const),
      askedAt: written > check ? new Date(t[written]!.at) : checkAt,
      outbox: written > check ? false : inOutbox(t[check]!),
    };
    if (reminder >= 0)
      return {
        ...base,
        reminderAt: null,
        reminderHeldUntil: null,
        callTaskAt: after(new Date(t[reminder]!.at), timeout),
      };
    if (c.optedOut)
      return { ...base, reminderAt: null, reminderHeldUntil: null, callTaskAt: after(checkAt, timeout) };
    if (held >= 0) {
      const until = notBefore(t[held]!)!;
      return { ...base, reminderAt: null, reminderHeldUntil: until, callTaskAt: after(until, timeout) };
    }
    const reminderAt = after(checkAt, timeout);
    return { ...base, reminderAt, reminderHeldUntil: null, callTaskAt: after(reminderAt, timeout) };
  }
  if (written >= 0)
    return {
      kind: "answer",
      by: "advocate",
      askedAt: new Date(t[written]!.at),
      reminderAt: null,
      reminderHeldUntil: null,
      callTaskAt: null,
      outbox: false,
    };
  // No text out yet: the policy may be holding the first one for the morning.
  const held = lastIndex((s) => s.kind === "contact.decided", from);
  const until = held >= 0 ? notBefore(t[held]!) : undefined;
  return until ? { kind: "held", until } : undefined;
}
