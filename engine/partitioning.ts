/**
 * Which evaluation partition a customer's events belong to: FNV-1a (32 bits) of the customer id's
 * UTF-8 bytes, modulo the partition count. Stable across versions and languages (a bank's own
 * producer may compute it), and spread evenly enough for ids of any shape (see the test).
 */
export function partitionOf(customerId: string, count: number): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(customerId, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
