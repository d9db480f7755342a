/**
 * What text a stranger may send: no NUL (Postgres text cannot hold it), no unpaired UTF-16
 * surrogate (not Unicode; jsonb refuses its escape), and no nesting deeper than a limit (a
 * recursive validator would overflow the stack). Pure; iterative, so hostile depth cannot
 * overflow it either.
 */
import type { FieldIssue } from "./errors.ts";

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");
const NUL = "\u0000";

/** The reason a string cannot be stored, or undefined when it can. */
export function badText(s: string): string | undefined {
  if (s.includes(NUL)) return "contains a NUL character";
  if (LONE_SURROGATE.test(s)) return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

/** Replaces what `badText` refuses: for text we must accept whatever it holds (a customer's SMS). */
export function cleanText(s: string): string {
  return s.replaceAll(NUL, "").replace(LONE_SURROGATES, "\ufffd");
}

/** Deepest nesting of arrays and objects a request body may have. */
export const MAX_DEPTH = 64;

/**
 * Every string (keys too) that `badText` refuses, and nesting beyond `maxDepth`, as field issues
 * (at most `limit`), paths in the same form as zod's (`events[3].merchant.name`).
 */
export function inputIssues(
  value: unknown,
  opts: { prefix?: string; maxDepth?: number; limit?: number } = {},
): FieldIssue[] {
  const maxDepth = opts.maxDepth ?? MAX_DEPTH;
  const limit = opts.limit ?? 20;
  const issues: FieldIssue[] = [];
  const stack: Array<{ v: unknown; path: string; depth: number }> = [
    { v: value, path: opts.prefix ?? "", depth: 0 },
  ];
  const name = (path: string) => path || "(body)";
  while (stack.length > 0 && issues.length < limit) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === "string") {
      const why = badText(v);
      if (why) issues.push({ path: name(path), message: why });
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth >= maxDepth) {
      issues.push({ path: name(path), message: `nested deeper than ${maxDepth} levels` });
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [k, child] of Object.entries(v)) {
      const why = badText(k);
      const childPath = path ? `${path}.${k}` : k;
      if (why) {
        issues.push({ path: name(path), message: `a key ${why}` });
        continue;
      }
      stack.push({ v: child, path: childPath, depth: depth + 1 });
    }
  }
  return issues;
}
