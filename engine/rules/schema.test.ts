import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { checkRuleFileText } from "./files.ts";
import { didYouMean, parseRuleFiles, parseRuleset } from "./schema.ts";

const event = { type: "fraud.suspected", params: { severity: "high", title: "Large cash withdrawal" } };
const rule = (conditions: unknown, extra: object = {}) => ({ name: "big-atm", conditions, event, ...extra });
const atm = { fact: "event.channel", operator: "equal", value: "atm" };

function issuesOf(f: () => unknown) {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  throw new Error("expected a ValidationError");
}

describe("a rule file with mistakes", () => {
  it("lists every mistake at once, each with the file, the rule, the JSON path and a did-you-mean", () => {
    const text = JSON.stringify({
      rule: {
        name: "big-atm",
        conditons: {},
        conditions: {
          all: [
            atm,
            { fact: "amount.value", operator: "greaterthan", value: 1000 },
            { fact: "travel.speedKmH", operator: "greaterThan", value: 900 },
            { fact: "event.type", operator: "equal", vaule: "login", value: "card.transation" },
          ],
        },
        event,
      },
      tests: [{ name: "a", facts: { "amount.valeu": 1200 }, fires: true }],
    });
    const { parsed, issues } = checkRuleFileText("rules/big-atm.json", text);
    expect(parsed).toBeUndefined();
    expect(issues).toEqual(
      [
        {
          path: "rule.conditions.all[1].operator",
          message: 'unknown operator "greaterthan"; did you mean "greaterThan"?',
        },
        {
          path: "rule.conditions.all[2].fact",
          message: 'unknown fact "travel.speedKmH"; did you mean "travel.speedKmh"?',
        },
        { path: "rule.conditions.all[3].vaule", message: 'unknown key "vaule"; did you mean "value"?' },
        {
          path: "rule.conditions.all[3].value",
          message: 'unknown event type "card.transation"; did you mean "card.transaction"?',
        },
        { path: "rule.conditons", message: 'unknown key "conditons"; did you mean "conditions"?' },
        {
          path: 'tests[0].facts["amount.valeu"]',
          message: 'unknown fact "amount.valeu"; did you mean "amount.value"?',
        },
      ].map((i) => ({ file: "rules/big-atm.json", rule: "big-atm", ...i })),
    );
  });

  it("says where malformed JSON breaks, by line and column", () => {
    const { issues } = checkRuleFileText("rules/big-atm.json", '{\n  "rule": {\n    name: "big-atm"\n  }\n}');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: "rules/big-atm.json", path: "(file)" });
    expect(issues[0]!.message).toMatch(/^malformed JSON at line 3 column 5: /);
  });

  it("wants the file named after its rule", () => {
    const { issues } = checkRuleFileText("rules/atm.json", JSON.stringify({ rule: rule({ all: [atm] }) }));
    expect(issues).toEqual([
      {
        file: "rules/atm.json",
        rule: "big-atm",
        path: "rule.name",
        message: "the rule is named big-atm, so its file is big-atm.json",
      },
    ]);
  });

  it("refuses an unknown key with the keys it could have meant when nothing is close", () => {
    const issues = issuesOf(() => parseRuleFiles([{ rule: rule({ all: [atm] }), tetss: [] }]));
    expect(issues).toEqual([
      { path: "rules[0].tetss", rule: "big-atm", message: 'unknown key "tetss"; did you mean "tests"?' },
    ]);
    const far = issuesOf(() => parseRuleFiles([{ rule: rule({ all: [atm] }), comment: "x" }]));
    expect(far[0]!.message).toBe('unknown key "comment"; expected one of rule, tests');
  });
});

describe("what a condition means", () => {
  it("checks each leaf's fact kind against its operator, path and value, naming the rule", () => {
    const issues = issuesOf(() =>
      parseRuleset({
        rules: [
          rule({
            all: [
              { fact: "travel.speedKmh", operator: "greaterThan", value: "fast" },
              { fact: "customer.isAbroad", operator: "greaterThan", value: 3 },
              { fact: "event", path: "$.merchant.mcc", operator: "in", value: "5411" },
              { fact: "customer.isAbroad", operator: "equal", value: "true" },
              { fact: "event.channel", operator: "in", value: ["atm", 3] },
              { fact: "amount.value", path: "$.x", operator: "equal", value: 1 },
            ],
          }),
        ],
      }),
    );
    expect(issues).toEqual(
      [
        { path: "rules[0].conditions.all[0].value", message: "greaterThan compares with a number" },
        {
          path: "rules[0].conditions.all[1].operator",
          message: "greaterThan needs a number; customer.isAbroad is a boolean",
        },
        { path: "rules[0].conditions.all[2].value", message: "in needs an array value" },
        {
          path: "rules[0].conditions.all[3].value",
          message: '"true" is a string, but the fact is a boolean: it never matches',
        },
        {
          path: "rules[0].conditions.all[4].value[1]",
          message: "3 is a number, but the fact is a string: it never matches",
        },
        {
          path: "rules[0].conditions.all[5].path",
          message: "fact amount.value is a number; only object facts take a path",
        },
      ].map((i) => ({ ...i, rule: "big-atm" })),
    );
  });

  it("accepts null for any fact, and a path into the event whatever its value", () => {
    expect(() =>
      parseRuleset({
        rules: [
          rule({
            all: [
              { fact: "customer.homeCountry", operator: "notEqual", value: null },
              { fact: "event", path: "$.merchant.mcc", operator: "equal", value: 5411 },
              { fact: "amount.value", operator: "greaterThan", value: { fact: "velocity.sum1h" } },
            ],
          }),
        ],
      }),
    ).not.toThrow();
  });

  it("checks the facts a test case sets against the catalogue's kinds", () => {
    const issues = issuesOf(() =>
      parseRuleFiles([
        {
          rule: rule({ all: [atm] }),
          tests: [
            {
              name: "t",
              facts: {
                "amount.value": "1200",
                "customer.isAbroad": null,
                "travel.speedKmh": null,
                event: {},
              },
              fires: "yes",
            },
          ],
        },
      ]),
    );
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['rules[0].tests[0].facts["amount.value"]', "amount.value is a number or null; got string"],
      ['rules[0].tests[0].facts["customer.isAbroad"]', "customer.isAbroad is a boolean; got null"],
      ["rules[0].tests[0].fires", "Invalid input: expected boolean, received string"],
    ]);
  });
});

describe("a publish's rules", () => {
  it("takes rule files and bare rules alike, live unless said otherwise", () => {
    const files = parseRuleFiles([
      { rule: rule({ all: [atm] }, { mode: "shadow", owner: "cash-team" }), tests: [] },
      rule({ all: [atm] }, { name: "bare" }),
    ]);
    expect(files.map((f) => [f.rule.name, f.rule.mode, f.rule.owner, f.tests])).toEqual([
      ["big-atm", "shadow", "cash-team", []],
      ["bare", "live", undefined, []],
    ]);
  });

  it("refuses two rules of one name, and a mode it does not know", () => {
    const issues = issuesOf(() =>
      parseRuleFiles([rule({ all: [atm] }), { rule: rule({ all: [atm] }, { mode: "shadwo" }) }]),
    );
    expect(issues).toEqual([
      {
        path: "rules[1].rule.mode",
        rule: "big-atm",
        message: 'unknown mode "shadwo"; did you mean "shadow"?',
      },
    ]);
    expect(issuesOf(() => parseRuleFiles([rule({ all: [atm] }), rule({ any: [atm] })]))).toEqual([
      { path: "rules[1]", rule: "big-atm", message: "duplicate rule name big-atm" },
    ]);
  });
});

describe("didYouMean", () => {
  const known = ["greaterThan", "greaterThanInclusive", "lessThan", "in"];
  it("finds a name that differs only in case, or by a few edits", () => {
    expect(didYouMean("GREATERTHAN", known)).toBe("greaterThan");
    expect(didYouMean("greatrThan", known)).toBe("greaterThan");
    expect(didYouMean("lesThan", known)).toBe("lessThan");
  });
  it("says nothing when nothing is close", () => {
    expect(didYouMean("between", known)).toBeUndefined();
    expect(didYouMean("x", [])).toBeUndefined();
  });
});
