/**
 * The Rules page's form: a risk analyst pastes or uploads one rule file and validates it, runs its
 * own cases, backtests it against the published rules, or publishes it, from the desk. Each step is
 * the API's own (`POST /v1/rulesets/validate`, `/test`, `POST /v1/backtests`, `PUT /v1/rules/:name`),
 * so its errors are the same: every problem at once, each with its JSON path and a did-you-mean.
 * Plain HTML forms: it works without a script, and posts go through the desk's same-origin check.
 */
import type { Context } from "hono";
import type { FC } from "hono/jsx";
import { ConflictError, jsonPath, ValidationError } from "../../engine/errors.ts";
import { checkRuleFileText } from "../../engine/rules/files.ts";
import { inAuthorsOrder } from "../../engine/rules/key-order.ts";
import { parseRuleFile, type RuleFile } from "../../engine/rules/schema.ts";
import { describeFailure, type RuleTestResult, runRuleTests } from "../../engine/rules/testing.ts";
import type { Sql } from "../../engine/store/database.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import type { Queues } from "../../workers/queues.ts";
import { backtestBody, queueBacktest } from "../routes/backtests.ts";
import { known, listsFor, putRuleFile, type Told } from "../routes/rules.ts";

/** Who may change rules from the desk: as on the API, the risk team (and admins). */
export const mayEditRules = (p: Principal) => p.role === "risk" || p.role === "admin";

/** The desk's body limit (api/app.ts) bounds an upload: said on the form. */
const UPLOAD_LIMIT = "60 KB";

export type RuleAction = "validate" | "test" | "backtest" | "publish";

export interface FormState {
  text: string;
  from: string;
  to: string;
  note: string;
  /** What the last action found: problems, test results, or a word of success. */
  issues?: Array<{ path: string; message: string; rule?: string | undefined }>;
  heading?: string;
  tests?: RuleTestResult[];
  /** "1 of 2 failed", when some of its own cases fail. */
  testsFailed?: string;
  ok?: string;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** The form as first shown: empty, backtesting the last 30 days. */
export function blankForm(now: Date): FormState {
  return { text: "", from: day(new Date(now.getTime() - 30 * 86_400_000)), to: day(now), note: "" };
}

export const RuleForm: FC<{ s: FormState }> = ({ s }) => (
  <div class="card" id="try">
    <h2>Try a rule file</h2>
    {s.issues && s.issues.length > 0 ? (
      <div class="attention" role="alert" id="rule-issues">
        <p>{s.heading}</p>
        <ul>
          {s.issues.map((i) => (
            <li>
              <code>{i.path}</code>
              {i.rule ? ` (${i.rule})` : ""}: {i.message}
            </li>
          ))}
        </ul>
      </div>
    ) : null}
    {s.ok ? (
      <p class="ok" role="status" id="rule-ok">
        {s.ok}
      </p>
    ) : null}
    {s.testsFailed ? (
      <p class="warn" role="alert" id="rule-tests-failed">
        {s.testsFailed}
      </p>
    ) : null}
    {s.tests && s.tests.length > 0 ? (
      <ul id="rule-tests">
        {s.tests.map((r) => (
          <li>
            <b class={r.pass ? "ok" : "warn"}>{r.pass ? "PASS" : "FAIL"}</b> {r.test}
            {r.pass ? "" : ` — ${describeFailure(r)}`}
          </li>
        ))}
      </ul>
    ) : null}
    <form method="post" action="/desk/rules#try" enctype="multipart/form-data">
      <label for="rule-file">Rule file (JSON: {"{ rule, tests }"})</label>
      <textarea id="rule-file" name="file" rows={14} spellcheck={false} aria-describedby="rule-file-hint">
        {s.text}
      </textarea>
      <p class="muted small" id="rule-file-hint">
        Paste it, or upload it below (up to {UPLOAD_LIMIT}); an upload wins over the box.
      </p>
      <label for="rule-upload">Upload a rule file</label>
      <input type="file" id="rule-upload" name="upload" accept=".json,application/json" />
      <fieldset>
        <legend>Backtest window (UTC days, both included)</legend>
        <label for="bt-from">From</label>
        <input type="date" id="bt-from" name="from" value={s.from} />
        <label for="bt-to">To</label>
        <input type="date" id="bt-to" name="to" value={s.to} />
      </fieldset>
      <label for="publish-note">Why (recorded with the version when you publish)</label>
      <input type="text" id="publish-note" name="note" value={s.note} maxlength={2000} />
      <p class="actions">
        <button type="submit" name="do" value="validate">
          Validate
        </button>{" "}
        <button type="submit" name="do" value="test">
          Run its tests
        </button>{" "}
        <button type="submit" name="do" value="backtest">
          Backtest
        </button>{" "}
        <button class="primary" type="submit" name="do" value="publish">
          Publish
        </button>
      </p>
    </form>
  </div>
);

/** What an action led to: the form again (with its findings), or a page to go to. */
export type Outcome = { form: FormState } | { redirect: string };

const asText = (v: unknown) => (typeof v === "string" ? v : "");

/**
 * Runs the form's action. A file that does not parse, or breaks a rule of the schema, stops every
 * action with the problems the CLI and the API report; the API's own checks (teams, tests,
 * backtest requests) follow as they do there.
 */
export async function runRuleForm(
  c: Context,
  deps: { sql: Sql; queues: Pick<Queues, "backtests">; told: Told },
): Promise<Outcome> {
  const body = await c.req.parseBody();
  const upload = body.upload;
  const uploaded = upload instanceof File && upload.size > 0 ? await upload.text() : undefined;
  const s: FormState = {
    text: uploaded ?? asText(body.file),
    from: asText(body.from),
    to: asText(body.to),
    note: asText(body.note).trim(),
  };
  const action = asText(body.do) as RuleAction;
  const failed = (heading: string, issues: FormState["issues"]): Outcome => ({
    form: { ...s, heading, issues },
  });
  if (s.text.trim() === "")
    return failed("Nothing to check", [{ path: "(file)", message: "paste or upload a rule file" }]);

  // The CLI's reading of a file's text (malformed JSON with its line and column, depth, text),
  // then the API's check of the rule against this deployment (teams).
  const name = uploaded && upload instanceof File ? upload.name : "(pasted)";
  const read = checkRuleFileText(name, s.text);
  if (!read.parsed) return failed("The file has problems; nothing was done", read.issues);
  let file: RuleFile;
  try {
    const raw: unknown = JSON.parse(s.text);
    file = inAuthorsOrder(parseRuleFile(raw, await known(deps.sql)), raw);
  } catch (err) {
    if (err instanceof ValidationError) return failed("The file has problems; nothing was done", err.issues);
    throw err;
  }

  try {
    switch (action) {
      case "validate":
        return { form: { ...s, ok: `Valid: ${file.rule.name} (${file.rule.mode}).` } };
      case "test": {
        // Its cases see the server's lists, as POST /v1/rulesets/test runs them.
        const tests = await runRuleTests([file], await listsFor(deps.sql, [file]));
        const failing = tests.filter((t) => !t.pass).length;
        return {
          form: {
            ...s,
            tests,
            ...(tests.length === 0
              ? { ok: `${file.rule.name} has no test cases.` }
              : failing === 0
                ? { ok: `${tests.length} passed.` }
                : { testsFailed: `${failing} of ${tests.length} failed` }),
          },
        };
      }
      case "backtest": {
        const from = Date.parse(`${s.from}T00:00:00Z`);
        const to = Date.parse(`${s.to}T00:00:00Z`) + 86_400_000;
        const checked = backtestBody.safeParse({
          rules: [file],
          from: Number.isNaN(from) ? s.from : new Date(from).toISOString(),
          to: Number.isNaN(to) ? s.to : new Date(to).toISOString(),
        });
        if (!checked.success)
          return failed(
            "The backtest was not started",
            checked.error.issues.map((i) => ({ path: jsonPath(i.path) || "(form)", message: i.message })),
          );
        const id = await queueBacktest(deps.sql, deps.queues, c.get("principal") as Principal, checked.data);
        // A fragment of its own: the browser would otherwise keep the form's #try.
        return { redirect: `/desk/rules/backtests/${id}#main` };
      }
      case "publish": {
        const r = await putRuleFile(
          deps.sql,
          deps.told,
          file,
          c.get("principal") as Principal,
          s.note || undefined,
        );
        return {
          redirect: `/desk/rules/${file.rule.name}?${r.unchanged ? "unchanged" : "published"}=${r.version}#main`,
        };
      }
      default:
        return failed("Choose what to do", [
          { path: "(form)", message: "validate, test, backtest or publish" },
        ]);
    }
  } catch (err) {
    // The API's refusals, shown as it words them: failing cases (422), a request it will not take.
    if (err instanceof ValidationError)
      return failed(
        err.message,
        err.issues.length > 0 ? err.issues : [{ path: "(file)", message: err.message }],
      );
    if (err instanceof ConflictError) return failed(err.message, [{ path: "(file)", message: err.message }]);
    throw err;
  }
}
