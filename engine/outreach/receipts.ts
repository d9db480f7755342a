/** Delivery receipts: what a Vonage status webhook means for a text and what to do next. Pure. */

export type ReceiptVerdict =
  | { status: "submitted" | "delivered" | "read"; next: "none" }
  | { status: "rejected" | "undeliverable"; next: "retry"; reason: string }
  | { status: "rejected" | "undeliverable"; next: "call"; reason: string };

/**
 * SMS delivery error codes (Vonage's DLR `err-code`, also the tail of the Messages API error type).
 * Temporary ones are worth another text later; permanent ones mean a person should call.
 */
const TEMPORARY: Record<string, string> = {
  "2": "absent subscriber (temporary)",
  "7": "handset busy",
  "8": "network error",
  "12": "destination unreachable",
  "99": "general error",
};
const PERMANENT: Record<string, string> = {
  "3": "absent subscriber (permanent)",
  "4": "call barred by user",
  "5": "portability error",
  "6": "anti-spam rejection",
  "9": "illegal number (may be opted out at the carrier)",
  "10": "illegal message",
  "11": "unroutable",
  "13": "subscriber age restriction",
  "14": "number blocked by carrier",
  "15": "prepaid account has insufficient funds",
};

/** Pulls the numeric code from `error.type` (…#1320 or …/2) or `error.title`. */
function errorCode(
  error: { type?: string; title?: string; detail?: string } | undefined,
): string | undefined {
  if (!error) return undefined;
  for (const s of [error.title, error.type]) {
    const m = s?.match(/(\d+)\s*$/);
    if (m) {
      const n = m[1]!;
      // Messages API codes are 13xx for SMS delivery failures, with the DLR code in the last digits.
      return n.length === 4 && n.startsWith("13") ? String(Number(n.slice(2))) : n;
    }
  }
  return undefined;
}

export function classifyReceipt(r: {
  status: string;
  error?: { type?: string; title?: string; detail?: string };
}): ReceiptVerdict {
  if (r.status === "submitted" || r.status === "delivered" || r.status === "read")
    return { status: r.status, next: "none" };
  const status = r.status === "rejected" ? "rejected" : "undeliverable";
  const code = errorCode(r.error);
  if (code && TEMPORARY[code]) return { status, next: "retry", reason: `${TEMPORARY[code]} (code ${code})` };
  if (code && PERMANENT[code]) return { status, next: "call", reason: `${PERMANENT[code]} (code ${code})` };
  // Unknown failures: a text that may never arrive is no use to a customer under attack; call.
  return {
    status,
    next: "call",
    reason: r.error?.detail ?? r.error?.title ?? `${status} with no error detail`,
  };
}
