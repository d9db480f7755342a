/**
 * The `touchpoint` command as a risk analyst runs it: `node bin/touchpoint.js …` in a child
 * process, offline on rule files, and against a running touchpoint for the server commands.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStream } from "../fixtures/generator.ts";
import { loadPeopleVia } from "../fixtures/stories.ts";
import { RULES_DIR } from "../rules/index.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { LYON, tx } from "./support/payments.ts";
import { REPO } from "./support/processes.ts";

const run = promisify(execFile);

/** Runs the command; resolves with its exit code and output whatever the code. */
async function touchpoint(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(REPO, "bin/touchpoint.js"), ...args], {
      cwd: REPO,
      env: { ...process.env, TOUCHPOINT_URL: "", TOUCHPOINT_TOKEN: "", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A copy of the shipped rules in a folder of its own, to edit. */
function rulesCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
  for (const f of readdirSync(RULES_DIR).filter((f) => f.endsWith(".json"))) {
    copyFileSync(join(RULES_DIR, f), join(dir, f));
  }
  return dir;
}

const bigAtm = (operator = "greaterThanInclusive") => ({
  rule: {
    name: "big-atm-withdrawal",
    owner: "cash-team",
    conditions: {
      all: [
        { fact: "event.channel", operator: "equal", value: "atm" },
        { fact: "amount.value", operator, value: 1000 },
      ],
    },
    event: { type: "fraud.suspected", params: { severity: "high", title: "Large cash withdrawal" } },
  },
  tests: [
    { name: "1,500 at an ATM", facts: { "event.channel": "atm", "amount.value": 1500 }, fires: true },
    { name: "900 at an ATM", facts: { "event.channel": "atm", "amount.value": 900 }, fires: false },
  ],
});

describe("touchpoint rules, offline", () => {
  it("validates the shipped rules and passes their tests", async () => {
    const valid = await touchpoint(["rules", "validate"]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/5 rule file\(s\) valid/);
    const tested = await touchpoint(["rules", "test"]);
    expect(tested.code, tested.stdout).toBe(0);
    expect(tested.stdout).toMatch(
      /impossible-location-spend\s+Phnom Penh then Paris two hours later fires\s+fires\s+fires\s+pass/,
    );
    expect(tested.stdout).toMatch(/\b(\d+) passed, 0 failed/);
  });

  it("refuses a typo'd operator with a did-you-mean, naming the file, the rule and the path, and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(bigAtm("greaterthan"), null, 2));
    writeFileSync(join(dir, "broken.json"), '{ "rule": { "name": "broken", }');
    const r = await touchpoint(["rules", "validate", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `${join(dir, "big-atm-withdrawal.json")} · big-atm-withdrawal: conditions.all[1].operator: unknown operator "greaterthan"; did you mean "greaterThan"?`,
    );
    expect(r.stdout).toMatch(/broken\.json: \(file\): malformed JSON at line 1 column \d+/);
    expect(r.stdout).toContain("2 problem(s) in 2 file(s)");
  });

  it("says why a rule file's case failed, with the fact's value and what the condition wanted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
    const file = bigAtm();
    file.tests[1]!.fires = true;
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(file));
    const r = await touchpoint(["rules", "test", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL big-atm-withdrawal · 900 at an ATM");
    expect(r.stdout).toContain("amount.value was 900; wanted greaterThanInclusive 1000");
    expect(r.stdout).toContain("1 passed, 1 failed");
    const json = JSON.parse((await touchpoint(["rules", "test", dir, "--json"])).stdout);
    expect(json).toMatchObject({ passed: 1, failed: 1 });
  });

  it("reads only regular files, never repeats what is not JSON, and reports each bad file beside the good ones", async () => {
    const dir = rulesCopy();
    const secret = "root:$6$s3cr3t-hash:19000:0:99999:7:::";
    writeFileSync(join(dir, "secret.json"), `${secret}\n`);
    symlinkSync("/etc/shadow", join(dir, "shadow.json"));
    const outside = join(mkdtempSync(join(tmpdir(), "touchpoint-outside-")), "leak.json");
    writeFileSync(outside, secret);
    symlinkSync(outside, join(dir, "leak.json"));
    await run("mkfifo", [join(dir, "fifo.json")]);
    const leaf = JSON.stringify({ fact: "event.channel", operator: "equal", value: "atm" });
    const deep = `${'{"not":'.repeat(5000)}${leaf}${"}".repeat(5000)}`;
    const rule = (name: string, conditions: string) =>
      `{"rule":{"name":"${name}","conditions":{"all":[${conditions}]},"event":{"type":"fraud.suspected","params":{"severity":"low","title":"t"}}},"tests":[]}`;
    writeFileSync(join(dir, "deep.json"), rule("deep", deep));
    writeFileSync(join(dir, "huge.json"), rule("huge", `${leaf},`.repeat(40_000) + leaf));

    const tested = await touchpoint(["rules", "test", dir]);
    expect(tested.code, tested.stderr).toBe(1);
    const shipped = (await touchpoint(["rules", "test"])).stdout.match(/(\d+) passed, 0 failed/)![1];
    expect(tested.stdout).toContain(`${shipped} passed, 0 failed`);
    for (const [file, message] of [
      ["secret.json", "(file): malformed JSON: not JSON"],
      ["shadow.json", "(file): a symbolic link: rule files are read only as regular files"],
      ["leak.json", "(file): a symbolic link: rule files are read only as regular files"],
      ["fifo.json", "(file): a FIFO, not a regular file"],
    ])
      expect(tested.stdout).toContain(`${join(dir, file!)}: ${message}`);
    expect(tested.stdout).toMatch(
      /huge\.json: \(file\): 2,\d{3},\d{3} bytes; a rule file is at most 1,000,000 bytes/,
    );
    expect(tested.stdout).toMatch(/deep\.json: conditions\.all\[0\](\.not)+: nested deeper than 64 levels/);
    expect(tested.stdout).toContain("6 problem(s) in 6 file(s)");
    expect(tested.stdout + tested.stderr).not.toMatch(/s3cr3t|root:/);
    expect(tested.stderr).not.toMatch(/RangeError|at .*\.ts:\d+/);

    const validated = await touchpoint(["rules", "validate", dir, "--json"]);
    expect(validated.code).toBe(1);
    const json = JSON.parse(validated.stdout);
    expect(json).toMatchObject({
      valid: false,
      rules: expect.arrayContaining(["impossible-location-spend"]),
    });
    expect(json.issues).toHaveLength(6);
  });

  it("fails a rule file with no test cases unless --allow-untested, and refuses a team no advocate's team could be", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify({ rule: bigAtm().rule }));
    const untested = await touchpoint(["rules", "test", dir]);
    expect(untested.code).toBe(1);
    expect(untested.stdout).toContain(
      `NO TESTS big-atm-withdrawal (${join(dir, "big-atm-withdrawal.json")}): it has no test cases; add some, or pass --allow-untested`,
    );
    expect(JSON.parse((await touchpoint(["rules", "test", dir, "--json"])).stdout)).toMatchObject({
      untested: ["big-atm-withdrawal"],
    });
    const allowed = await touchpoint(["rules", "test", dir, "--allow-untested"]);
    expect(allowed.code, allowed.stdout).toBe(0);
    // Offline there are no advocates to ask: the team is held to the shape every team has, and it says so.
    const file = bigAtm();
    file.rule.event.params = { ...file.rule.event.params, team: "Fraud" } as typeof file.rule.event.params;
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(file));
    const offline = await touchpoint(["rules", "validate", dir]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toContain(
      "big-atm-withdrawal: event.params.team: lower-case team name, e.g. fraud",
    );
    expect(offline.stderr).toContain("teams not checked against the advocates (offline)");
  });

  it("lists the facts from the catalogue", async () => {
    const r = await touchpoint(["rules", "facts", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).items).toContainEqual(
      expect.objectContaining({ name: "travel.speedKmh", kind: "number", unit: "km/h" }),
    );
  });

  it("tells a person what it needs when no server is named, and a misuse exits 2", async () => {
    const r = await touchpoint(["rules", "list"], { DATA_DIR: mkdtempSync(join(tmpdir(), "tp-none-")) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/give --url and --token/);
    expect((await touchpoint(["rules", "publsh"])).code).toBe(2);
  });
});

describe("touchpoint rules, against a server", () => {
  let t: TestTouchpoint;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    await loadPeopleVia(t.api);
    env = {
      TOUCHPOINT_URL: `http://127.0.0.1:${t.tp.port}`,
      TOUCHPOINT_TOKEN: await t.token("risk", { label: "Priya" }),
    };
  });
  afterAll(() => t?.close());

  it("diffs, refuses a dropping publish, publishes one rule, lists and rolls back", async () => {
    const dir = rulesCopy();
    mkdirSync(join(dir, "one"));
    writeFileSync(join(dir, "one", "big-atm-withdrawal.json"), JSON.stringify(bigAtm()));

    const alone = await touchpoint(["rules", "publish", join(dir, "one"), "-m", "cash"], env);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toMatch(/refused: this publish would drop 5 rule\(s\)/);

    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(bigAtm()));
    const diff = await touchpoint(["rules", "diff", dir], env);
    expect(diff.stdout).toContain("+ big-atm-withdrawal (new rule)");
    const put = await touchpoint(["rules", "publish", "--one", join(dir, "one"), "-m", "cash-out ring"], env);
    expect(put.code, put.stdout).toBe(0);
    expect(put.stdout).toContain("published version 2 (was 1)");
    const again = await touchpoint(["rules", "publish", dir], env);
    expect(again.stdout).toContain("no change: version 2 already holds this");

    const list = await touchpoint(["rules", "list"], env);
    expect(list.stdout).toMatch(/big-atm-withdrawal\s+live\s+cash-team\s+high/);
    const versions = (await t.api("GET", "/v1/rulesets")).body.items;
    expect(versions[0]).toMatchObject({ version: 2, createdBy: "Priya", note: "cash-out ring" });

    const back = await touchpoint(["rules", "rollback", "1"], env);
    expect(back.stdout).toContain("published version 3: the rules of version 1");
    expect(back.stdout).toContain("- big-atm-withdrawal (removed)");
  });

  it("lists a rule made live with its live figures, not those it gathered in shadow", async () => {
    const risk = t.as(env.TOUCHPOINT_TOKEN!);
    const atmAny = (mode: string) => ({
      rule: {
        name: "any-atm",
        owner: "cash-team",
        mode,
        conditions: { all: [{ fact: "event.channel", operator: "equal", value: "atm" }] },
        event: { type: "fraud.suspected", params: { severity: "low", title: "Cash" } },
      },
    });
    expect((await risk("PUT", "/v1/rules/any-atm", atmAny("shadow"))).status).toBe(201);
    // Outside the window the backtest below replays.
    const atm = { amount: { value: 60, currency: "EUR" }, channel: "atm" } as const;
    await t.api("POST", "/v1/events", [tx("cli-atm-1", "cus-19", "2026-10-20T10:00:00Z", LYON, atm)]);
    await t.drained();
    const [seen] = await t.tp.db
      .sql`select mode from decisions where event_id = 'cli-atm-1' and rule = 'any-atm'`;
    expect(seen).toEqual({ mode: "shadow" });
    expect((await risk("PUT", "/v1/rules/any-atm", atmAny("live"))).status).toBe(201);
    const list = await touchpoint(["rules", "list"], env);
    // One shadow hit so far, none live: the live row says 0.
    expect(list.stdout).toMatch(/any-atm\s+live\s+cash-team\s+low\s+0\s+0\s+0\s+-/);
  });

  it("checks teams against the server's advocates, and refuses to publish a file whose tests fail", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
    const file = bigAtm();
    file.rule.event.params = { ...file.rule.event.params, team: "fraudd" } as typeof file.rule.event.params;
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(file));
    for (const command of ["validate", "test", "publish"]) {
      const r = await touchpoint(
        ["rules", command, "--one", dir].filter((a) => command === "publish" || a !== "--one"),
        env,
      );
      expect(r.code, command).toBe(1);
      expect(r.stdout, command).toMatch(
        /big-atm-withdrawal( ·|:) (rule\.)?event\.params\.team: no advocate is in team "fraudd"; did you mean "fraud"\?/,
      );
    }
    const failing = bigAtm();
    failing.tests[1]!.fires = true;
    writeFileSync(join(dir, "big-atm-withdrawal.json"), JSON.stringify(failing));
    const before = (await t.api("GET", "/v1/rulesets/current")).body.version;
    for (const args of [["--one"], []]) {
      const r = await touchpoint(["rules", "publish", ...args, dir], env);
      expect(r.code, args.join()).toBe(1);
      expect(r.stdout).toContain("error 422: 1 test case(s) of the rule file(s) fail; nothing was published");
      expect(r.stdout).toMatch(
        /big-atm-withdrawal · (rules\[0\]\.)?tests\[1\]: "900 at an ATM" expected it to fire; it did not: amount\.value was 900; wanted greaterThanInclusive 1000/,
      );
    }
    expect((await t.api("GET", "/v1/rulesets/current")).body.version).toBe(before);
  });

  it("puts a list from a CSV, adds and removes items, and shows it with its history", async () => {
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-lists-"));
    writeFileSync(join(dir, "merchants.csv"), 'merchant,why\n"Shop, Z",chargebacks\nShop W,card testing\n');
    const put = await touchpoint(
      ["lists", "put", "cli-merchants", join(dir, "merchants.csv"), "--header"],
      env,
    );
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toContain("cli-merchants: version 1, 2 item(s) (+2 −0)");
    const add = await touchpoint(["lists", "add", "cli-merchants", "Shop X", "Shop W"], env);
    expect(add.stdout).toContain("cli-merchants: version 2, 3 item(s) (+1 −0)");
    const remove = await touchpoint(["lists", "remove", "cli-merchants", "Shop W"], env);
    expect(remove.stdout).toContain("cli-merchants: version 3, 2 item(s) (+0 −1)");
    const show = await touchpoint(["lists", "show", "cli-merchants"], env);
    expect(show.stdout).toContain("cli-merchants: version 3, 2 item(s)");
    expect(show.stdout).toContain("\nShop X\nShop, Z\n");
    expect(show.stdout).toMatch(/3\s+patch\s+\S+\s+Priya\s+Shop W/);
    const list = await touchpoint(["lists", "list"], env);
    expect(list.stdout).toMatch(/cli-merchants\s+2\s+3/);
    const missing = await touchpoint(["lists", "add", "no-such-list", "x"], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("error 404: no list no-such-list; PUT /v1/lists/no-such-list makes it");

    // A rule naming a list the server lacks: refused with a did-you-mean, against its file.
    const rules = mkdtempSync(join(tmpdir(), "touchpoint-rules-"));
    writeFileSync(
      join(rules, "blocked.json"),
      JSON.stringify({
        rule: {
          name: "blocked",
          conditions: {
            all: [{ fact: "event", path: "$.merchant.name", operator: "inList", value: "cli-merchant" }],
          },
          event: { type: "fraud.suspected", params: { severity: "high", title: "Blocked merchant" } },
        },
        tests: [
          {
            name: "listed",
            facts: { event: { merchant: { name: "x" } } },
            lists: { "cli-merchant": ["x"] },
            fires: true,
          },
        ],
      }),
    );
    const validate = await touchpoint(["rules", "validate", rules], env);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toMatch(
      /blocked\.json · blocked: conditions\.all\[0\]\.value: unknown list "cli-merchant"; did you mean "cli-merchants"\?/,
    );
  });

  it("runs a backtest as a job, on a stored window or an uploaded NDJSON stream, and prints its report", async () => {
    const window = await touchpoint(
      ["rules", "backtest", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-30T00:00:00Z", "--json"],
      env,
    );
    expect(window.code, window.stdout + window.stderr).toBe(0);
    expect(JSON.parse(window.stdout)).toMatchObject({
      status: "done",
      report: { events: 0, truncated: false },
    });

    const stream = generateStream({ seed: 3, customers: 30, impossibleShare: 0.3, prefix: "cli" });
    const dir = mkdtempSync(join(tmpdir(), "touchpoint-bt-"));
    writeFileSync(join(dir, "events.ndjson"), stream.events.map((e) => JSON.stringify(e)).join("\n"));
    const labels = Object.fromEntries([...stream.impossible].map((c) => [c, "confirmed_fraud"]));
    writeFileSync(join(dir, "labels.json"), JSON.stringify(labels));
    const upload = await touchpoint(
      ["rules", "backtest", "--events", join(dir, "events.ndjson"), "--labels", join(dir, "labels.json")],
      env,
    );
    expect(upload.code, upload.stdout + upload.stderr).toBe(0);
    expect(upload.stdout).toContain(`${stream.events.length} events replayed`);
    expect(upload.stdout).toMatch(
      new RegExp(
        `impossible-location-spend\\s+\\d+\\s+[\\d.]+%\\s+${stream.impossible.size}\\s+${stream.impossible.size}\\s+0\\s+100%`,
      ),
    );
    expect((await touchpoint(["rules", "backtest"], env)).stderr).toMatch(
      /give --from and --to, or --events/,
    );
  });
});
