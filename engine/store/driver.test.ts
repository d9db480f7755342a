/**
 * The `postgres` driver survives a connection that closes while a small write is pending
 * (porsager/postgres#1208; carried as patches/postgres+3.4.9.patch until a release has the fix).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { TEST_DATABASE_URL } from "../../test/support/harness.ts";

// The crash is an uncaught TypeError from a setImmediate callback: it would kill the test worker,
// so the scenario runs in a child process and the test reads how it ended.
const scenario = `
import postgres from "postgres";
// As touchpoint does: a rejection nobody awaited is logged, not fatal. (Under load, a transaction's
// CONNECTION_CLOSED has been seen to surface once this way from the driver's own internals.)
process.on("unhandledRejection", (e) => console.error("unhandled rejection:", e && e.code));
const url = process.env.URL;
const sql = postgres(url, { max: 2, onnotice() {} });
const killer = postgres(url, { max: 1, onnotice() {} });
let pid = null;
// A transaction whose backend dies mid-query: begin() then writes its own ROLLBACK, a small write
// deferred with setImmediate, onto a connection whose socket is already gone.
const tx = sql.begin(async (t) => {
  const [row] = await t\`select pg_backend_pid() as pid\`;
  pid = row.pid;
  await t\`select pg_sleep(30)\`;
});
while (pid === null) await new Promise((r) => setTimeout(r, 20));
await killer\`select pg_terminate_backend(\${pid})\`;
const settled = await tx.then(() => "resolved", (e) => e.code);
await new Promise((r) => setTimeout(r, 300));
// The pool is still usable afterwards.
const after = await sql\`select 1 as one\`.then((r) => r[0].one, (e) => \`\${e.code} \${e.message}\`);
console.log(JSON.stringify({ settled, after }));
await Promise.all([sql.end(), killer.end()]);
`;

const inherited = `
import postgres from "postgres";
const url = process.env.URL;
const sql = postgres(url, { max: 1, onnotice() {} });
const killer = postgres(url, { max: 1, onnotice() {} });
const [{ pid }] = await sql\`select pg_backend_pid() as pid\`;
// The server ends the session (57P01, as at a shutdown) while a query is in flight.
const inFlight = sql\`select pg_sleep(30)\`.then(() => "resolved", (e) => e.code);
await new Promise((r) => setTimeout(r, 200));
await killer\`select pg_terminate_backend(\${pid})\`;
const settled = await inFlight;
const after = [];
for (let i = 0; i < 3; i++) after.push(await sql\`select 1 as one\`.then((r) => r[0].one, (e) => e.code));
console.log(JSON.stringify({ settled, after }));
await Promise.all([sql.end(), killer.end()]);
`;

// One connection: a transaction holds it, another query waits for it, the backend is killed.
const bystander = `
import postgres from "postgres";
const url = process.env.URL;
const sql = postgres(url, { max: 1, onnotice() {} });
const killer = postgres(url, { max: 1, onnotice() {} });
let pid = null;
const tx = sql
  .begin(async (t) => {
    [{ pid }] = await t\`select pg_backend_pid() as pid\`;
    await t\`select pg_sleep(30)\`;
  })
  .then(() => "resolved", (e) => e.code);
while (pid === null) await new Promise((r) => setTimeout(r, 20));
const waiting = sql\`select 2 as two\`.then((r) => r[0].two, (e) => e.code);
await new Promise((r) => setTimeout(r, 100));
await killer\`select pg_terminate_backend(\${pid})\`;
const out = { tx: await tx, bystander: await waiting };
out.after = await sql\`select 1 as one\`.then((r) => r[0].one, (e) => e.code);
console.log(JSON.stringify(out));
await Promise.all([sql.end(), killer.end()]);
`;

function run(script: string) {
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: process.cwd(),
    env: { ...process.env, URL: TEST_DATABASE_URL },
    encoding: "utf8",
    timeout: 30_000,
  });
}

describe("the postgres driver", () => {
  it("settles a transaction whose connection dies mid-query with CONNECTION_CLOSED, and stays up", () => {
    const result = run(scenario);
    expect(result.stderr).not.toContain("Cannot read properties of null");
    expect(result.status, result.stderr).toBe(0);
    // Settled either way: by the close, or by the server's own FATAL error if it arrived first.
    const out = JSON.parse(result.stdout.trim());
    expect(["CONNECTION_CLOSED", "57P01"]).toContain(out.settled);
    expect(out.after).toBe(1);
  });

  it("gives the server's FATAL error to the query in flight, not to the next connection's first query", () => {
    const result = run(inherited);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ settled: "57P01", after: [1, 1, 1] });
  });

  it("does not fail a query queued behind a transaction whose connection died", () => {
    const result = run(bystander);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ tx: "CONNECTION_CLOSED", bystander: 2, after: 1 });
  });
});
