/**
 * A Postgres server of our own (initdb into a temporary directory, `postgres` as a child process
 * on a free port) that a test or the chaos run may stop and start again, as an operator's restart
 * or a failover would, without touching the machine's own cluster.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../engine/store/database.ts";

export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** True while the server process runs. */
  running(): boolean;
  /** Stops the server: `fast` (SIGINT: sessions are ended, as `pg_ctl stop -m fast`) or `immediate` (SIGQUIT). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/** The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin), or PG_BIN. */
export function postgresBinDir(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], "bin") : undefined;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      ok(true);
    });
    s.once("error", () => ok(false));
  });
}

/** Postgres refuses to run as root: as root, its processes run as the `postgres` user. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || uid <= 0) throw new Error("running as root, but there is no `postgres` user");
  return { uid, gid };
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no Postgres server binaries found (install Debian's postgresql, or set PG_BIN)");
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const user = postgresUser();
  if (user.uid !== undefined) spawnSync("chown", [`${user.uid}:${user.gid}`, dir]);
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
    { encoding: "utf8", ...user },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
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
      { stdio: ["ignore", "ignore", "pipe"], ...user },
    );
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + String(d)).slice(-4000);
    });
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`postgres exited at start: ${stderr}`);
      const ready = spawnSync(join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port), "-q"]);
      if (ready.status === 0 && (await accepts(port))) return;
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
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    running: () => Boolean(child && child.exitCode === null && child.signalCode === null),
    stop,
    start,
    async destroy() {
      await stop("immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
