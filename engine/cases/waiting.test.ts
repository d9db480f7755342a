import { describe, expect, it } from "vitest";
import { type Step, waitingFor } from "./waiting.ts";

const at = (hhmm: string) => `2026-12-06T${hhmm}:00.000Z`;
const step = (hhmm: string, kind: string, detail: object = {}): Step => ({ at: at(hhmm), kind, detail });
const open = (timeline: Step[], optedOut = false) => ({ status: "open", timeline, optedOut });

const opened = step("14:00", "case.opened");
const check = step("14:02", "message.sent", { kind: "fraud_check", transport: "vonage" });

describe("what a case waits for", () => {
  it("after the check: the customer's answer, a reminder one timeout later, then a call task", () => {
    expect(waitingFor(open([opened, check]), 30)).toEqual({
      kind: "answer",
      by: "touchpoint",
      askedAt: new Date(at("14:02")),
      reminderAt: new Date(at("14:32")),
      reminderHeldUntil: null,
      callTaskAt: new Date(at("15:02")),
      outbox: false,
    });
  });

  it("after the reminder: only the call task, one timeout after the reminder", () => {
    const w = waitingFor(open([opened, check, step("14:33", "message.sent", { kind: "reminder" })]), 30);
    expect(w).toMatchObject({ reminderAt: null, callTaskAt: new Date(at("15:03")) });
  });

  it("a reminder held by quiet hours goes when they end; the call task one timeout after", () => {
    const held = step("14:32", "contact.decided", { action: "defer", notBefore: at("20:00") });
    const w = waitingFor(open([opened, check, held]), 30);
    expect(w).toMatchObject({ reminderAt: null, reminderHeldUntil: new Date(at("20:00")) });
    expect(w).toMatchObject({ callTaskAt: new Date(at("20:30")) });
  });

  it("a customer who opted out gets no reminder: the call task comes at the first timeout", () => {
    expect(waitingFor(open([opened, check], true), 30)).toMatchObject({
      reminderAt: null,
      callTaskAt: new Date(at("14:32")),
    });
  });

  it("says when the check only went to the outbox (no Vonage credentials): stored, never sent", () => {
    const stored = step("14:02", "message.sent", { kind: "fraud_check", transport: "outbox" });
    expect(waitingFor(open([opened, stored]), 30)).toMatchObject({ outbox: true });
  });

  it("a first text held for the morning is what the case waits for", () => {
    const held = step("14:01", "contact.decided", { action: "defer", notBefore: at("07:00") });
    expect(waitingFor(open([opened, held]), 30)).toEqual({ kind: "held", until: new Date(at("07:00")) });
  });

  it("after the customer's reply and an advocate's text: their answer, and nothing automatic after", () => {
    const w = waitingFor(
      open([
        opened,
        check,
        step("14:05", "reply.received", { kind: "other" }),
        step("14:06", "message.written"),
      ]),
      30,
    );
    expect(w).toEqual({
      kind: "answer",
      by: "advocate",
      askedAt: new Date(at("14:06")),
      reminderAt: null,
      reminderHeldUntil: null,
      callTaskAt: null,
      outbox: false,
    });
  });

  it("waits for nobody once the customer answered, a call task is due, or the case is closed", () => {
    expect(
      waitingFor(open([opened, check, step("14:05", "reply.received", { kind: "no" })]), 30),
    ).toBeUndefined();
    expect(waitingFor(open([opened, check, step("15:02", "task.call_customer")]), 30)).toBeUndefined();
    expect(
      waitingFor({ status: "resolved", timeline: [opened, check], optedOut: false }, 30),
    ).toBeUndefined();
  });
});
