import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, maskDigits, maskPhone } from "./log.ts";

describe("PII masking", () => {
  it("masks phone numbers to their last four digits", () => {
    expect(maskPhone("+447911123042")).toBe("+44••••••3042");
  });

  it("masks card and phone numbers inside free text, and leaves dates and amounts alone", () => {
    expect(maskDigits("card 4000 1234 5678 4242 declined")).toBe("card ••••••••••••4242 declined");
    expect(maskDigits("call +44 7911 123042")).toBe("call ••••••••3042");
    expect(maskDigits("on 2026-11-22 for 2300 EUR")).toBe("on 2026-11-22 for 2300 EUR");
  });

  it("masks the shortest numbers that can be a phone: a US number's 11 digits, a 9-digit national one", () => {
    expect(maskDigits("texting +1 202 555 0143")).toBe("texting •••••••0143");
    expect(maskDigits("texting 12025550143")).toBe("texting •••••••0143");
    expect(maskDigits("call 612 345 678")).toBe("call •••••5678");
  });

  it("never writes a phone number to the log, whether as a field or in the message", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger("info", sink);
    log.info(
      { phone: "+447911123042", to: "447911123042", customerId: "cus-42" },
      "texting +447911123042 now",
    );
    const out = lines.join("");
    expect(out).not.toContain("7911123042");
    expect(out).toContain("cus-42");
    expect(out).toContain("3042");
  });
});
