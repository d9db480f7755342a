/**
 * The machine a bench ran on, and the counters it reads around a run: CPU time of the
 * Postgres and Redis servers (from /proc and INFO, so their share of the two cores is counted),
 * and a process's resident memory.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cpus, hostname, release, totalmem } from "node:os";
import type { Redis } from "ioredis";
import type postgres from "postgres";

export interface Machine {
  host: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  /** Whether the cluster runs autovacuum: without it, no table of the bench's fresh database is ever analysed. */
  autovacuum: boolean;
  redis: string;
}

export async function describeMachine(sql: postgres.Sql, redis: Redis): Promise<Machine> {
  const [v] = await sql`show server_version`;
  const [av] = await sql`show autovacuum`;
  const info = await redis.info("server");
  return {
    host: hostname(),
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postgres: String(v?.server_version ?? "unknown"),
    autovacuum: av?.autovacuum === "on",
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
  };
}

let tick: number | undefined;
function clockTick(): number {
  if (tick === undefined) {
    try {
      tick = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      tick = 100;
    }
  }
  return tick;
}

/** utime + stime (+ reaped children's, when asked) of one process, µs; undefined when it is gone. */
export function processCpuUs(pid: number, withChildren = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks / clockTick()) * 1e6;
  } catch {
    return undefined;
  }
}

/** The parent of a process, from /proc; undefined when it is gone or not ours to read. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The postmaster of the cluster `sql` talks to, when it runs on this machine: the parent of the
 * connection's backend. Undefined for a remote server (its backend's pid is not ours).
 */
export async function postmasterPid(sql: postgres.Sql): Promise<number | undefined> {
  const [r] = await sql`select pg_backend_pid() as pid`;
  const backend = Number(r?.pid);
  const parent = parentPid(backend);
  if (parent === undefined) return undefined;
  try {
    return readFileSync(`/proc/${parent}/comm`, "utf8").trim() === "postgres" ? parent : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU of local Postgres processes, µs, exited backends included (the postmaster reaps them into
 * its children's time). With `postmaster`, that cluster's alone (the postmaster and its children):
 * on a machine where other runs use other clusters, or other databases on the same cluster's
 * postmaster, theirs is not this run's, though the latter cannot be told apart. Without it, every
 * process named postgres. Undefined when Postgres is not a local process we can read.
 */
export function postgresCpuUs(postmaster?: number): number | undefined {
  let sum = 0;
  let found = false;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm !== "postgres") continue;
    const pid = Number(entry);
    if (postmaster !== undefined && pid !== postmaster && parentPid(pid) !== postmaster) continue;
    const us = processCpuUs(pid, true);
    if (us === undefined) continue;
    found = true;
    sum += us;
  }
  return found ? sum : undefined;
}

/** Redis's own CPU (main and I/O threads, and children), µs. */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (
    (field("used_cpu_sys") +
      field("used_cpu_user") +
      field("used_cpu_sys_children") +
      field("used_cpu_user_children")) *
    1e6
  );
}

/**
 * The whole machine's CPU time from /proc/stat, µs: busy (everything but idle and I/O wait) and
 * all. Two readings give how busy the cores were between them, whoever kept them busy.
 */
export function machineCpuUs(): { busy: number; all: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    // cpu user nice system idle iowait irq softirq steal (guest time is already in user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const all = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: ((all - idle) / clockTick()) * 1e6, all: (all / clockTick()) * 1e6 };
  } catch {
    return undefined;
  }
}

/** Resident memory of a process, bytes; undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Local TCP ports of a process's sockets (IPv4 and IPv6), from its descriptors and /proc/net. */
function localPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {}
    }
  } catch {
    return new Set();
  }
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9]!)) ports.add(Number.parseInt(f[1]!.split(":")[1]!, 16));
    }
  }
  return ports;
}

/** postgresCpuByProcess's name for backends serving none of its clients (the bench's own, other runs'). */
export const OTHER_BACKENDS = "backends of others (the bench, other clients)";

/**
 * CPU so far of each process of a local cluster, µs, by what it serves: a backend of one of
 * `clients` (matched by the client port in its process title against the client's sockets), any
 * other backend, each background process by its title (walwriter, checkpointer, …), and the
 * postmaster with the backends it reaped. Two readings tell where Postgres's CPU went.
 */
export function postgresCpuByProcess(
  postmaster: number,
  clients: ReadonlyArray<{ pid: number; name: string }>,
): Map<number, { what: string; us: number }> {
  const portOwner = new Map<number, string>();
  for (const c of clients) for (const p of localPorts(c.pid)) portOwner.set(p, c.name);
  const out = new Map<number, { what: string; us: number }>();
  const pm = processCpuUs(postmaster, true);
  if (pm !== undefined) out.set(postmaster, { what: "postmaster (+ exited backends)", us: pm });
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (parentPid(pid) !== postmaster) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue;
    }
    const us = processCpuUs(pid, true);
    if (us === undefined) continue;
    const port = /\((\d+)\)/.exec(title)?.[1];
    const what =
      port !== undefined
        ? portOwner.has(Number(port))
          ? `backends of ${portOwner.get(Number(port))}`
          : OTHER_BACKENDS
        : title.replace(/^postgres:\s*/, "").replace(/^\S+\/\S+:\s*/, "");
    out.set(pid, { what, us });
  }
  return out;
}

/** Two readings of postgresCpuByProcess as µs by what, most first. */
export function postgresCpuSplit(
  a: ReadonlyMap<number, { what: string; us: number }>,
  b: ReadonlyMap<number, { what: string; us: number }>,
): Array<{ what: string; us: number }> {
  const sums = new Map<string, number>();
  for (const [pid, r] of b) sums.set(r.what, (sums.get(r.what) ?? 0) + r.us - (a.get(pid)?.us ?? 0));
  return [...sums].map(([what, us]) => ({ what, us })).sort((x, y) => y.us - x.us);
}
