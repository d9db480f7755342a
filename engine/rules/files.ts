/**
 * Rule files on disk (`rules/<name>.json`, `{ rule, tests }`): read, parsed and checked, with every
 * problem naming the file, the rule and the JSON path, so a risk analyst can fix them all at once.
 * A file is not trusted: only regular files are read (no symbolic link, FIFO or device), up to a
 * size, with the same depth and text limits as a request body, and text that is not JSON is never
 * repeated back.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  type Stats,
} from "node:fs";
import { basename, join } from "node:path";
import { ValidationError } from "../errors.ts";
import { inputIssues } from "../input.ts";
import { inAuthorsOrder } from "./key-order.ts";
import { parseRuleFile, type RuleFile, type RuleIssue } from "./schema.ts";

/** The largest rule file read, bytes: 200 test cases of generous facts fit many times over. */
export const MAX_RULE_FILE_BYTES = 1_000_000;

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

/**
 * What is wrong with text that is not JSON, in the parser's own fixed words and never the text's:
 * V8 quotes the start of the text in some messages ("Unexpected token 'r', "root:$6$…" is not valid
 * JSON"), and a file named by mistake may hold a secret.
 */
function notJson(message: string): string {
  const fixed = /^([^"]*?) in JSON at position \d+/.exec(message);
  if (fixed) return fixed[1]!;
  if (message.startsWith("Unexpected end of JSON input")) return "the text ends before the JSON does";
  return "not JSON";
}

/** Parses a rule file's text; `file` names it in every problem. */
export function checkRuleFileText(file: string, text: string): ReadRuleFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : "";
    return {
      file,
      issues: [
        { file, path: "(file)", message: `malformed JSON${where(text, message)}: ${notJson(message)}` },
      ],
    };
  }
  // What a request body is held to (depth, NUL, lone surrogates): the schema recurses on depth.
  const bad = inputIssues(raw, { prefix: "" });
  if (bad.length > 0) {
    return { file, issues: bad.map((i) => ({ file, ...i, path: i.path === "(body)" ? "(file)" : i.path })) };
  }
  try {
    const parsed = inAuthorsOrder(parseRuleFile(raw), raw);
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

/** Why a file is not read as a rule file, from its own stat (not its link's target), or undefined. */
function unreadable(st: Stats): string | undefined {
  if (st.isSymbolicLink()) return "a symbolic link: rule files are read only as regular files";
  if (!st.isFile()) {
    const kind = st.isDirectory()
      ? "a directory"
      : st.isFIFO()
        ? "a FIFO"
        : st.isSocket()
          ? "a socket"
          : "a device";
    return `${kind}, not a regular file`;
  }
  if (st.size > MAX_RULE_FILE_BYTES)
    return `${st.size.toLocaleString("en")} bytes; a rule file is at most ${MAX_RULE_FILE_BYTES.toLocaleString("en")} bytes`;
  return undefined;
}

/**
 * A regular file's text, or why not. lstat refuses a link or a FIFO before opening; the open itself
 * follows no link and does not wait on a FIFO (O_NOFOLLOW, O_NONBLOCK), and the opened file is
 * checked again, so a file swapped in between is refused too. Reads at most the limit.
 */
function readRegular(path: string): { text: string } | { problem: string } {
  let fd: number | undefined;
  try {
    const before = unreadable(lstatSync(path));
    if (before) return { problem: before };
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const after = unreadable(fstatSync(fd));
    if (after) return { problem: after };
    const buf = Buffer.alloc(MAX_RULE_FILE_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got)
      got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_RULE_FILE_BYTES) return { problem: `over ${MAX_RULE_FILE_BYTES.toLocaleString("en")} bytes` };
    return { text: buf.toString("utf8", 0, n) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { problem: "no such file" };
    if (code === "ELOOP") return { problem: "a symbolic link: rule files are read only as regular files" };
    return { problem: `cannot read: ${code ?? "unknown error"}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readRuleFile(path: string): ReadRuleFile {
  const read = readRegular(path);
  if ("problem" in read)
    return { file: path, issues: [{ file: path, path: "(file)", message: read.problem }] };
  return checkRuleFileText(path, read.text);
}

/**
 * The `.json` files of a directory (sorted), or the paths given, each read and checked on its own:
 * one bad file is reported beside the others, never in their place. A link is not followed, to a
 * directory or a file.
 */
export function readRuleFiles(paths: readonly string[]): ReadRuleFile[] {
  const files = paths.flatMap((p) => {
    let dir = false;
    try {
      dir = lstatSync(p).isDirectory();
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
