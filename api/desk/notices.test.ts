import { describe, expect, it } from "vitest";
import { type NoticeRow, noticesOf } from "./notices.ts";

const row = (
  kind: string,
  detail: Record<string, unknown>,
  advocateId: string | null = "adv-amara",
): NoticeRow => ({
  caseId: "case-1",
  kind,
  detail,
  title: "Card used in two places",
  advocateId,
  customerName: "Sophie Martin",
});

describe("what an advocate is notified of", () => {
  it("a case assigned to them, an alert on their case, a call put through to them or to the team", () => {
    const notices = noticesOf("adv-amara", [
      row("case.assigned", { advocateId: "adv-amara", reason: "her last advocate" }),
      row("advocate.alerted", { reason: "customer confirmed fraud by text: call them" }),
      row("call.received", { reason: "the customer is calling", pushedTo: "advocate" }),
      row("call.received", { reason: "the customer is calling", pushedTo: "team" }, "adv-other"),
    ]);
    expect(notices.map((n) => n.title)).toEqual([
      "New case for you: Card used in two places",
      "Sophie Martin needs you",
      "Sophie Martin is calling",
      "Sophie Martin is calling",
    ]);
  });

  it("nothing of a colleague's case, nor of what needs nobody", () => {
    expect(
      noticesOf("adv-amara", [
        row("case.assigned", { advocateId: "adv-other" }, "adv-other"),
        row("advocate.alerted", { reason: "read it" }, "adv-other"),
        row("call.received", { pushedTo: "advocate" }, "adv-other"),
        row("reply.received", { kind: "no" }),
      ]),
    ).toEqual([]);
  });
});
