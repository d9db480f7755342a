import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalesce.ts";

/** A run whose every call waits until the test lets it answer. */
function gated() {
  const calls: number[][] = [];
  const gates: Array<() => void> = [];
  const run = async (requests: readonly number[]) => {
    calls.push([...requests]);
    await new Promise<void>((ok) => gates.push(ok));
    if (requests.includes(-1)) throw new Error("refused");
    return requests.map((n) => n * 10);
  };
  const open = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { calls, run, open };
}

describe("Coalescer", () => {
  it("runs a call that comes alone at once, with only its request", async () => {
    const g = gated();
    const c = new Coalescer(g.run);
    const answer = c.call(4);
    expect(g.calls).toEqual([[4]]);
    await g.open();
    expect(await answer).toBe(40);
  });

  it("runs the calls that come while one is under way together in the next, each answered its own", async () => {
    const g = gated();
    const sizes: number[] = [];
    const c = new Coalescer(g.run, (n) => sizes.push(n));
    const first = c.call(1);
    const rest = [c.call(2), c.call(3), c.call(4)];
    expect(g.calls).toEqual([[1]]);
    await g.open();
    expect(await first).toBe(10);
    await g.open();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(g.calls).toEqual([[1], [2, 3, 4]]);
    expect(sizes).toEqual([1, 3]);
  });

  it("fails every call of a group that fails, and runs the next group all the same", async () => {
    const g = gated();
    const c = new Coalescer(g.run);
    const first = c.call(1);
    const failing = [c.call(-1), c.call(5)];
    await g.open();
    await first;
    const later = c.call(6);
    await g.open();
    for (const f of failing) await expect(f).rejects.toThrow("refused");
    await g.open();
    expect(await later).toBe(60);
    expect(g.calls).toEqual([[1], [-1, 5], [6]]);
  });

  it("fails a group whose run answers fewer requests than it was given", async () => {
    const c = new Coalescer(async (requests: readonly number[]) => requests.slice(1));
    await expect(c.call(1)).rejects.toThrow("answered 0 of 1");
  });
});
