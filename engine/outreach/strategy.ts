/**
 * The contact strategy: for each severity, the steps a case takes to reach its customer while
 * nobody answers (ask on a messaging channel, remind, place an automated call, hand a call task to
 * the advocate), and which channel each step uses for this customer. Pure: the worker brings the
 * customer, what this case already did, and whether it is quiet hours where they are.
 *
 * A bank reads and changes the strategy as JSON (CONTACT_STRATEGY_FILE); the defaults ship here.
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { Severity } from "../rules/schema.ts";

export const CHANNELS = ["sms", "whatsapp", "voice", "app"] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channels a question can be written on (voice is a call, not a message). */
export type MessageChannel = Exclude<Channel, "voice">;
export const DEFAULT_CHANNELS: readonly Channel[] = Object.freeze(["sms", "voice"]);

export const STEPS = ["message", "reminder", "voice", "task"] as const;
export type StepKind = (typeof STEPS)[number];

export interface Step {
  /**
   * `message`: ask on the customer's first preferred messaging channel they have not opted out of
   * (a call instead when they take no message at all); `reminder`: ask again where we last asked;
   * `voice`: an automated call with keypad answers; `task`: the advocate's call task.
   */
  do: StepKind;
  /** Minutes after the previous step (after the case opened, for the first) without an answer. */
  afterMinutes: number;
}

export type Strategy = Readonly<Record<Severity, readonly Step[]>>;

const WEEK_MINUTES = 7 * 24 * 60;

const stepSchema = z.strictObject({
  do: z.enum(STEPS),
  afterMinutes: z.number().min(0, "cannot be negative").max(WEEK_MINUTES, `at most ${WEEK_MINUTES} (a week)`),
});

const stepsSchema = z
  .array(stepSchema)
  .min(1, "at least one step")
  .max(8, "at most 8 steps")
  .superRefine((steps, ctx) => {
    const first = steps[0];
    if (first && first.do !== "message" && first.do !== "voice")
      ctx.addIssue({
        code: "custom",
        path: [0, "do"],
        message: 'the first step asks the customer: "message" or "voice"',
      });
    steps.forEach((s, i) => {
      if (s.do === "task" && i !== steps.length - 1)
        ctx.addIssue({
          code: "custom",
          path: [i, "do"],
          message: "the call task hands the case to a person: it must be the last step",
        });
      if (s.do === "reminder" && !steps.slice(0, i).some((p) => p.do === "message"))
        ctx.addIssue({
          code: "custom",
          path: [i, "do"],
          message: 'a reminder follows a "message" step',
        });
    });
  });

export const strategySchema = z.strictObject({ high: stepsSchema, medium: stepsSchema, low: stepsSchema });

/**
 * The shipped strategy. High: ask now on the first messaging channel, call after
 * `voiceAfterMinutes` without an answer, then the advocate's call task. Medium and low: ask now
 * (or in the customer's morning: the contact policy decides), remind once, then the call task.
 */
export function defaultStrategy(o: { voiceAfterMinutes: number; replyTimeoutMinutes: number }): Strategy {
  const calm: Step[] = [
    { do: "message", afterMinutes: 0 },
    { do: "reminder", afterMinutes: o.replyTimeoutMinutes },
    { do: "task", afterMinutes: o.replyTimeoutMinutes },
  ];
  return Object.freeze({
    high: [
      { do: "message", afterMinutes: 0 },
      { do: "voice", afterMinutes: o.voiceAfterMinutes },
      { do: "task", afterMinutes: o.replyTimeoutMinutes },
    ],
    medium: calm,
    low: calm,
  });
}

/** A strategy from a bank's JSON (CONTACT_STRATEGY_FILE), or a ValidationError naming each bad step. */
export function parseStrategy(json: unknown): Strategy {
  const parsed = strategySchema.safeParse(json);
  if (!parsed.success)
    throw new ValidationError(
      "invalid contact strategy",
      parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    );
  return Object.freeze(parsed.data);
}

/** What touchpoint can use right now, from its configuration. */
export interface Capabilities {
  whatsapp: boolean;
  voice: boolean;
  app: boolean;
}

export interface StepInput {
  step: Step;
  /** The customer's ordered preference (`channels`). */
  channels: readonly Channel[];
  /** Channels the customer opted out of (STOP on SMS stops texts only). */
  optedOut: ReadonlySet<Channel>;
  capabilities: Capabilities;
  /** Where this case last asked in writing, and whether it already placed an automated call. */
  history: { askedOn: MessageChannel | null; called: boolean };
}

export type StepPlan =
  | { act: "message"; channel: MessageChannel; reason: string }
  | { act: "voice"; reason: string }
  | { act: "task"; reason: string }
  | { act: "skip"; reason: string };

const MESSAGE_CHANNELS: readonly MessageChannel[] = ["sms", "whatsapp", "app"];

const NOT_CONFIGURED: Record<Exclude<Channel, "sms">, string> = {
  whatsapp: "WhatsApp is not configured (WHATSAPP_FROM)",
  voice: "automated calls are not configured (VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY, PUBLIC_URL)",
  app: "the app channel is not configured (APP_WEBHOOK_URL)",
};

/** Why `channel` cannot be used for this customer now, or undefined when it can. */
function unusable(channel: Channel, input: StepInput): string | undefined {
  if (!input.channels.includes(channel)) return `${channel} is not among the customer's channels`;
  if (input.optedOut.has(channel)) return `the customer opted out of ${channel}`;
  if (channel !== "sms" && !input.capabilities[channel]) return NOT_CONFIGURED[channel];
  return undefined;
}

function voicePlan(input: StepInput, why: string): StepPlan {
  if (input.history.called) return { act: "skip", reason: `${why}, and this case already called them` };
  const no = unusable("voice", input);
  return no ? { act: "skip", reason: `${why}; no automated call: ${no}` } : { act: "voice", reason: why };
}

/**
 * The channel (or skip) of one step for this customer. Quiet hours, caps and the timing are the
 * contact policy's and the worker's; this decides only *where*, and says why in words.
 */
export function planStep(input: StepInput): StepPlan {
  const { step } = input;
  switch (step.do) {
    case "message": {
      const ordered = input.channels.filter((c): c is MessageChannel =>
        (MESSAGE_CHANNELS as readonly string[]).includes(c),
      );
      const skipped: string[] = [];
      for (const channel of ordered) {
        const no = unusable(channel, input);
        if (!no) {
          const before = skipped.length > 0 ? ` (${skipped.join("; ")})` : "";
          return {
            act: "message",
            channel,
            reason: `asking on ${channel}, their first usable channel${before}`,
          };
        }
        skipped.push(no);
      }
      const why =
        ordered.length === 0
          ? "the customer takes no written messages"
          : `no messaging channel can reach them (${skipped.join("; ")})`;
      return voicePlan(input, why);
    }
    case "reminder": {
      const on = input.history.askedOn;
      if (!on) return { act: "skip", reason: "no reminder: nothing was asked in writing" };
      const no = unusable(on, input);
      return no
        ? { act: "skip", reason: `no reminder on ${on}: ${no}` }
        : { act: "message", channel: on, reason: `reminding on ${on}, where we asked` };
    }
    case "voice":
      return voicePlan(input, "no answer yet");
    case "task":
      return { act: "task", reason: "no answer: the advocate calls" };
  }
}

/** Channels a customer can list: known, no repeats, at least one. */
export const channelsInput = z
  .array(z.enum(CHANNELS))
  .min(1, "at least one channel")
  .max(CHANNELS.length)
  .refine((a) => new Set(a).size === a.length, "each channel once");

/** WhatsApp lets a business write freely only this long after the customer's last message. */
export const WHATSAPP_WINDOW_MS = 24 * 3600_000;

/**
 * Where an answer to the customer goes (a reply to their words, an advocate's text): the channel
 * they last wrote on, when we can still write there; else SMS. WhatsApp's free-text window closes
 * 24 hours after their last WhatsApp message.
 */
export function replyChannel(o: {
  last?: { channel: Channel; whatsappAt: Date | null } | undefined;
  optedOut: ReadonlySet<Channel>;
  capabilities: Capabilities;
  now: Date;
}): MessageChannel {
  const c = o.last?.channel;
  if (!c || c === "voice" || c === "sms" || o.optedOut.has(c) || !o.capabilities[c]) return "sms";
  if (
    c === "whatsapp" &&
    !(o.last?.whatsappAt && o.now.getTime() - o.last.whatsappAt.getTime() < WHATSAPP_WINDOW_MS)
  )
    return "sms";
  return c;
}
