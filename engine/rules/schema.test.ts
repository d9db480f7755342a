import { describe, expect, it } from "vitest";
import { didYouMean } from "../did-you-mean.ts";
import { ValidationError } from "../errors.ts";
import { checkRuleFileText } from "./files.ts";
import {
  MAX_CONDITION_DEPTH,
  parseRuleFile,
  parseRuleFiles,
  parseRuleset,
  requireKnownLists,
} from "./schema.ts";

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
  return undefined as never;
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

describe("the rule schema's edges", () => {
  const one = (leafOrRule: object, asRule = false) =>
    issuesOf(() => parseRuleFiles([asRule ? leafOrRule : rule({ all: [leafOrRule] })]));
  const messages = (issues: Array<{ path: string; message: string }> | undefined) =>
    (issues ?? []).map((i) => [i.path, i.message]);

  it("names an unknown operator plainly when nothing is close, and an unknown fact with where to look", () => {
    expect(messages(one({ fact: "amount.value", operator: "between", value: 1 }))).toEqual([
      ["rules[0].conditions.all[0].operator", 'unknown operator "between"'],
    ]);
    expect(messages(one({ fact: "weather", operator: "equal", value: 1 }))).toEqual([
      ["rules[0].conditions.all[0].fact", 'unknown fact "weather"; `touchpoint rules facts` lists them'],
    ]);
  });

  it("reports two unknown keys of one object together, at the object", () => {
    expect(messages(one({ ...atm, colour: 1, flavour: 2 }))).toEqual([
      [
        "rules[0].conditions.all[0]",
        'unknown key "colour"; expected one of fact, operator, value, path, params, name; unknown key "flavour"; expected one of fact, operator, value, path, params, name',
      ],
    ]);
  });

  it("takes a plain object as a value, but not one json-rules-engine would read as a fact", () => {
    expect(one({ fact: "event", path: "$.merchant", operator: "equal", value: { mcc: "5411" } })).toBe(
      undefined,
    );
    expect(one({ fact: "event", operator: "equal", value: { fact: "weather" } }).length).toBeGreaterThan(0);
  });

  it("wants a plain path from the root", () => {
    for (const path of ["x$.merchant.mcc", "$.merchant.mcc!", "$", "merchant.mcc"]) {
      expect(messages(one({ fact: "event", path, operator: "equal", value: 1 }))).toEqual([
        ["rules[0].conditions.all[0].path", "a plain path such as $.merchant.mcc"],
      ]);
    }
  });

  it("refuses a path that walks into __proto__, constructor or prototype, at the condition that holds it", () => {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      expect(
        messages(one({ fact: "event", path: `$.merchant.${key}`, operator: "equal", value: 1 })),
      ).toEqual([
        ["rules[0].conditions.all[0].path", `${key} is not a field of any fact; a path names fields only`],
      ]);
      const ref = { fact: "event", path: `$.${key}.x` };
      expect(messages(one({ fact: "event.channel", operator: "equal", value: ref }))).toEqual([
        [
          "rules[0].conditions.all[0].value.path",
          `${key} is not a field of any fact; a path names fields only`,
        ],
      ]);
    }
    expect(one({ fact: "event", path: "$.merchant.constructorName", operator: "equal", value: 1 })).toBe(
      undefined,
    );
  });

  it("bounds how deep conditions nest, naming the first one too deep, without overflowing the stack", () => {
    const nested = (depth: number) => {
      let c: object = atm;
      for (let i = 1; i < depth; i++) c = i % 2 ? { not: c } : { all: [c] };
      return c;
    };
    expect(one(nested(31))).toBe(undefined);
    const deep = messages(one(nested(40)));
    expect(deep).toHaveLength(1);
    // The 33rd level: the group's `all` is level 1, its first entry level 2, and so on.
    expect(deep[0]![0]).toMatch(/^rules\[0\]\.conditions\.all\[0\](\.not\.all\[0\])+\.not$/);
    expect(deep[0]![0]!.match(/\.not|all\[0\]/g)).toHaveLength(MAX_CONDITION_DEPTH);
    expect(deep[0]![1]).toBe("conditions nest deeper than 32 levels of all, any and not");
    expect(messages(one(nested(5000)))).toHaveLength(1);
  });

  it("wants a test case's name to be something to read: not blank, at most 200 characters", () => {
    const named = (name: string) =>
      issuesOf(() =>
        parseRuleFiles([{ rule: rule({ all: [atm] }), tests: [{ name, facts: {}, fires: false }] }]),
      );
    expect(messages(named(""))).toEqual([["rules[0].tests[0].name", "a name, not blank"]]);
    expect(messages(named(" \t "))).toEqual([["rules[0].tests[0].name", "a name, not blank"]]);
    expect(messages(named("x".repeat(201)))).toEqual([["rules[0].tests[0].name", "at most 200 characters"]]);
    expect(named("x".repeat(200))).toBe(undefined);
  });

  it("refuses a number in a test's facts that would be stored as null (1e309 is Infinity)", () => {
    const text = `{"rule": ${JSON.stringify(rule({ all: [atm] }))}, "tests": [
      {"name": "huge", "facts": {"amount.value": 1e309, "event": {"amount": {"value": -1e309}}}, "fires": false}]}`;
    expect(messages(issuesOf(() => parseRuleFile(JSON.parse(text))))).toEqual([
      [
        'tests[0].facts["amount.value"]',
        "a number too large to store (it would become null); use a finite number",
      ],
      [
        "tests[0].facts.event.amount.value",
        "a number too large to store (it would become null); use a finite number",
      ],
    ]);
  });

  it("checks notIn, notEqual and in like their positive forms", () => {
    expect(messages(one({ fact: "event.channel", operator: "notIn", value: "atm" }))).toEqual([
      ["rules[0].conditions.all[0].value", "notIn needs an array value"],
    ]);
    expect(messages(one({ fact: "event.channel", operator: "notIn", value: ["atm", 3] }))).toEqual([
      ["rules[0].conditions.all[0].value[1]", "3 is a number, but the fact is a string: it never matches"],
    ]);
    expect(messages(one({ fact: "customer.isAbroad", operator: "notEqual", value: "yes" }))).toEqual([
      ["rules[0].conditions.all[0].value", '"yes" is a string, but the fact is a boolean: it never matches'],
    ]);
  });

  it("checks kinds only against plain values: a path or another fact may be of any kind", () => {
    expect(one({ fact: "amount.value", operator: "equal", value: { fact: "event.type" } })).toBe(undefined);
    expect(one({ fact: "event", path: "$.amount.value", operator: "equal", value: "x" })).toBe(undefined);
  });

  it("names event types only for the event.type fact", () => {
    expect(one({ fact: "event.channel", operator: "equal", value: "card.transation" })).toBe(undefined);
    expect(messages(one({ fact: "event.type", operator: "in", value: ["login", "logon"] }))).toEqual([
      ["rules[0].conditions.all[0].value[1]", 'unknown event type "logon"; did you mean "login"?'],
    ]);
  });

  it("wants at least one condition in any group", () => {
    expect(messages(one({ any: [] }))).toEqual([
      ["rules[0].conditions.all[0].any", "Too small: expected array to have >=1 items"],
    ]);
  });

  it("bounds a rule's name, description, priority, severity and team", () => {
    const base = { name: "big-atm", conditions: { all: [atm] }, event };
    const at = (r: object) => messages(one({ ...base, ...r }, true)).map(([p]) => p);
    for (const name of ["Big-atm", "big atm", "-big", "big-", "big--atm", "x".repeat(101)])
      expect(at({ name }), name).toEqual(["rules[0].name"]);
    expect(messages(one({ ...base, name: "Big" }, true))).toEqual([
      ["rules[0].name", "kebab-case, e.g. impossible-location-spend"],
    ]);
    expect(at({ name: "x".repeat(100) })).toEqual([]);
    expect(at({ description: "d".repeat(2001) })).toEqual(["rules[0].description"]);
    expect(at({ description: "d".repeat(2000) })).toEqual([]);
    expect(at({ priority: 0 })).toEqual(["rules[0].priority"]);
    expect(at({ priority: 101 })).toEqual(["rules[0].priority"]);
    expect(at({ priority: 100 })).toEqual([]);
    const params = (p: object) => ({ event: { type: "fraud.suspected", params: { ...event.params, ...p } } });
    for (const [typo, meant] of [
      ["hgih", "high"],
      ["meduim", "medium"],
      ["lwo", "low"],
    ])
      expect(messages(one({ ...base, ...params({ severity: typo }) }, true))).toEqual([
        ["rules[0].event.params.severity", `unknown severity "${typo}"; did you mean "${meant}"?`],
      ]);
    expect(at(params({ team: "" }))).toEqual(["rules[0].event.params.team"]);
    expect(at(params({ team: "t".repeat(61) }))).toEqual(["rules[0].event.params.team"]);
    expect(parseRuleFiles([base])[0]!.rule.event.params.team).toBe("fraud");
    // Offline, a team is held to the shape every advocate's team has; which teams exist is the database's.
    for (const team of ["Fraud", "<b>x</b> y"])
      expect(messages(one({ ...base, ...params({ team }) }, true))).toEqual([
        ["rules[0].event.params.team", "lower-case team name, e.g. fraud"],
      ]);
    expect(at(params({ team: "ghost-team" }))).toEqual([]);
    expect(
      messages(
        issuesOf(() =>
          parseRuleFiles([{ rule: { ...base, ...params({ team: "Fraud" }) } }], "rules", {
            teams: ["fraud"],
          }),
        ),
      ),
    ).toEqual([["rules[0].rule.event.params.team", 'no advocate is in team "Fraud"; did you mean "fraud"?']]);
    expect(
      messages(
        issuesOf(() => parseRuleFile({ rule: { ...base, ...params({ team: null }) } }, { teams: [] })),
      ),
    ).toEqual([["rule.event.params.team", "Invalid input: expected string, received null"]]);
    expect(messages(issuesOf(() => parseRuleFile({ rule: base }, { teams: [] })))).toEqual([
      [
        "rule.event.params.team",
        'no advocate is in team "fraud"; teams are named by their advocates, and there are none yet',
      ],
    ]);
  });

  it("takes at most 500 rules in one publish", () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `r-${i}`, conditions: { all: [atm] }, event }));
    expect(parseRuleFiles(many(500))).toHaveLength(500);
    expect(messages(issuesOf(() => parseRuleFiles(many(501))))).toEqual([
      ["rules", "Too big: expected array to have <=500 items"],
    ]);
  });

  it("checks an object fact in a test case, and says 'an object'", () => {
    expect(
      messages(
        issuesOf(() =>
          parseRuleFiles([
            { rule: rule({ all: [atm] }), tests: [{ name: "t", facts: { event: "x" }, fires: true }] },
          ]),
        ),
      ),
    ).toEqual([["rules[0].tests[0].facts.event", "event is an object; got string"]]);
  });

  it("names no rule when an entry is not one, and names the input itself when it has no path", () => {
    expect(issuesOf(() => parseRuleFiles([5]))).toEqual([
      { path: "rules[0]", message: "Invalid input: expected object, received number" },
    ]);
    expect(issuesOf(() => parseRuleFiles([{ rule: 5 }]))[0]).not.toHaveProperty("rule");
    expect(issuesOf(() => parseRuleFiles("rules"))).toEqual([
      { path: "rules", message: "Invalid input: expected array, received string" },
    ]);
    let error: unknown;
    try {
      parseRuleFile(5);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ message: "invalid rule file", issues: [{ path: "(root)" }] });
    expect(() => parseRuleset({ rules: [], extra: 1 })).toThrow("invalid ruleset");
  });
});

describe("a rule that looks facts up in a list", () => {
  const merchant = (value: unknown, operator = "inList") => ({
    fact: "event",
    path: "$.merchant.name",
    operator,
    value,
  });
  const errorOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as ValidationError;
    }
    throw new Error("no error");
  };

  it("takes a list's name as the value, and only on a fact that can be a string", () => {
    expect(parseRuleFile({ rule: rule({ all: [merchant("blocked-merchants")] }) }).rule.conditions).toEqual({
      all: [merchant("blocked-merchants")],
    });
    const e = errorOf(() =>
      parseRuleFile({
        rule: rule({
          all: [
            merchant(["Shop X"]),
            merchant("Blocked Merchants", "notInList"),
            { fact: "amount.value", operator: "inList", value: "amounts" },
          ],
        }),
      }),
    );
    expect(e.constructor.name).toBe("ValidationError");
    expect(e.issues.map((i) => [i.path, i.message])).toEqual([
      [
        "rule.conditions.all[0].value",
        'inList takes a list\'s name, e.g. "blocked-merchants": Invalid input: expected string, received array',
      ],
      [
        "rule.conditions.all[1].value",
        'notInList takes a list\'s name, e.g. "blocked-merchants": lower-case letters, digits and single dashes, e.g. blocked-merchants',
      ],
      ["rule.conditions.all[2].operator", "inList looks up strings; amount.value is a number"],
    ]);
  });

  it("refuses, with 422 and a did-you-mean, a list that does not exist when the server says which do", () => {
    const file = { rule: rule({ any: [atm, { not: merchant("blocked-merchant") }] }) };
    expect(parseRuleFile(file).rule.name).toBe("big-atm"); // offline: the name's shape only
    const e = errorOf(() => parseRuleFile(file, { lists: ["blocked-merchants", "risky-countries"] }));
    expect(e.name).toBe("UnprocessableError");
    expect(e.issues).toEqual([
      {
        path: "rule.conditions.any[1].not.value",
        rule: "big-atm",
        message: 'unknown list "blocked-merchant"; did you mean "blocked-merchants"?',
      },
    ]);
    const many = errorOf(() => parseRuleFiles([rule({ all: [merchant("zzz")] })], "rules", { lists: [] }));
    expect(many.issues).toEqual([
      {
        path: "rules[0].conditions.all[0].value",
        rule: "big-atm",
        message: 'unknown list "zzz"; PUT /v1/lists/:name makes one',
      },
    ]);
    // With a mistake of the schema too, it is a 400 listing both.
    const both = errorOf(() =>
      parseRuleFile({ rule: rule({ all: [merchant("zzz"), { ...atm, operator: "eq" }] }) }, { lists: [] }),
    );
    expect(both.name).toBe("ValidationError");
    expect(both.issues.map((i) => i.path)).toEqual([
      "rule.conditions.all[1].operator",
      "rule.conditions.all[0].value",
    ]);
  });

  it("refuses stored rule files naming a missing list, each problem with its rule, as a publish checks under its lock", () => {
    const files = [
      parseRuleFile({ rule: { ...rule({ all: [merchant("blocked-merchants")] }), name: "a-rule" } }),
      parseRuleFile({ rule: { ...rule({ any: [atm, merchant("blocked-merchant")] }), name: "b-rule" } }),
    ];
    expect(() => requireKnownLists(files, ["blocked-merchants", "blocked-merchant"])).not.toThrow();
    const e = errorOf(() => requireKnownLists(files, ["blocked-merchants"]));
    expect(e.name).toBe("UnprocessableError");
    expect(e.issues).toEqual([
      {
        path: "rule.conditions.any[1].value",
        rule: "b-rule",
        message: 'unknown list "blocked-merchant"; did you mean "blocked-merchants"?',
      },
    ]);
  });
});
