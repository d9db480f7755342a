import { describe, expect, it } from "vitest";
import { partitionOf } from "./partitioning.ts";

describe("partitionOf", () => {
  it("is FNV-1a of the UTF-8 bytes: the published test vectors, so another producer can compute it", () => {
    // FNV-1a 32-bit vectors (Fowler, Noll, Vo): "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
    expect(partitionOf("", 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf("a", 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf("foobar", 2 ** 32)).toBe(0xbf9cf968);
    // Bytes, not UTF-16 units: "é" is two bytes.
    expect(partitionOf("é", 2 ** 32)).not.toBe(partitionOf("\u00e9".normalize("NFD"), 2 ** 32));
  });

  it("spreads sequential customer ids evenly over 16 partitions", () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`cust-${i}`, 16)]++;
    for (const n of counts) {
      expect(n).toBeGreaterThan(800);
      expect(n).toBeLessThan(1200);
    }
  });
});
