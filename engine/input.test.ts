import { describe, expect, it } from "vitest";
import { badText, cleanText, inputIssues } from "./input.ts";

describe("text a stranger may send", () => {
  it("refuses NUL and unpaired surrogates, and keeps paired ones (emoji)", () => {
    expect(badText("Galerie Lumière 👍")).toBeUndefined();
    expect(badText("a\u0000b")).toMatch(/NUL/);
    expect(badText("\ud800")).toMatch(/surrogate/);
    expect(badText("x\udc00")).toMatch(/surrogate/);
    expect(badText("\ud83d\udc4d\ud800")).toMatch(/surrogate/);
  });

  it("cleans what it must accept (a customer's SMS) instead of refusing it", () => {
    expect(cleanText("yes\u0000 \ud800!")).toBe("yes \ufffd!");
    expect(cleanText("oui 👍")).toBe("oui 👍");
  });

  it("names the field of every bad string, keys included, in zod's path form", () => {
    const issues = inputIssues({ merchant: { name: "a\u0000" }, tags: ["ok", "\udfff"], ["k\u0000"]: 1 });
    expect(issues.map((i) => i.path).sort()).toEqual(["(body)", "merchant.name", "tags[1]"]);
  });

  it("refuses nesting past the limit without overflowing the stack", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100_000; i++) deep = { all: [deep] };
    const issues = inputIssues(deep, { maxDepth: 64 });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/nested deeper than 64/);
  });

  it("stops listing after the limit", () => {
    expect(
      inputIssues(
        Array.from({ length: 1000 }, () => "\u0000"),
        { limit: 5 },
      ),
    ).toHaveLength(5);
  });
});
