import { describe, expect, it } from "vitest";
import { defaultStrategy } from "../outreach/strategy.ts";
import { type Step, waitingFor } from "./waiting.ts";

const at = (hhmm: string) => `2026-12-06T${hhmm}:00.000Z`;
const step = (hhmm: string, kind: string, detail: object = {}): Step => ({ at: at(hhmm), kind, detail });
const open = (timeline: Step[]) => ({ status: "open", timeline });
const { high, medium } = defaultStrategy({ voiceAfterMinutes: 10, replyTimeoutMinutes: 30 });

const opened = step("14:00", "case.opened");
const ask = step("14:02", "contact.step", { step: 1, do: "message", action: "sms" });
const check = step("14:02", "message.sent", { kind: "fraud_check", transport: "vonage", channel: "sms" });

describe("what a case waits for", () => {
  it("a medium case after the check: the answer, a reminder one timeout later, then a call task", () => {
    expect(waitingFor(open([opened, ask, check]), medium)).toEqual({
      kind: "answer",
      by: "touchpoint",
      askedAt: new Date(at("14:02")),
      channel: "sms",
      next: [
        { do: "reminder", at: new Date(at("14:32")), held: false },
        { do: "task", at: new Date(at("15:02")), held: false },
      ],
      outbox: false,
    });
  });

  it("a high case: the automated call VOICE_AFTER_MINUTES after the check, then the call task", () => {
    expect(waitingFor(open([opened, ask, check]), high)).toMatchObject({
      next: [
        { do: "voice", at: new Date(at("14:12")) },
        { do: "task", at: new Date(at("14:42")) },
      ],
    });
  });

  it("a call that cannot be placed is left out; the call task keeps its wait after the call's time", () => {
    expect(waitingFor(open([opened, ask, check]), high, { canCall: false })).toMatchObject({
      next: [{ do: "task", at: new Date(at("14:42")) }],
    });
  });

  it("after the call was placed: only the call task, one timeout after the call", () => {
    const w = waitingFor(
      open([
        opened,
        ask,
        check,
        step("14:12", "contact.step", { step: 2, do: "voice", action: "voice" }),
        step("14:12", "call.placed"),
      ]),
      high,
    );
    expect(w).toMatchObject({ channel: "voice", next: [{ do: "task", at: new Date(at("14:42")) }] });
  });

  it("a step held by quiet hours goes when they end; the next one timeout after", () => {
    const held = step("14:32", "contact.decided", { action: "defer", notBefore: at("20:00") });
    const w = waitingFor(open([opened, ask, check, held]), medium);
    expect(w).toMatchObject({
      next: [
        { do: "reminder", at: new Date(at("20:00")), held: true },
        { do: "task", at: new Date(at("20:30")), held: false },
      ],
    });
  });

  it("says where the question went, and when it only went to the outbox (no Vonage credentials)", () => {
    const stored = step("14:02", "message.sent", {
      kind: "fraud_check",
      transport: "outbox",
      channel: "whatsapp",
    });
    expect(waitingFor(open([opened, ask, stored]), medium)).toMatchObject({
      outbox: true,
      channel: "whatsapp",
    });
  });

  it("a first message held for the morning is what the case waits for", () => {
    const held = step("14:01", "contact.decided", { action: "defer", notBefore: at("07:00") });
    expect(waitingFor(open([opened, held]), medium)).toEqual({ kind: "held", until: new Date(at("07:00")) });
  });

  it("after the customer's reply and an advocate's text: their answer, and nothing automatic after", () => {
    const w = waitingFor(
      open([
        opened,
        ask,
        check,
        step("14:05", "reply.received", { kind: "other" }),
        step("14:06", "message.written"),
      ]),
      medium,
    );
    expect(w).toEqual({
      kind: "answer",
      by: "advocate",
      askedAt: new Date(at("14:06")),
      channel: "sms",
      next: [],
      outbox: false,
    });
  });

  it("waits for nobody once the customer answered, a call task is due, or the case is closed", () => {
    expect(
      waitingFor(open([opened, check, step("14:05", "reply.received", { kind: "no" })]), medium),
    ).toBeUndefined();
    expect(waitingFor(open([opened, check, step("15:02", "task.call_customer")]), medium)).toBeUndefined();
    expect(waitingFor({ status: "resolved", timeline: [opened, check] }, medium)).toBeUndefined();
  });
});
