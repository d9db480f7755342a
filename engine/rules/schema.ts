/**
 * The rule schema: json-rules-engine's JSON format, narrowed to what touchpoint can explain,
 * checked against the facts catalogue, with errors that name the rule and the JSON path, and a
 * "did you mean" for every unknown name. A rule file (`rules/<name>.json`, `{ rule, tests }`) is the
 * unit the CLI, the API and a stored version all carry.
 */
import { z } from "zod";
import { didYouMean } from "../did-you-mean.ts";
import { type FieldIssue, fieldIssues, jsonPath, UnprocessableError, ValidationError } from "../errors.ts";
import { eventTypes, text } from "../events.ts";
import { teamName, unknownTeam } from "../people.ts";
import { FACTS, type FactName } from "./facts.ts";
import { listName, MAX_ITEM_LENGTH } from "./lists.ts";
import { SUMMARY_NAMES, summaryIssues } from "./summary.ts";

/** json-rules-engine's built-in operators. */
export const OPERATORS = {
  equal: { numeric: false, doc: "fact === value" },
  notEqual: { numeric: false, doc: "fact !== value (false when the fact is missing)" },
  in: { numeric: false, doc: "value (an array) includes the fact" },
  notIn: {
    numeric: false,
    doc: "value (an array) does not include the fact (false when the fact is missing)",
  },
  contains: { numeric: false, doc: "the fact (an array) includes value" },
  doesNotContain: { numeric: false, doc: "the fact (an array) does not include value" },
  lessThan: { numeric: true, doc: "fact < value (numbers)" },
  lessThanInclusive: { numeric: true, doc: "fact <= value (numbers)" },
  greaterThan: { numeric: true, doc: "fact > value (numbers)" },
  greaterThanInclusive: { numeric: true, doc: "fact >= value (numbers)" },
  inList: {
    numeric: false,
    doc: "the fact (a string) is an item of the named list; value is the list's name (PUT /v1/lists/:name)",
  },
  notInList: {
    numeric: false,
    doc: "the fact (a string) is not an item of the named list (false when the fact is missing or not a string)",
  },
} as const;

/** The operators whose value names a list rather than being compared itself. */
export const LIST_OPERATORS: ReadonlySet<string> = new Set(["inList", "notInList"]);

export type OperatorName = keyof typeof OPERATORS;
const operatorNames = Object.keys(OPERATORS) as [OperatorName, ...OperatorName[]];
const factNames = Object.keys(FACTS) as [FactName, ...FactName[]];

function unknownName(kind: string, input: unknown, known: readonly string[], hint = ""): string {
  const said = `unknown ${kind} ${JSON.stringify(input)}`;
  const guess = typeof input === "string" ? didYouMean(input, known) : undefined;
  return guess ? `${said}; did you mean ${JSON.stringify(guess)}?` : `${said}${hint}`;
}

/** A strict object whose unknown keys are refused with a did-you-mean from its own keys. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? issue.keys
            .map((k) => unknownName("key", k, keys, `; expected one of ${keys.join(", ")}`))
            .join("; ")
        : undefined,
  });
}

/** A zod issue's path, pointing at the key itself when one unknown key was refused. */
function issuePath(issue: z.core.$ZodIssue): PropertyKey[] {
  return issue.code === "unrecognized_keys" && issue.keys.length === 1
    ? [...issue.path, issue.keys[0]!]
    : [...issue.path];
}

const json: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(json),
    // json-rules-engine reads any object with a `fact` key as a fact reference: only the
    // checked reference form below may carry one.
    z
      .record(z.string(), json)
      .refine((o) => !("fact" in o), "an object with a fact key must name a known fact"),
  ]),
);

const factName = z.enum(factNames, {
  error: (i) => unknownName("fact", i.input, factNames, "; `touchpoint rules facts` lists them"),
});

const scalarKinds = new Set(["string", "number", "boolean"]);

/** What a plain value's type says about a fact of kind `kind`: a reason it can never match, or none. */
function kindMismatch(kind: string, value: unknown): string | undefined {
  if (value === null || !scalarKinds.has(kind)) return undefined;
  return typeof value === kind ? undefined : `a ${typeof value}, but the fact is a ${kind}`;
}

/** Path segments that reach an object's prototype machinery rather than a field of a fact. */
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** A plain path into an object fact, from its root: `$.merchant.mcc`. */
const factPath = z
  .string()
  .regex(/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/, "a plain path such as $.merchant.mcc")
  .superRefine((path, ctx) => {
    for (const key of path.split(".").filter((k) => PROTOTYPE_KEYS.has(k)))
      ctx.addIssue({
        code: "custom",
        message: `${key} is not a field of any fact; a path names fields only`,
      });
  });

const factRef = strict({ fact: factName, path: factPath.optional() });

/**
 * A leaf's value: plain JSON, or `{ fact, path? }` for another fact's value. Chosen by the `fact`
 * key rather than tried in a union, so a bad reference says what is wrong with it.
 */
const leafValue = z.unknown().transform((v, ctx) => {
  const r = (isFactRef(v) ? factRef : json).safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues)
    ctx.addIssue({ code: "custom", message: issue.message, path: issuePath(issue) });
  return z.NEVER;
});

export const leafSchema = strict({
  fact: factName,
  operator: z.enum(operatorNames, { error: (i) => unknownName("operator", i.input, operatorNames) }),
  value: leafValue,
  path: factPath.optional(),
  params: z.record(z.string(), json).optional(),
  name: z.string().optional(),
}).superRefine((leaf, ctx) => {
  // Meaning zod's shapes cannot express: the fact's kind against the operator, the path and the value.
  const fact = FACTS[leaf.fact];
  const op = OPERATORS[leaf.operator];
  const ref = isFactRef(leaf.value);
  if (leaf.path && fact.kind !== "object") {
    ctx.addIssue({
      code: "custom",
      path: ["path"],
      message: `fact ${leaf.fact} is a ${fact.kind}; only object facts take a path`,
    });
  }
  if (op.numeric && !leaf.path && fact.kind !== "number") {
    ctx.addIssue({
      code: "custom",
      path: ["operator"],
      message: `${leaf.operator} needs a number; ${leaf.fact} is a ${fact.kind}`,
    });
  }
  if (op.numeric && typeof leaf.value !== "number" && !ref) {
    ctx.addIssue({ code: "custom", path: ["value"], message: `${leaf.operator} compares with a number` });
  }
  if (LIST_OPERATORS.has(leaf.operator)) {
    const name = listName.safeParse(leaf.value);
    if (!name.success)
      ctx.addIssue({
        code: "custom",
        path: ["value"],
        message: `${leaf.operator} takes a list's name, e.g. "blocked-merchants": ${name.error.issues[0]!.message}`,
      });
    if (!leaf.path && fact.kind !== "string" && fact.kind !== "object")
      ctx.addIssue({
        code: "custom",
        path: ["operator"],
        message: `${leaf.operator} looks up strings; ${leaf.fact} is a ${fact.kind}`,
      });
    return;
  }
  if ((leaf.operator === "in" || leaf.operator === "notIn") && !Array.isArray(leaf.value)) {
    ctx.addIssue({ code: "custom", path: ["value"], message: `${leaf.operator} needs an array value` });
  }
  if (leaf.path || ref) return;
  const values =
    (leaf.operator === "in" || leaf.operator === "notIn") && Array.isArray(leaf.value)
      ? leaf.value.map((v, i) => [v, ["value", i]] as const)
      : leaf.operator === "equal" || leaf.operator === "notEqual"
        ? [[leaf.value, ["value"]] as const]
        : [];
  for (const [v, at] of values) {
    if (leaf.fact === "event.type" && typeof v === "string" && !(eventTypes as string[]).includes(v)) {
      ctx.addIssue({ code: "custom", path: [...at], message: unknownName("event type", v, eventTypes) });
    }
    const why = kindMismatch(fact.kind, v);
    if (why)
      ctx.addIssue({
        code: "custom",
        path: [...at],
        message: `${JSON.stringify(v)} is ${why}: it never matches`,
      });
  }
});

export type Leaf = z.infer<typeof leafSchema>;
export type Condition = Leaf | { all: Condition[] } | { any: Condition[] } | { not: Condition };

const allSchema = strict({ all: z.array(z.lazy(() => conditionSchema)).min(1) });
const anySchema = strict({ any: z.array(z.lazy(() => conditionSchema)).min(1) });
const notSchema = strict({ not: z.lazy(() => conditionSchema) });

/**
 * Chooses the condition's schema by its keys rather than trying each in a union, so an error deep
 * in a nested condition keeps its own path and message instead of becoming "invalid input" at
 * the top.
 */
function byKeys(schemas: { all: z.ZodType; any: z.ZodType; not: z.ZodType; leaf?: z.ZodType }) {
  return z.unknown().transform((v, ctx) => {
    const o = typeof v === "object" && v !== null ? v : {};
    const schema =
      "all" in o ? schemas.all : "any" in o ? schemas.any : "not" in o ? schemas.not : schemas.leaf;
    if (!schema) {
      ctx.addIssue({ code: "custom", message: "a rule's conditions start with all, any or not" });
      return z.NEVER;
    }
    const r = schema.safeParse(v);
    if (!r.success) {
      for (const issue of r.error.issues)
        ctx.addIssue({ code: "custom", message: issue.message, path: issuePath(issue) });
      return z.NEVER;
    }
    return r.data as Condition;
  });
}

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  byKeys({ all: allSchema, any: anySchema, not: notSchema, leaf: leafSchema }),
);

/** How deep `all`, `any` and `not` may nest: far beyond what a person writes, far below the stack's limit. */
export const MAX_CONDITION_DEPTH = 32;

/**
 * The path of the first condition nested deeper than MAX_CONDITION_DEPTH, or undefined. Iterative,
 * so a hostile depth is reported rather than overflowing the stack the schema recurses on.
 */
function tooDeep(conditions: unknown): PropertyKey[] | undefined {
  const stack: Array<{ v: unknown; path: PropertyKey[]; depth: number }> = [
    { v: conditions, path: [], depth: 1 },
  ];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > MAX_CONDITION_DEPTH) return path;
    const o = v as Record<string, unknown>;
    if ("not" in o) stack.push({ v: o.not, path: [...path, "not"], depth: depth + 1 });
    for (const group of ["all", "any"] as const) {
      const list = o[group];
      if (Array.isArray(list))
        for (const [i, c] of list.entries())
          stack.push({ v: c, path: [...path, group, i], depth: depth + 1 });
    }
  }
  return undefined;
}

const boundedConditions = z.unknown().superRefine((v, ctx) => {
  const path = tooDeep(v);
  if (path)
    ctx.addIssue({
      code: "custom",
      path,
      message: `conditions nest deeper than ${MAX_CONDITION_DEPTH} levels of all, any and not`,
    });
});

/** The team a rule's cases go to when it names none. */
export const DEFAULT_TEAM = "fraud";

export const severitySchema = z.enum(["low", "medium", "high"]);
export type Severity = z.infer<typeof severitySchema>;

export const ruleModes = ["live", "shadow"] as const;
export type RuleMode = (typeof ruleModes)[number];

export const ruleSchema = strict({
  name: z
    .string()
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "kebab-case, e.g. impossible-location-spend")
    .max(100),
  description: text(2000).optional(),
  /**
   * The hit in plain words for the advocate: a Mustache template over facts and story words
   * (engine/rules/summary.ts), e.g. `{{route}}: {{travel.distanceKm}} km in {{gap}}`.
   */
  summary: z
    .string()
    .min(1)
    .max(500)
    .superRefine((t, ctx) => {
      for (const message of summaryIssues(t, (n) => didYouMean(n, SUMMARY_NAMES)))
        ctx.addIssue({ code: "custom", message });
    })
    .optional(),
  /** Who answers for the rule: a team or a person, as the risk team names them. */
  owner: text(120).optional(),
  /** `live` opens cases and texts; `shadow` is evaluated and recorded only, to see what it would do. */
  mode: z.enum(ruleModes, { error: (i) => unknownName("mode", i.input, ruleModes) }).default("live"),
  priority: z.number().int().min(1).max(100).default(1),
  conditions: boundedConditions.pipe(byKeys({ all: allSchema, any: anySchema, not: notSchema })) as z.ZodType<
    { all: Condition[] } | { any: Condition[] } | { not: Condition }
  >,
  event: strict({
    type: z.string().min(1).max(100),
    params: z.looseObject({
      severity: z.enum(["low", "medium", "high"], {
        error: (i) => unknownName("severity", i.input, ["low", "medium", "high"]),
      }),
      /** What the advocate reads first. */
      title: text(200),
      /** The team whose advocates take the case: one an advocate is in (checked where they are known). */
      team: teamName.default(DEFAULT_TEAM),
    }),
  }),
});

export type Rule = z.output<typeof ruleSchema>;

export const rulesetSchema = strict({
  rules: z.array(ruleSchema).min(1).max(500),
});
export type Ruleset = z.output<typeof rulesetSchema>;

/**
 * Where a value holds a number JSON cannot carry (1e309 parses as Infinity, which JSON.stringify
 * stores as null: the test would silently become another test), or undefined. Iterative.
 */
function nonFinite(value: unknown): PropertyKey[] | undefined {
  const stack: Array<{ v: unknown; path: PropertyKey[] }> = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === "number" && !Number.isFinite(v)) return path;
    if (typeof v === "object" && v !== null)
      for (const [k, child] of Object.entries(v))
        stack.push({ v: child, path: [...path, Array.isArray(v) ? Number(k) : k] });
  }
  return undefined;
}

/** The facts a test case sets: catalogued names, each with a value of the fact's kind. */
const testFacts = z.record(z.string(), z.unknown()).superRefine((facts, ctx) => {
  for (const [name, value] of Object.entries(facts)) {
    const doc = (FACTS as Record<string, { kind: string; nullable: boolean }>)[name];
    const infinite = nonFinite(value);
    if (infinite) {
      ctx.addIssue({
        code: "custom",
        path: [name, ...infinite],
        message: "a number too large to store (it would become null); use a finite number",
      });
    } else if (!doc) {
      ctx.addIssue({ code: "custom", path: [name], message: unknownName("fact", name, factNames) });
    } else if (
      value === null
        ? !doc.nullable
        : doc.kind === "object"
          ? typeof value !== "object"
          : typeof value !== doc.kind
    ) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `${name} is ${doc.kind === "object" ? "an" : "a"} ${doc.kind}${doc.nullable ? " or null" : ""}; got ${value === null ? "null" : typeof value}`,
      });
    }
  }
});

/** A test case's name: what a failure is reported by, so something to read. */
export const testName = z
  .string()
  .max(200, "at most 200 characters")
  .refine((n) => n.trim().length > 0, "a name, not blank");

export const ruleTestSchema = strict({
  name: testName,
  facts: testFacts,
  /**
   * The lists the case sees, by name: a case that sets them does not depend on what the lists hold
   * today. A list it does not set is the server's (when the server runs the test).
   */
  lists: z.record(listName, z.array(z.string().max(MAX_ITEM_LENGTH)).max(1000)).optional(),
  /** Whether the rule under test fires on these facts (other rules do not matter). */
  fires: z.boolean(),
});
export type RuleTest = z.output<typeof ruleTestSchema>;

export const ruleFileSchema = strict({
  rule: ruleSchema,
  tests: z.array(ruleTestSchema).max(200).default([]),
});
/** One rule with its own test cases: `rules/<name>.json`, and the unit of every publish. */
export type RuleFile = z.output<typeof ruleFileSchema>;

/** A problem with a rule, located: the JSON path from the input's root, and the rule's name when known. */
export interface RuleIssue extends FieldIssue {
  rule?: string;
}

function isFactRef(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "fact" in v;
}

function rawName(entry: unknown): string | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const o = entry as Record<string, unknown>;
  const rule =
    "rule" in o && typeof o.rule === "object" && o.rule !== null ? (o.rule as Record<string, unknown>) : o;
  return typeof rule.name === "string" ? rule.name : undefined;
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

const problems = (error: z.ZodError): Problem[] =>
  error.issues.map((i) => ({ path: issuePath(i), message: i.message }));

function located(
  issues: Problem[],
  prefix: string,
  nameAt: (path: readonly PropertyKey[]) => string | undefined,
): RuleIssue[] {
  return fieldIssues({ issues }, { prefix, whole: prefix || "(root)" }).map((issue, n) => {
    const rule = nameAt(issues[n]!.path);
    return rule ? { ...issue, rule } : issue;
  });
}

/** What a parse can know beyond the file itself, when a database was asked. */
export interface RuleContext {
  /** The teams advocates are in: a rule naming any other would open cases no one sees. */
  teams?: readonly string[];
  /** The lists that exist: a rule naming any other could not be evaluated. */
  lists?: readonly string[];
}

const field = (o: unknown, key: string): unknown =>
  typeof o === "object" && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[key] : undefined;

/**
 * `problems` with a problem for each entry whose team no advocate is in (the default team too,
 * when it names none), replacing the schema's own at that place: "did you mean fraud" says more
 * than "lower-case". Read from the raw entries, so it comes with every other problem at once.
 */
function withTeams(
  found: Problem[],
  entries: ReadonlyArray<{ entry: unknown; at: PropertyKey[] }>,
  teams: readonly string[] | undefined,
): Problem[] {
  if (!teams) return found;
  let out = found;
  for (const { entry, at } of entries) {
    const inFile = field(entry, "rule") !== undefined;
    const params = field(field(inFile ? field(entry, "rule") : entry, "event"), "params");
    if (typeof params !== "object" || params === null || Array.isArray(params)) continue;
    // Absent is the default team; null or another kind is the schema's to refuse.
    const team = field(params, "team") === undefined ? DEFAULT_TEAM : field(params, "team");
    const why = typeof team === "string" ? unknownTeam(team, teams) : undefined;
    if (!why) continue;
    const path = [...at, ...(inFile ? ["rule"] : []), "event", "params", "team"];
    const here = jsonPath(path);
    out = [...out.filter((p) => jsonPath(p.path) !== here), { path, message: why }];
  }
  return out;
}

/** Each condition of a raw (unvalidated) condition tree with its path, depth first. */
function* rawLeaves(
  node: unknown,
  path: PropertyKey[],
  depth = 0,
): Generator<[Record<string, unknown>, PropertyKey[]]> {
  if (typeof node !== "object" || node === null || Array.isArray(node) || depth > MAX_CONDITION_DEPTH) return;
  const o = node as Record<string, unknown>;
  for (const group of ["all", "any"] as const) {
    const list = o[group];
    if (Array.isArray(list))
      for (const [i, c] of list.entries()) yield* rawLeaves(c, [...path, group, i], depth + 1);
  }
  if ("not" in o) yield* rawLeaves(o.not, [...path, "not"], depth + 1);
  if ("operator" in o) yield [o, path];
}

/**
 * A problem for each `inList` / `notInList` whose value names no list there is, with a did-you-mean
 * from those that are. Read from the raw entries, beside the schema's own problems.
 */
function listProblems(
  entries: ReadonlyArray<{ entry: unknown; at: PropertyKey[] }>,
  lists: readonly string[] | undefined,
): Problem[] {
  if (!lists) return [];
  const known = new Set(lists);
  const out: Problem[] = [];
  for (const { entry, at } of entries) {
    const inFile = field(entry, "rule") !== undefined;
    const base = [...at, ...(inFile ? ["rule"] : []), "conditions"];
    for (const [leaf, path] of rawLeaves(field(inFile ? field(entry, "rule") : entry, "conditions"), base)) {
      const value = leaf.value;
      if (typeof leaf.operator !== "string" || !LIST_OPERATORS.has(leaf.operator)) continue;
      if (!listName.safeParse(value).success || known.has(value as string)) continue;
      out.push({
        path: [...path, "value"],
        message: unknownName("list", value, lists, "; PUT /v1/lists/:name makes one"),
      });
    }
  }
  return out;
}

/**
 * The error for a parse's problems: a ValidationError (400) when the input breaks the schema; an
 * UnprocessableError (422) when it is well formed and only names lists that do not exist.
 */
function parseError(
  message: string,
  found: Problem[],
  missing: Problem[],
  prefix: string,
  nameAt: (path: readonly PropertyKey[]) => string | undefined,
): ValidationError {
  const issues = located([...found, ...missing], prefix, nameAt);
  return found.length === 0
    ? new UnprocessableError(`${message}: ${missing.length} unknown list(s)`, issues)
    : new ValidationError(message, issues);
}

/**
 * Refuses (UnprocessableError, 422) rule files naming a list not among `lists`: each problem with
 * its path from the file's root, the rule's name and a did-you-mean. What a publish checks under
 * its lock, against the lists of that moment, whatever the files came from (a request, a rollback).
 */
export function requireKnownLists(files: readonly RuleFile[], lists: readonly string[]): void {
  const issues = files.flatMap((f) =>
    located(listProblems([{ entry: f, at: [] }], lists), "", () => f.rule.name),
  );
  if (issues.length > 0)
    throw new UnprocessableError(`the rules name ${issues.length} list(s) that do not exist`, issues);
}

/**
 * Validates one rule file; throws ValidationError listing every problem at once, each with its
 * JSON path from the file's root (`rule.conditions.all[3].operator`) and the rule's name.
 */
export function parseRuleFile(input: unknown, context: RuleContext = {}): RuleFile {
  const result = ruleFileSchema.safeParse(input);
  const found = withTeams(
    result.success ? [] : problems(result.error),
    [{ entry: input, at: [] }],
    context.teams,
  );
  const missing = listProblems([{ entry: input, at: [] }], context.lists);
  if (result.success && found.length === 0 && missing.length === 0) return result.data;
  const name = rawName(input);
  throw parseError("invalid rule file", found, missing, "", () => name);
}

const ruleEntry = z.unknown().transform((v, ctx): RuleFile => {
  const asFile = typeof v === "object" && v !== null && "rule" in v;
  const r = asFile ? ruleFileSchema.safeParse(v) : ruleSchema.safeParse(v);
  if (!r.success) {
    for (const issue of r.error.issues)
      ctx.addIssue({ code: "custom", message: issue.message, path: issuePath(issue) });
    return z.NEVER;
  }
  return asFile ? (r.data as RuleFile) : { rule: r.data as Rule, tests: [] };
});

const ruleEntries = z
  .array(ruleEntry)
  .min(1)
  .max(500)
  .superRefine((files, ctx) => {
    const seen = new Set<string>();
    for (const [i, f] of files.entries()) {
      if (seen.has(f.rule.name))
        ctx.addIssue({ code: "custom", path: [i], message: `duplicate rule name ${f.rule.name}` });
      seen.add(f.rule.name);
    }
  });

/**
 * Validates a list of rules as a publish or a test carries them: each entry a rule file
 * (`{ rule, tests }`) or, as before rule files, a bare rule. Every problem at once, each with its
 * path from `at` (`rules[2].rule.conditions.all[0].fact`) and its rule's name.
 */
export function parseRuleFiles(entries: unknown, at = "rules", context: RuleContext = {}): RuleFile[] {
  const result = ruleEntries.safeParse(entries);
  const raw: unknown[] = Array.isArray(entries) ? entries : [];
  const found = withTeams(
    result.success ? [] : problems(result.error),
    raw.map((entry, i) => ({ entry, at: [i] })),
    context.teams,
  );
  const missing = listProblems(
    raw.map((entry, i) => ({ entry, at: [i] })),
    context.lists,
  );
  if (result.success && found.length === 0 && missing.length === 0) return result.data;
  throw parseError("invalid ruleset", found, missing, at, (path) =>
    typeof path[0] === "number" ? rawName(raw[path[0]]) : undefined,
  );
}

/** The rules of a set of rule files, in the order given. */
export function rulesetOf(files: readonly RuleFile[]): Ruleset {
  return { rules: files.map((f) => f.rule) };
}

/** Validates a ruleset (`{ rules: [...] }`, bare rules or rule files); throws ValidationError listing every problem. */
export function parseRuleset(input: unknown): Ruleset {
  const body = z.strictObject({ rules: z.unknown() }).safeParse(input);
  if (!body.success)
    throw new ValidationError(
      "invalid ruleset",
      located(problems(body.error), "", () => undefined),
    );
  return rulesetOf(parseRuleFiles(body.data.rules));
}
