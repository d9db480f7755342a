/**
 * The `touchpoint` command: what a risk analyst runs beside their rule files.
 *
 *   touchpoint rules validate [paths…]   every problem of every file at once
 *   touchpoint rules test [paths…]       each file's own cases, and why a failing one failed
 *   touchpoint rules facts               offline: the facts a rule can use
 *   touchpoint rules list | diff | publish | remove | rollback | backtest   against a server
 *   touchpoint lists put <name> <file.csv|.txt> | add | remove | show | list   the named lists
 *
 * Paths default to `rules/`; each file is read on its own terms (engine/rules/files.ts), and
 * validate and test report a bad one and go on. Those two work offline, where a rule's team can
 * only be checked for its shape; given `--url` and `--token` they ask the server about teams too.
 * Server commands take `--url` and `--token` (or TOUCHPOINT_URL and TOUCHPOINT_TOKEN); with
 * neither, the touchpoint running on this machine's DATA_DIR is used.
 * Output is for people; `--json` prints what scripts want. Exit 1 on a failure, 2 on misuse.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError, Option } from "commander";
import { factCatalogue } from "./engine/rules/facts.ts";
import { type FileIssue, readRuleFiles } from "./engine/rules/files.ts";
import type { RuleFile } from "./engine/rules/schema.ts";
import { runRuleTests } from "./engine/rules/testing.ts";
import { lockOwner } from "./engine/store/lock.ts";

const DEFAULT_PATHS = ["rules"];

/** A failure the command reports in one line and exits 1 on; misuse (2) is commander's. */
class CliError extends Error {}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive whole number");
  return n;
}

interface Out {
  json: boolean;
}

function print(text = ""): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** A plain table: columns padded to their widest cell, the last one left ragged. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function printIssues(issues: FileIssue[]): void {
  for (const i of issues) {
    const where = [i.file, i.rule].filter(Boolean).join(" · ");
    print(`${where}: ${i.path.replace(/^rule\./, "")}: ${i.message}`);
  }
  print(`\n${issues.length} problem(s) in ${new Set(issues.map((i) => i.file)).size} file(s)`);
}

/** Reads and checks rule files, each on its own: the good ones, and every problem of the others. */
function readFiles(paths: string[]): {
  files: Array<{ file: string; parsed: RuleFile }>;
  issues: FileIssue[];
} {
  const read = readRuleFiles(paths.length > 0 ? paths : DEFAULT_PATHS);
  if (read.length === 0) throw new CliError(`no rule files in ${paths.join(", ") || DEFAULT_PATHS[0]}`);
  return {
    files: read.flatMap((r) => (r.parsed ? [{ file: r.file, parsed: r.parsed }] : [])),
    issues: read.flatMap((r) => r.issues),
  };
}

/** Reads and checks rule files for a server: every one must be good, or nothing is sent. */
function loadFiles(paths: string[], out: Out): RuleFile[] {
  const { files, issues } = readFiles(paths);
  if (issues.length > 0) {
    if (out.json) printJson({ valid: false, issues });
    else printIssues(issues);
    throw new CliError("");
  }
  return files.map((f) => f.parsed);
}

/**
 * What only the server knows of these files (which teams advocates are in), asked when a server is
 * named; offline, says on stderr what was not checked. Each problem names its file.
 */
async function serverIssues(
  files: ReadonlyArray<{ file: string; parsed: RuleFile }>,
  o: Out & { url?: string; token?: string },
): Promise<FileIssue[]> {
  if (!(o.url && o.token)) {
    process.stderr.write(
      "teams not checked against the advocates (offline), nor the lists rules name: give --url and --token to check them; a publish checks them\n",
    );
    return [];
  }
  if (files.length === 0) return [];
  const r = await call(server(o), "POST", "/v1/rulesets/validate", { rules: files.map((f) => f.parsed) });
  // 400: a mistake in a file; 422: a file that is well formed but names a list the server lacks.
  if (r.status !== 400 && r.status !== 422) {
    ok(r, o);
    return [];
  }
  return (r.body?.error?.issues ?? []).map((i: { path: string; rule?: string; message: string }) => {
    const at = /^rules\[(\d+)\]\.?(.*)$/.exec(i.path);
    const file = at ? files[Number(at[1])]?.file : undefined;
    return { ...i, file: file ?? "(server)", path: at ? at[2] || "(file)" : i.path };
  });
}

/** An NDJSON file's objects, one a line; a bad line is named by its number. */
function readNdjson(path: string): unknown[] {
  const out: unknown[] = [];
  for (const [i, line] of readText(path).split("\n").entries()) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new CliError(`${path}: line ${i + 1} is not JSON: ${(e as Error).message}`);
    }
  }
  return out;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readText(path));
  } catch (e) {
    throw new CliError(`${path}: not JSON: ${(e as Error).message}`);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(
      `${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

// ------------------------------------------------------------------ the server

// biome-ignore lint/suspicious/noExplicitAny: the server's JSON answers, read field by field as documented in /openapi.json
type Json = any;

interface Server {
  url: string;
  token: string;
}

function server(opts: { url?: string; token?: string }): Server {
  const url = opts.url ?? process.env.TOUCHPOINT_URL;
  const token = opts.token ?? process.env.TOUCHPOINT_TOKEN;
  if (url && token) return { url: url.replace(/\/+$/, ""), token };
  // The touchpoint on this machine's embedded database leaves its address and a local token here.
  const owner = lockOwner(join(resolve(process.env.DATA_DIR ?? "./data"), "touchpoint.lock"));
  if (!url && !token && owner?.url && owner.token) return { url: owner.url, token: owner.token };
  throw new CliError(
    "which touchpoint? give --url and --token (or TOUCHPOINT_URL and TOUCHPOINT_TOKEN); " +
      "a risk token comes from `npm run token -- --role risk --label <your name>`",
  );
}

/** Calls the server; a body is sent as JSON, or as it is with `contentType` (a CSV file, say). */
async function call(s: Server, method: string, path: string, body?: unknown, contentType?: string) {
  let res: Response;
  try {
    res = await fetch(`${s.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${s.token}`,
        ...(body === undefined ? {} : { "content-type": contentType ?? "application/json" }),
      },
      ...(body === undefined ? {} : { body: contentType ? String(body) : JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new CliError(`no answer from ${s.url}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const text = await res.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = { error: { message: text.slice(0, 200) } };
  }
  return { status: res.status, body: json };
}

/** The answer's body when it is a success; otherwise the server's error, in words, thrown. */
function ok(r: { status: number; body: Json }, out: Out, accept: number[] = [200, 201]) {
  if (accept.includes(r.status)) return r.body;
  if (out.json) printJson({ status: r.status, ...r.body });
  else {
    print(`error ${r.status}: ${r.body?.error?.message ?? "no message"}`);
    for (const i of r.body?.error?.issues ?? []) {
      print(`  ${[i.rule, i.path].filter(Boolean).join(" · ")}: ${i.message}`);
    }
  }
  throw new CliError("");
}

function printDiff(diff: {
  added: string[];
  removed: string[];
  changed: Array<{ rule: string; changes: Array<{ path: string; before?: unknown; after?: unknown }> }>;
  unchanged: string[];
}): void {
  const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));
  for (const name of diff.added) print(`+ ${name} (new rule)`);
  for (const name of diff.removed) print(`- ${name} (removed)`);
  for (const c of diff.changed) {
    print(`~ ${c.rule}`);
    for (const ch of c.changes) print(`    ${ch.path}: ${show(ch.before)} → ${show(ch.after)}`);
  }
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) print("no change");
  else print(`  (${diff.unchanged.length} rule(s) unchanged)`);
}

// ------------------------------------------------------------------ commands

export function program(): Command {
  const root = new Command("touchpoint")
    .description("touchpoint's command line: rules, from the file to the published version")
    .showHelpAfterError()
    .exitOverride();
  const rules = root.command("rules").description("write, test and publish rules");
  const withJson = (c: Command) => c.option("--json", "print JSON for scripts", false);
  const withServer = (c: Command) =>
    withJson(c)
      .addOption(new Option("--url <url>", "touchpoint's address").env("TOUCHPOINT_URL"))
      .addOption(new Option("--token <token>", "a risk token").env("TOUCHPOINT_TOKEN"));

  withServer(rules.command("validate").argument("[paths...]", "rule files or folders", DEFAULT_PATHS))
    .description(
      "check rule files: every problem of every file at once, with a did-you-mean; with a server, its teams too",
    )
    .action(async (paths: string[], o: Out & { url?: string; token?: string }) => {
      const read = readFiles(paths);
      const issues = [...read.issues, ...(await serverIssues(read.files, o))];
      const bad = new Set(issues.map((i) => i.file));
      const good = read.files.filter((f) => !bad.has(f.file)).map((f) => f.parsed.rule.name);
      if (o.json)
        printJson({ valid: issues.length === 0, rules: good, ...(issues.length ? { issues } : {}) });
      else {
        if (issues.length > 0) printIssues(issues);
        if (good.length > 0 || issues.length === 0)
          print(`${issues.length > 0 ? "\n" : ""}${good.length} rule file(s) valid: ${good.join(", ")}`);
      }
      if (issues.length > 0) throw new CliError("");
    });

  withServer(rules.command("test").argument("[paths...]", "rule files or folders", DEFAULT_PATHS))
    .description("run each rule file's own test cases, offline; a file with none fails unless allowed")
    .option("--allow-untested", "pass a rule file that has no test cases", false)
    .action(async (paths: string[], o: Out & { url?: string; token?: string; allowUntested: boolean }) => {
      const read = readFiles(paths);
      const issues = [...read.issues, ...(await serverIssues(read.files, o))];
      const results = await runRuleTests(read.files.map((f) => f.parsed));
      const failed = results.filter((r) => !r.pass);
      const untested = read.files.filter((f) => f.parsed.tests.length === 0);
      if (o.json)
        printJson({
          passed: results.length - failed.length,
          failed: failed.length,
          results,
          untested: untested.map((f) => f.parsed.rule.name),
          ...(issues.length ? { issues } : {}),
        });
      else {
        const yesNo = (b: boolean) => (b ? "fires" : "quiet");
        print(
          table(
            ["rule", "case", "expected", "got", "result"],
            results.map((r) => [
              r.rule,
              r.test,
              yesNo(r.expected),
              r.error ? "error" : yesNo(r.fired),
              r.pass ? "pass" : "FAIL",
            ]),
          ),
        );
        for (const r of failed) {
          print(`\nFAIL ${r.rule} · ${r.test}`);
          if (r.error) print(`  the rule threw: ${r.error}`);
          print(r.expected ? "  it did not fire, because:" : "  it fired, because every condition held:");
          for (const why of r.reasons) print(`    ${why}`);
        }
        for (const f of untested)
          print(
            `\n${o.allowUntested ? "untested" : "NO TESTS"} ${f.parsed.rule.name} (${f.file}): it has no test cases${o.allowUntested ? "" : "; add some, or pass --allow-untested"}`,
          );
        if (issues.length > 0) {
          print("");
          printIssues(issues);
        }
        print(`\n${results.length - failed.length} passed, ${failed.length} failed`);
      }
      if (failed.length > 0 || issues.length > 0 || (untested.length > 0 && !o.allowUntested))
        throw new CliError("");
    });

  withJson(rules.command("facts"))
    .description("list the facts a rule can use")
    .action((o: Out) => {
      const facts = factCatalogue();
      if (o.json) printJson({ items: facts });
      else
        print(
          table(
            ["fact", "type", "unit", "null?", "meaning"],
            facts.map((f) => [f.name, f.kind, f.unit ?? "", f.nullable ? "yes" : "no", f.doc]),
          ),
        );
    });

  withServer(rules.command("list"))
    .description("the published rules with their mode, owner and precision")
    .option("--since <time>", "count hits since this time (ISO 8601)")
    .action(async (o: Out & { url?: string; token?: string; since?: string }) => {
      const s = server(o);
      const list = ok(await call(s, "GET", "/v1/rules"), o);
      const query = o.since ? `?since=${encodeURIComponent(o.since)}` : "";
      const stats = ok(await call(s, "GET", `/v1/rulesets/stats${query}`), o).items as Array<{
        rule: string;
        mode: string;
        hits: number;
        confirmed: number;
        falseAlarms: number;
        precision: number | null;
      }>;
      if (o.json) return printJson({ ...list, stats });
      // A rule moved from shadow to live has figures of both: show its current mode's.
      const of = new Map(stats.map((x) => [`${x.mode}:${x.rule}`, x]));
      print(`version ${list.version}`);
      print(
        table(
          ["rule", "mode", "owner", "severity", "hits", "confirmed", "false alarms", "precision"],
          list.items.map((r: { name: string; mode: string; owner: string | null; severity: string }) => {
            const st = of.get(`${r.mode}:${r.name}`);
            return [
              r.name,
              r.mode,
              r.owner ?? "",
              r.severity,
              String(st?.hits ?? 0),
              String(st?.confirmed ?? 0),
              String(st?.falseAlarms ?? 0),
              st?.precision == null ? "-" : `${Math.round(st.precision * 100)}%`,
            ];
          }),
        ),
      );
    });

  withServer(rules.command("diff").argument("[paths...]", "rule files or folders", DEFAULT_PATHS))
    .description("what publishing these files would add, change and remove")
    .option("--remove <names...>", "rules to drop on purpose", [])
    .action(async (paths: string[], o: Out & { url?: string; token?: string; remove: string[] }) => {
      const files = loadFiles(paths, o);
      const r = ok(await call(server(o), "POST", "/v1/rulesets/diff", { rules: files, remove: o.remove }), o);
      if (o.json) return printJson(r);
      print(`against version ${r.from ?? "(none)"}:`);
      printDiff(r.diff);
      if (r.refused) {
        print(
          `\na publish would be refused: it drops ${r.refused.rules.join(", ")}; add --remove to mean it`,
        );
      }
    });

  withServer(rules.command("publish").argument("[paths...]", "rule files or folders", DEFAULT_PATHS))
    .description("publish these files as the whole ruleset (or, with --one, each file alone)")
    .option("-m, --note <why>", "why, recorded with the version")
    .option("--remove <names...>", "rules of the current version to drop on purpose", [])
    .option("--one", "publish each file as one rule (PUT), keeping every other rule", false)
    .action(
      async (
        paths: string[],
        o: Out & { url?: string; token?: string; note?: string; remove: string[]; one: boolean },
      ) => {
        const files = loadFiles(paths, o);
        const s = server(o);
        const answers = [];
        if (o.one) {
          for (const f of files) {
            answers.push(
              ok(
                await call(s, "PUT", `/v1/rules/${f.rule.name}`, {
                  ...f,
                  ...(o.note ? { note: o.note } : {}),
                }),
                o,
              ),
            );
          }
        } else {
          const r = await call(s, "POST", "/v1/rulesets", {
            rules: files,
            remove: o.remove,
            ...(o.note ? { note: o.note } : {}),
          });
          if (r.status === 409 && !o.json) {
            print(`refused: ${r.body.error.message}`);
            throw new CliError("");
          }
          answers.push(ok(r, o));
        }
        if (o.json) return printJson(answers.length === 1 ? answers[0] : answers);
        for (const a of answers) {
          if (a.unchanged) print(`no change: version ${a.version} already holds this`);
          else {
            print(`published version ${a.version} (was ${a.from ?? "none"})`);
            printDiff(a.diff);
          }
        }
      },
    );

  withServer(rules.command("remove").argument("<name>", "the rule to drop"))
    .description("publish a version without one rule")
    .option("-m, --note <why>", "why, recorded with the version")
    .action(async (name: string, o: Out & { url?: string; token?: string; note?: string }) => {
      const q = o.note ? `?note=${encodeURIComponent(o.note)}` : "";
      const r = ok(await call(server(o), "DELETE", `/v1/rules/${encodeURIComponent(name)}${q}`), o);
      if (o.json) printJson(r);
      else print(`published version ${r.version} without ${name}`);
    });

  withServer(rules.command("rollback").argument("<version>", "the version to publish again"))
    .description("publish an earlier version again, as a new version")
    .action(async (version: string, o: Out & { url?: string; token?: string }) => {
      const r = ok(await call(server(o), "POST", `/v1/rulesets/${encodeURIComponent(version)}/rollback`), o);
      if (o.json) return printJson(r);
      if (r.unchanged) print(`no change: the published version already equals version ${version}`);
      else {
        print(`published version ${r.version}: the rules of version ${version}`);
        printDiff(r.diff);
      }
    });

  withServer(rules.command("backtest").argument("[paths...]", "rule files or folders", DEFAULT_PATHS))
    .description(
      "replay stored events of a window through the published rules with these files added or replacing theirs, beside the published rules alone",
    )
    .option("--from <time>", "start of a stored window (ISO 8601)")
    .option("--to <time>", "end of a stored window (ISO 8601)")
    .option("--events <file>", "replay this NDJSON stream of events instead of a stored window")
    .option("--labels <file>", 'with --events: JSON of known outcomes, { "cus-42": "confirmed_fraud" }')
    .option("--max-events <n>", "stop after this many events", positiveInt)
    .option("--remove <names...>", "published rules to leave out of the replay", [])
    .option("--timeout <seconds>", "give up waiting after this long (the job runs on)", positiveInt, 3600)
    .action(
      async (
        paths: string[],
        o: Out & {
          url?: string;
          token?: string;
          from?: string;
          to?: string;
          events?: string;
          labels?: string;
          maxEvents?: number;
          remove: string[];
          timeout: number;
        },
      ) => {
        if (!o.events && !(o.from && o.to))
          throw new CliError("give --from and --to, or --events <file.ndjson>");
        const files = loadFiles(paths, o);
        const s = server(o);
        const source = o.events
          ? { events: readNdjson(o.events), ...(o.labels ? { labels: readJson(o.labels) } : {}) }
          : { from: o.from, to: o.to };
        const started = ok(
          await call(s, "POST", "/v1/backtests", {
            rules: files,
            ...(o.remove.length > 0 ? { remove: o.remove } : {}),
            ...source,
            ...(o.maxEvents ? { maxEvents: o.maxEvents } : {}),
          }),
          o,
          [202],
        );
        const bar =
          o.json || !process.stderr.isTTY
            ? undefined
            : new SingleBar({
                format: " {bar} {value}/{total} events · ETA {eta_formatted}",
                stream: process.stderr,
              });
        let job = started;
        const deadline = Date.now() + o.timeout * 1000;
        bar?.start(Math.max(1, job.progress?.total ?? 1), 0);
        while (job.status === "queued" || job.status === "running") {
          if (Date.now() > deadline) {
            bar?.stop();
            throw new CliError(
              `backtest ${started.id} still ${job.status} after ${o.timeout} s; GET /v1/backtests/${started.id} follows it`,
            );
          }
          await new Promise((r) => setTimeout(r, 500));
          job = ok(await call(s, "GET", `/v1/backtests/${encodeURIComponent(started.id)}`), o);
          bar?.setTotal(Math.max(1, job.progress?.total ?? 1));
          bar?.update(job.progress?.done ?? 0);
        }
        bar?.stop();
        if (o.json) printJson(job);
        if (job.status !== "done") throw new CliError(`backtest ${job.id} ${job.status}: ${job.error ?? ""}`);
        if (!o.json) printBacktest(job.report);
      },
    );
  listCommands(root.command("lists").description("the named lists rules look items up in"), withServer);
  return root;
}

type ServerOpts = Out & { url?: string; token?: string };

/** `lists put | add | remove | show | list`: the named lists, against a server. */
function listCommands(lists: Command, withServer: (c: Command) => Command): void {
  const at = (name: string) => `/v1/lists/${encodeURIComponent(name)}`;
  const changed = (r: Json) =>
    r.unchanged
      ? `no change: ${r.name} is already so (version ${r.version}, ${r.size} item(s))`
      : `${r.name}: version ${r.version}, ${r.size} item(s) (+${r.added} −${r.removed})`;

  withServer(
    lists
      .command("put")
      .argument("<name>", "the list")
      .argument("<file>", "a .csv (first column) or .txt (one a line)"),
  )
    .description("replace a list (making it if new) with the items of a file")
    .option("--header", "the CSV's first line is a header", false)
    .action(async (name: string, file: string, o: ServerOpts & { header: boolean }) => {
      const csv = file.toLowerCase().endsWith(".csv");
      const type = csv ? `text/csv${o.header ? "; header=present" : ""}` : "text/plain";
      const r = ok(await call(server(o), "PUT", at(name), readText(file), type), o);
      if (o.json) printJson(r);
      else print(changed(r));
    });

  for (const [verb, key] of [
    ["add", "add"],
    ["remove", "remove"],
  ] as const) {
    withServer(lists.command(verb).argument("<name>", "the list").argument("<items...>", "items"))
      .description(`${verb} items ${verb === "add" ? "to" : "from"} a list that exists`)
      .action(async (name: string, items: string[], o: ServerOpts) => {
        const r = ok(await call(server(o), "PATCH", at(name), { [key]: items }), o);
        if (o.json) printJson(r);
        else print(changed(r));
      });
  }

  withServer(lists.command("show").argument("<name>", "the list"))
    .description("a list's items, version, the rules that use it and its latest changes")
    .action(async (name: string, o: ServerOpts) => {
      const r = ok(await call(server(o), "GET", at(name)), o);
      if (o.json) return printJson(r);
      print(`${r.name}: version ${r.version}, ${r.size} item(s), changed ${r.updatedAt} by ${r.updatedBy}`);
      print(`used by: ${r.usedBy.length > 0 ? r.usedBy.join(", ") : "no published rule"}`);
      print("");
      for (const item of r.items) print(item);
      print("");
      const some = (items: string[], n: number) =>
        items.length < n ? `${items.join(", ")} and ${n - items.length} more` : items.join(", ");
      print(
        table(
          ["version", "change", "when", "by", "added", "removed"],
          r.history.map((h: Json) => [
            String(h.version),
            h.kind,
            h.at,
            h.by,
            some(h.added, h.addedCount),
            some(h.removed, h.removedCount),
          ]),
        ),
      );
    });

  withServer(lists.command("list"))
    .description("every list with its size and version")
    .action(async (o: ServerOpts) => {
      const r = ok(await call(server(o), "GET", "/v1/lists"), o);
      if (o.json) return printJson(r);
      print(
        table(
          ["list", "items", "version", "changed", "by"],
          r.items.map((l: Json) => [l.name, String(l.size), String(l.version), l.updatedAt, l.updatedBy]),
        ),
      );
    });
}

interface Score {
  rule: string;
  mode: string;
  hits: number;
  hitRate: number;
  customers: number;
  confirmed: number;
  falseAlarms: number;
  precision: number | null;
}

function printBacktest(report: {
  events: number;
  truncated: boolean;
  publishedVersion: number;
  candidate: Score[];
  published: Score[];
  neverHit: string[];
  newlyFlagged: string[];
  noLongerFlagged: string[];
}): void {
  print(`${report.events} events replayed${report.truncated ? " (stopped at the limit)" : ""}`);
  const pct = (p: number | null) => (p === null ? "-" : `${Math.round(p * 100)}%`);
  const row = (s: Score) => [
    s.mode === "shadow" ? `${s.rule} (shadow)` : s.rule,
    String(s.hits),
    `${(s.hitRate * 100).toFixed(2)}%`,
    String(s.customers),
    String(s.confirmed),
    String(s.falseAlarms),
    pct(s.precision),
  ];
  const head = ["rule", "hits", "hit rate", "customers", "confirmed", "false alarms", "precision"];
  print("\nthe published rules with these files:");
  print(table(head, report.candidate.map(row)));
  if (report.neverHit.length > 0) print(`never hit: ${report.neverHit.join(", ")}`);
  print(`\npublished version ${report.publishedVersion}:`);
  print(table(head, report.published.map(row)));
  print(
    `\nnewly flagged customers: ${report.newlyFlagged.length}; no longer flagged: ${report.noLongerFlagged.length}`,
  );
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`touchpoint: ${err.message}\n`);
      return 1;
    }
    const code = (err as { code?: string; exitCode?: number }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help")
      return 0;
    if (typeof code === "string" && code.startsWith("commander.")) return 2;
    throw err;
  }
}
