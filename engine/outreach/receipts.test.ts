import { describe, expect, it } from "vitest";
import { classifyReceipt } from "./receipts.ts";

describe("classifyReceipt", () => {
  it("passes successes through", () => {
    expect(classifyReceipt({ status: "delivered" })).toEqual({ status: "delivered", next: "none" });
    expect(classifyReceipt({ status: "submitted" })).toEqual({ status: "submitted", next: "none" });
  });

  it("retries temporary failures such as a busy handset", () => {
    const v = classifyReceipt({
      status: "undeliverable",
      error: { type: "https://developer.vonage.com/api-errors/messages#1307", title: "1307" },
    });
    expect(v).toMatchObject({ next: "retry", status: "undeliverable" });
    expect(classifyReceipt({ status: "rejected", error: { title: "2" } })).toMatchObject({ next: "retry" });
  });

  it("asks for a call on permanent failures and on failures it cannot read", () => {
    expect(classifyReceipt({ status: "rejected", error: { title: "1306" } })).toMatchObject({
      next: "call",
      reason: expect.stringContaining("anti-spam"),
    });
    expect(classifyReceipt({ status: "undeliverable", error: { title: "3" } })).toMatchObject({
      next: "call",
    });
    expect(classifyReceipt({ status: "undeliverable" })).toMatchObject({ next: "call" });
  });
});
