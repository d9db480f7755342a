/** Structured JSON logs (pino), with phone numbers and card numbers masked wherever they appear. */
import { pino } from "pino";

export type Logger = pino.Logger;

/** Keeps the last four digits of anything that looks like a phone or card number. */
export function maskDigits(text: string): string {
  return text.replace(/\+?\d[\d -]{6,}\d/g, (m) => {
    const digits = m.replace(/\D/g, "");
    return digits.length < 9 ? m : `${"•".repeat(Math.max(0, digits.length - 4))}${digits.slice(-4)}`;
  });
}

/** Masks an E.164 number for display and logs: +44••••••1234. */
export function maskPhone(phone: string): string {
  const d = phone.replace(/\D/g, "");
  return d.length <= 4 ? "••••" : `+${d.slice(0, 2)}${"•".repeat(Math.max(0, d.length - 6))}${d.slice(-4)}`;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "touchpoint" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["phone", "*.phone", "to", "from", "*.to", "*.from", "authorization", "*.authorization"],
        censor: "[masked]",
      },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          // Free text may quote a number; mask it before it leaves the process.
          const masked = args.map((a) => (typeof a === "string" ? maskDigits(a) : a)) as Parameters<
            typeof method
          >;
          method.apply(this, masked);
        },
      },
    },
    destination,
  );
}
