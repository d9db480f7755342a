/**
 * `npx tsx bench/round-trip.ts`: what one statement costs Postgres before it does any work, the
 * fixed price the workers pay ~37 times a batch. A backend's CPU (/proc, user and system) for
 * statements that do almost nothing: a read, a one-row write committed alone (its WAL flushed),
 * and a transaction of three. Needs a local server; its `synchronous_commit` and `fsync` decide
 * what a commit costs.
 *
 *   npx tsx bench/round-trip.ts --database-url postgres://postgres@127.0.0.1:55432/postgres
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import postgres from "postgres";

const program = new Command("round-trip")
  .option("--database-url <url>", "a local Postgres", "postgres://postgres@127.0.0.1:5432/postgres")
  .option("--n <n>", "statements of each kind", "5000");
program.parse();
const o = program.opts();
const n = Number(o.n);

/** user and system CPU of a process, µs. */
function cpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) * 1e4, system: Number(f[12]) * 1e4 };
}

async function main() {
  const sql = postgres(o.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`create temp table if not exists rt (id int primary key, at timestamptz)`;
    await sql`insert into rt select g, null from generate_series(1, 1000) g on conflict do nothing`;
    const [b] = await sql`select pg_backend_pid() as pid`;
    const pid = Number(b!.pid);
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    const kinds: Array<[string, (i: number) => Promise<unknown>]> = [
      ["select 1", () => sql`select 1`],
      ["read 100 rows by id = any", () => sql`select id, at from rt where id = any(${ids})`],
      ["one-row update, committed alone", (i) => sql`update rt set at = now() where id = ${(i % 1000) + 1}`],
      [
        "transaction of 3 (begin, 2 updates, commit)",
        (i) =>
          sql.begin(async (tx) => {
            await tx`update rt set at = now() where id = ${(i % 1000) + 1}`;
            await tx`update rt set at = now() where id = ${((i + 500) % 1000) + 1}`;
          }),
      ],
    ];
    for (const [name, run] of kinds) {
      for (let i = 0; i < 200; i++) await run(i);
      const a = cpu(pid);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await run(i);
      const wall = performance.now() - t0;
      const z = cpu(pid);
      const us = (x: number) => (x / n).toFixed(1);
      process.stdout.write(
        `${name.padEnd(46)} Postgres ${us(z.user - a.user + z.system - a.system)} µs each (user ${us(z.user - a.user)}, system ${us(z.system - a.system)}), wall ${((wall * 1000) / n).toFixed(0)} µs\n`,
      );
    }
  } finally {
    await sql.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
