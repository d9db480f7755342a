import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  type Channel,
  defaultStrategy,
  parseStrategy,
  planStep,
  type StepInput,
  type StepKind,
} from "./strategy.ts";

const all = { whatsapp: true, voice: true, app: true };

function plan(kind: StepKind, o: Partial<Omit<StepInput, "step">> & { channels?: Channel[] } = {}) {
  return planStep({
    step: { do: kind, afterMinutes: 0 },
    channels: o.channels ?? ["sms", "voice"],
    optedOut: o.optedOut ?? new Set(),
    capabilities: o.capabilities ?? all,
    history: o.history ?? { askedOn: null, called: false },
  });
}

describe("the default strategy", () => {
  it("calls high cases after VOICE_AFTER_MINUTES, then hands them over; reminds the others", () => {
    const s = defaultStrategy({ voiceAfterMinutes: 2.5, replyTimeoutMinutes: 30 });
    expect(s.high.map((x) => [x.do, x.afterMinutes])).toEqual([
      ["message", 0],
      ["voice", 2.5],
      ["task", 30],
    ]);
    expect(s.medium.map((x) => x.do)).toEqual(["message", "reminder", "task"]);
    expect(s.low).toEqual(s.medium);
    // The shipped strategy passes the bank's own validation.
    expect(parseStrategy(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });
});

describe("planStep", () => {
  it("asks on the first messaging channel of the customer's preference", () => {
    expect(plan("message", { channels: ["voice", "whatsapp", "sms"] })).toMatchObject({
      act: "message",
      channel: "whatsapp",
    });
    expect(plan("message")).toMatchObject({ act: "message", channel: "sms" });
  });

  it("passes over a channel they opted out of or that is not configured, and says so", () => {
    const p = plan("message", {
      channels: ["whatsapp", "app", "sms"],
      optedOut: new Set(["whatsapp"]),
      capabilities: { ...all, app: false },
    });
    expect(p).toMatchObject({ act: "message", channel: "sms" });
    expect(p.reason).toContain("opted out of whatsapp");
    expect(p.reason).toContain("APP_WEBHOOK_URL");
  });

  it("calls instead when no written channel can reach them, and never calls twice", () => {
    expect(plan("message", { channels: ["voice"] })).toMatchObject({ act: "voice" });
    expect(plan("message", { channels: ["sms", "voice"], optedOut: new Set(["sms"]) })).toMatchObject({
      act: "voice",
    });
    const twice = plan("voice", { history: { askedOn: null, called: true } });
    expect(twice.act).toBe("skip");
    expect(twice.reason).toContain("already called");
  });

  it("skips the call with its reason when voice is not theirs or not configured", () => {
    expect(plan("voice", { channels: ["sms"] })).toEqual({
      act: "skip",
      reason: "no answer yet; no automated call: voice is not among the customer's channels",
    });
    expect(plan("voice", { capabilities: { ...all, voice: false } }).reason).toContain("PUBLIC_URL");
    expect(plan("message", { channels: ["sms"], optedOut: new Set(["sms"]) })).toMatchObject({
      act: "skip",
    });
  });

  it("reminds where it asked, unless they opted out of that channel since", () => {
    expect(
      plan("reminder", { history: { askedOn: "whatsapp", called: false }, channels: ["whatsapp"] }),
    ).toMatchObject({ act: "message", channel: "whatsapp" });
    expect(
      plan("reminder", {
        history: { askedOn: "sms", called: false },
        optedOut: new Set(["sms"]),
      }).act,
    ).toBe("skip");
    expect(plan("reminder").act).toBe("skip");
    expect(plan("task").act).toBe("task");
  });
});

describe("parseStrategy", () => {
  const ok = { do: "message", afterMinutes: 0 };
  it("refuses what a bank could get wrong, naming the step", () => {
    const bad = (json: unknown) => {
      try {
        parseStrategy(json);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      throw new Error("accepted");
    };
    expect(bad({ high: [ok], medium: [ok] })).toEqual([expect.stringMatching(/^low: /)]);
    expect(bad({ high: [{ do: "task", afterMinutes: 0 }], medium: [ok], low: [ok] })[0]).toMatch(
      /^high\.0\.do: the first step asks/,
    );
    expect(
      bad({
        high: [ok, { do: "task", afterMinutes: 5 }, { do: "voice", afterMinutes: 1 }],
        medium: [ok],
        low: [ok],
      }),
    ).toEqual(["high.1.do: the call task hands the case to a person: it must be the last step"]);
    expect(bad({ high: [ok, { do: "voice", afterMinutes: -1 }], medium: [ok], low: [ok] })[0]).toMatch(
      /^high\.1\.afterMinutes: cannot be negative/,
    );
    expect(
      bad({
        high: [
          { do: "voice", afterMinutes: 0 },
          { do: "reminder", afterMinutes: 3 },
        ],
        medium: [ok],
        low: [ok],
      }),
    ).toEqual(['high.1.do: a reminder follows a "message" step']);
  });
});
