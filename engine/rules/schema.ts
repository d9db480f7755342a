/**
 * The rule schema: json-rules-engine's JSON format, narrowed to what touchpoint can explain,
 * checked against the facts catalogue, with errors that name the rule and the JSON path.
 */
import { z } from "zod";
import { type FieldIssue, fieldIssues, ValidationError } from "../errors.ts";
import { FACTS, type FactName } from "./facts.ts";

/** json-rules-engine's built-in operators. */
export const OPERATORS = {
  equal: { numeric: false, doc: "fact === value" },
  notEqual: { numeric: false, doc: "fact !== value" },
  in: { numeric: false, doc: "value (an array) includes the fact" },
  notIn: { numeric: false, doc: "value (an array) does not include the fact" },
  contains: { numeric: false, doc: "the fact (an array) includes value" },
  doesNotContain: { numeric: false, doc: "the fact (an array) does not include value" },
  lessThan: { numeric: true, doc: "fact < value (numbers)" },
  lessThanInclusive: { numeric: true, doc: "fact <= value (numbers)" },
  greaterThan: { numeric: true, doc: "fact > value (numbers)" },
  greaterThanInclusive: { numeric: true, doc: "fact >= value (numbers)" },
} as const;

export type OperatorName = keyof typeof OPERATORS;
const operatorNames = Object.keys(OPERATORS) as [OperatorName, ...OperatorName[]];
const factNames = Object.keys(FACTS) as [FactName, ...FactName[]];

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

export const leafSchema = z.strictObject({
  fact: z.enum(factNames, {
    error: (i) => `unknown fact ${JSON.stringify(i.input)}; see the facts catalogue`,
  }),
  operator: z.enum(operatorNames, { error: (i) => `unknown operator ${JSON.stringify(i.input)}` }),
  value: z.union([json, z.strictObject({ fact: z.enum(factNames), path: z.string().optional() })]),
  path: z
    .string()
    .regex(/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/, "a plain path such as $.merchant.mcc")
    .optional(),
  params: z.record(z.string(), json).optional(),
  name: z.string().optional(),
});

export type Leaf = z.infer<typeof leafSchema>;
export type Condition = Leaf | { all: Condition[] } | { any: Condition[] } | { not: Condition };

const allSchema = z.strictObject({ all: z.array(z.lazy(() => conditionSchema)).min(1) });
const anySchema = z.strictObject({ any: z.array(z.lazy(() => conditionSchema)).min(1) });
const notSchema = z.strictObject({ not: z.lazy(() => conditionSchema) });

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
        ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
      return z.NEVER;
    }
    return r.data as Condition;
  });
}

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  byKeys({ all: allSchema, any: anySchema, not: notSchema, leaf: leafSchema }),
);

export const severitySchema = z.enum(["low", "medium", "high"]);
export type Severity = z.infer<typeof severitySchema>;

export const ruleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "kebab-case, e.g. impossible-location-spend"),
  description: z.string().max(2000).optional(),
  priority: z.number().int().min(1).max(100).default(1),
  conditions: byKeys({ all: allSchema, any: anySchema, not: notSchema }) as z.ZodType<
    { all: Condition[] } | { any: Condition[] } | { not: Condition }
  >,
  event: z.strictObject({
    type: z.string().min(1).max(100),
    params: z.looseObject({
      severity: severitySchema,
      /** What the advocate reads first. */
      title: z.string().min(1).max(200),
      /** The team whose advocates take the case. */
      team: z.string().min(1).max(60).default("fraud"),
    }),
  }),
});

export type Rule = z.output<typeof ruleSchema>;

export const rulesetSchema = z.strictObject({
  rules: z.array(ruleSchema).min(1).max(500),
});
export type Ruleset = z.output<typeof rulesetSchema>;

function* leaves(c: Condition, path: string): Generator<[Leaf, string]> {
  if ("all" in c) for (const [i, x] of c.all.entries()) yield* leaves(x, `${path}.all[${i}]`);
  else if ("any" in c) for (const [i, x] of c.any.entries()) yield* leaves(x, `${path}.any[${i}]`);
  else if ("not" in c) yield* leaves(c.not, `${path}.not`);
  else yield [c, path];
}

/** Meaning checks zod cannot express: fact kinds against operators and paths, unique names. */
function semanticIssues(ruleset: Ruleset): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const [i, rule] of ruleset.rules.entries()) {
    const at = `rules[${i}] (${rule.name})`;
    if (seen.has(rule.name)) issues.push({ path: `${at}.name`, message: "duplicate rule name" });
    seen.add(rule.name);
    for (const [leaf, p] of leaves(rule.conditions, `${at}.conditions`)) {
      const fact = FACTS[leaf.fact];
      if (leaf.path && fact.kind !== "object") {
        issues.push({
          path: `${p}.path`,
          message: `fact ${leaf.fact} is a ${fact.kind}; only object facts take a path`,
        });
      }
      if (OPERATORS[leaf.operator].numeric && !leaf.path && fact.kind !== "number") {
        issues.push({
          path: `${p}.operator`,
          message: `${leaf.operator} needs a number; ${leaf.fact} is a ${fact.kind}`,
        });
      }
      if (OPERATORS[leaf.operator].numeric && typeof leaf.value !== "number" && !isFactRef(leaf.value)) {
        issues.push({ path: `${p}.value`, message: `${leaf.operator} compares with a number` });
      }
      if ((leaf.operator === "in" || leaf.operator === "notIn") && !Array.isArray(leaf.value)) {
        issues.push({ path: `${p}.value`, message: `${leaf.operator} needs an array value` });
      }
    }
  }
  return issues;
}

function isFactRef(v: unknown): boolean {
  return typeof v === "object" && v !== null && "fact" in v;
}

/** Validates a ruleset; throws ValidationError listing every problem with its path. */
export function parseRuleset(input: unknown): Ruleset {
  const result = rulesetSchema.safeParse(input);
  if (!result.success) {
    throw new ValidationError("invalid ruleset", fieldIssues(result.error, { whole: "(root)" }));
  }
  const issues = semanticIssues(result.data);
  if (issues.length > 0) throw new ValidationError("invalid ruleset", issues);
  return result.data;
}
