/**
 * What an open case is waiting for while nobody needs to act: the customer's answer (to a text, a
 * WhatsApp message, an app question or an automated call), and what the contact strategy does
 * next if none comes, and when; or a first message held back by quiet hours. Read from the case's
 * timeline and its severity's strategy steps (engine/outreach/strategy.ts). Pure.
 */
import type { StepKind, Step as StrategyStep } from "../outreach/strategy.ts";

/** The timeline entries this reads: oldest first, as a case's detail holds them. */
export interface Step {
  at: string;
  kind: string;
  detail: unknown;
}

export interface NextContact {
  do: StepKind;
  /** When it is due: the previous step's time plus its wait (or the end of quiet hours). */
  at: Date;
  /** Held by the contact policy (quiet hours) until `at`. */
  held: boolean;
}

export type Waiting =
  /** The first message is held by the contact policy (quiet hours) until `until`. */
  | { kind: "held"; until: Date }
  /**
   * Waiting for the customer's answer to what was sent at `askedAt` (`by` touchpoint's strategy or
   * an advocate's text, on `channel`); if none comes, the strategy's `next` steps, in order (none
   * after the last step, or when the customer answered and an advocate wrote since).
   */
  | {
      kind: "answer";
      by: "touchpoint" | "advocate";
      askedAt: Date;
      /** sms, whatsapp, app, voice: where the question went. */
      channel: string;
      next: NextContact[];
      /** The question went to the outbox (no Vonage credentials): stored, never sent. */
      outbox: boolean;
    };

const CHECKS = new Set(["fraud_check", "behaviour_check"]);

const detail = (s: Step) => (s.detail ?? {}) as Record<string, unknown>;
const notBefore = (s: Step) => {
  const d = detail(s);
  return d.action === "defer" && typeof d.notBefore === "string" ? new Date(d.notBefore) : undefined;
};

/**
 * What the case waits for, or undefined when it waits for nobody (closed, answered, or a task is
 * already due: then the case needs its advocate, which says more). `steps` is the strategy of
 * the case's severity: step 1 asks, and each later step comes its `afterMinutes` after the one
 * before while nobody answers (a skipped step hands over at once, so the projection is the latest
 * each can come).
 */
export function waitingFor(
  c: { status: string; timeline: readonly Step[] },
  steps: readonly StrategyStep[],
  /** Whether an automated call can be placed to this customer (configured, and among their channels). */
  opts: { canCall: boolean } = { canCall: true },
): Waiting | undefined {
  if (c.status !== "open") return undefined;
  const t = c.timeline;
  const lastIndex = (test: (s: Step) => boolean, from = 0) => {
    for (let i = t.length - 1; i >= from; i--) if (test(t[i]!)) return i;
    return -1;
  };
  // Only what came after the customer last answered is still waiting for them.
  const from = lastIndex((s) => s.kind === "reply.received" || s.kind === "call.keypad") + 1;
  // A call task is due: the case needs its advocate, not the customer.
  if (lastIndex((s) => s.kind === "task.call_customer", from) >= 0) return undefined;
  const check = lastIndex(
    (s) => (s.kind === "message.sent" && CHECKS.has(detail(s).kind as string)) || s.kind === "call.placed",
    from,
  );
  const written = lastIndex((s) => s.kind === "message.written", from);
  if (check < 0) {
    if (written >= 0)
      return {
        kind: "answer",
        by: "advocate",
        askedAt: new Date(t[written]!.at),
        channel: "sms",
        next: [],
        outbox: false,
      };
    // Nothing out yet: the policy may be holding the first message for the morning.
    const held = lastIndex((s) => s.kind === "contact.decided", from);
    const until = held >= 0 ? notBefore(t[held]!) : undefined;
    return until ? { kind: "held", until } : undefined;
  }
  const asked = t[check]!;
  // The strategy's last step on the timeline (1-based `step`); a case from before strategies has none: step 1.
  const stepAt = lastIndex((s) => s.kind === "contact.step" && typeof detail(s).step === "number", from);
  const done = stepAt >= 0 ? (detail(t[stepAt]!).step as number) : 1;
  // Each later step is timed from the last one taken (the ask itself when it is the first).
  let at = new Date((stepAt > check ? t[stepAt]! : asked).at);
  // A deferred step since: held until the policy's morning.
  const heldAt = lastIndex(
    (s) => s.kind === "contact.decided" && notBefore(s) !== undefined,
    Math.max(stepAt, check) + 1,
  );
  const next: NextContact[] = [];
  steps.slice(done).forEach((s, i) => {
    if (i === 0 && heldAt >= 0) {
      at = notBefore(t[heldAt]!)!;
      next.push({ do: s.do, at, held: true });
      return;
    }
    at = new Date(at.getTime() + s.afterMinutes * 60_000);
    // A call that cannot be placed is skipped when its time comes; the next step waits its own time after.
    if (s.do === "voice" && !opts.canCall) return;
    next.push({ do: s.do, at, held: false });
  });
  const advocateSince = written > check;
  return {
    kind: "answer",
    by: advocateSince ? "advocate" : "touchpoint",
    askedAt: new Date((advocateSince ? t[written]! : asked).at),
    channel: asked.kind === "call.placed" ? "voice" : String(detail(asked).channel ?? "sms"),
    next,
    outbox: !advocateSince && detail(asked).transport === "outbox",
  };
}
