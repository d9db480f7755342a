/**
 * Rule files on disk (`rules/<name>.json`, `{ rule, tests }`): read, parsed and checked, with every
 * problem naming the file, the rule and the JSON path, so a risk analyst can fix them all at once.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { ValidationError } from "../errors.ts";
import { parseRuleFile, type RuleFile, type RuleIssue } from "./schema.ts";

export interface FileIssue extends RuleIssue {
  file: string;
}

export interface ReadRuleFile {
  file: string;
  /** The parsed file, when it has no problem. */
  parsed?: RuleFile;
  issues: FileIssue[];
}

/** Where in the text a JSON parse failed, as `line L column C`, from V8's "at position N". */
function where(text: string, message: string): string {
  const at = /at position (\d+)/.exec(message);
  if (!at) return "";
  const before = text.slice(0, Number(at[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` at line ${line} column ${column}`;
}

/** Parses a rule file's text; `file` names it in every problem. */
export function checkRuleFileText(file: string, text: string): ReadRuleFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message.replace(/ in JSON at position \d+.*$/, "") : String(e);
    return {
      file,
      issues: [{ file, path: "(file)", message: `malformed JSON${where(text, String(e))}: ${message}` }],
    };
  }
  try {
    const parsed = parseRuleFile(raw);
    const expected = `${parsed.rule.name}.json`;
    if (file.endsWith(".json") && basename(file) !== expected) {
      return {
        file,
        issues: [
          {
            file,
            rule: parsed.rule.name,
            path: "rule.name",
            message: `the rule is named ${parsed.rule.name}, so its file is ${expected}`,
          },
        ],
      };
    }
    return { file, parsed, issues: [] };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return { file, issues: e.issues.map((i) => ({ file, ...i })) };
  }
}

export function readRuleFile(path: string): ReadRuleFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      file: path,
      issues: [
        { file: path, path: "(file)", message: code === "ENOENT" ? "no such file" : `cannot read: ${code}` },
      ],
    };
  }
  return checkRuleFileText(path, text);
}

/** The `.json` files of a directory (sorted), or the paths given, each read and checked. */
export function readRuleFiles(paths: readonly string[]): ReadRuleFile[] {
  const files = paths.flatMap((p) => {
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {}
    return dir
      ? readdirSync(p)
          .filter((f) => f.endsWith(".json"))
          .sort()
          .map((f) => join(p, f))
      : [p];
  });
  const read = files.map(readRuleFile);
  const byName = new Map<string, string>();
  for (const r of read) {
    if (!r.parsed) continue;
    const other = byName.get(r.parsed.rule.name);
    if (other) {
      r.issues.push({
        file: r.file,
        rule: r.parsed.rule.name,
        path: "rule.name",
        message: `also the name of the rule in ${other}`,
      });
      delete r.parsed;
    } else byName.set(r.parsed.rule.name, r.file);
  }
  return read;
}

/** Every file parsed, or a ValidationError listing every problem of every file. */
export function loadRuleFiles(paths: readonly string[]): RuleFile[] {
  const read = readRuleFiles(paths);
  const issues = read.flatMap((r) => r.issues);
  if (issues.length > 0) {
    throw new ValidationError(
      "invalid rule files",
      issues.map((i) => ({ ...i, path: `${i.file}: ${i.path}` })),
    );
  }
  return read.map((r) => r.parsed!);
}
