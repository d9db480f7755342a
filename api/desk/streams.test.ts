import { describe, expect, it } from "vitest";
import { DeskStreams, readSessionsEnded, type StreamEnd } from "./streams.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("desk streams", () => {
  it("ends every stream of a signed-out session, once, and no other session's", () => {
    const streams = new DeskStreams();
    const ends: string[] = [];
    streams.open(A, "tok-1", (why) => ends.push(`a1 ${why}`));
    streams.open(A, "tok-1", (why) => ends.push(`a2 ${why}`));
    streams.open(B, "tok-1", (why) => ends.push(`b1 ${why}`));
    expect(streams.end({ session: A })).toBe(2);
    expect(streams.end({ session: A })).toBe(0);
    expect(ends).toEqual(["a1 signed-out", "a2 signed-out"]);
    expect(streams.count(B)).toBe(1);
  });

  it("ends the streams of every session opened with a revoked token", () => {
    const streams = new DeskStreams();
    const ends: string[] = [];
    streams.open(A, "tok-1", () => ends.push("a"));
    streams.open(B, "tok-1", () => ends.push("b"));
    const other = "c".repeat(64);
    streams.open(other, "tok-2", () => ends.push("c"));
    expect(streams.end({ token: "tok-1" })).toBe(2);
    expect(ends.sort()).toEqual(["a", "b"]);
    expect(streams.count(other)).toBe(1);
  });

  it("past the cap, ends the session's oldest stream as superseded and keeps the newest", () => {
    const streams = new DeskStreams(2);
    const ends: Array<[number, StreamEnd]> = [];
    const releases = [1, 2, 3].map((n) => streams.open(A, "tok-1", (why) => ends.push([n, why])));
    expect(ends).toEqual([[1, "superseded"]]);
    expect(streams.count(A)).toBe(2);
    // A stream that ends by itself gives its place back; the ended one's release changes nothing.
    releases[0]!();
    releases[1]!();
    expect(streams.count(A)).toBe(1);
    streams.open(A, "tok-1", (why) => ends.push([4, why]));
    expect(ends).toEqual([[1, "superseded"]]);
  });

  it("reads only well-formed messages from the channel", () => {
    expect(readSessionsEnded(JSON.stringify({ session: A }))).toEqual({ session: A });
    expect(readSessionsEnded(JSON.stringify({ token: "tok-1" }))).toEqual({ token: "tok-1" });
    for (const bad of [
      "",
      "3",
      "{",
      JSON.stringify({ session: "raw-cookie" }),
      JSON.stringify({ all: true }),
    ]) {
      expect(readSessionsEnded(bad), bad).toBeUndefined();
    }
  });
});
