import { describe, expect, it } from "vitest";
import { checkRuleFileText } from "./files.ts";
import { asFileShape, inAuthorsOrder } from "./key-order.ts";
import { parseRuleFile } from "./schema.ts";

describe("a rule file in its author's key order", () => {
  const written = JSON.parse(`{
    "tests": [{ "fires": true, "name": "big", "facts": { "amount.value": 1500 } }],
    "rule": {
      "name": "big-spend",
      "event": { "params": { "title": "Big", "severity": "high" }, "type": "fraud.suspected" },
      "conditions": { "all": [{ "value": 1000, "operator": "greaterThan", "fact": "amount.value" }] }
    }
  }`);

  it("puts back the author's order that parsing lost, defaults after the author's keys", () => {
    const parsed = parseRuleFile(written);
    expect(Object.keys(parsed)).not.toEqual(["tests", "rule"]);
    const ordered = inAuthorsOrder(parsed, written);
    expect(ordered).toEqual(parsed);
    expect(Object.keys(ordered)).toEqual(["tests", "rule"]);
    expect(Object.keys(ordered.rule).slice(0, 3)).toEqual(["name", "event", "conditions"]);
    expect(Object.keys(ordered.rule.event.params)).toEqual(["title", "severity", "team"]);
    expect(Object.keys((ordered.rule.conditions as { all: object[] }).all[0]!)).toEqual([
      "value",
      "operator",
      "fact",
    ]);
    expect(Object.keys(ordered.tests[0]!)).toEqual(["fires", "name", "facts"]);
  });

  it("reads a rule file's text in its author's order, as the CLI sends it", () => {
    const read = checkRuleFileText("big-spend.json", JSON.stringify(written));
    expect(Object.keys(read.parsed!)).toEqual(["tests", "rule"]);
    expect(Object.keys(read.parsed!.rule).slice(0, 3)).toEqual(["name", "event", "conditions"]);
  });

  it("keeps a key named __proto__ as a key, and reads a bare rule as a file", () => {
    const value = JSON.parse('{"__proto__": {"a": 1}, "b": 2}');
    const out = inAuthorsOrder(value, value);
    expect(Object.keys(out)).toEqual(["__proto__", "b"]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(asFileShape({ name: "x" })).toEqual({ rule: { name: "x" } });
    expect(asFileShape({ rule: { name: "x" } })).toEqual({ rule: { name: "x" } });
  });
});
