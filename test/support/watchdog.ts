/**
 * A watchdog for the servers a test run starts for itself: a detached process that holds a pipe
 * from the run and, when the pipe closes without being disarmed (the run crashed, was killed or
 * was interrupted), stops each server and removes its directory. Run as a script, it is the
 * watchdog; imported, `startWatchdog` starts one.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";

/** A server to stop and a directory to remove should the run die first. */
export interface Guarded {
  pid: number;
  /** How to stop it: Postgres takes SIGQUIT (immediate: its data goes anyway), Redis SIGKILL. */
  signal: NodeJS.Signals;
  dir: string;
}

export interface Watchdog {
  guard(g: Guarded): void;
  /** The run cleaned up itself: end the watchdog without it doing anything. */
  disarm(): void;
}

const self = fileURLToPath(import.meta.url);
const repo = fileURLToPath(new URL("../..", import.meta.url));

export function startWatchdog(): Watchdog {
  // Detached (a process group of its own), so the Ctrl-C or group kill that ends the run spares it.
  const child = spawn(process.execPath, ["--import", "tsx", self], {
    cwd: repo,
    detached: true,
    stdio: ["pipe", "ignore", "inherit"],
  });
  child.unref();
  const pipe = child.stdin as Socket;
  pipe.unref();
  pipe.on("error", () => {});
  return {
    guard: (g) => pipe.write(`${JSON.stringify(g)}\n`),
    disarm: () => {
      pipe.end(`${JSON.stringify({ disarm: true })}\n`);
    },
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function watch(): Promise<void> {
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, () => {});
  const guarded: Guarded[] = [];
  let disarmed = false;
  let buffered = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = JSON.parse(buffered.slice(0, nl)) as Guarded | { disarm: true };
      buffered = buffered.slice(nl + 1);
      if ("disarm" in line) disarmed = true;
      else guarded.push(line);
    }
  }
  if (disarmed) return;
  for (const g of guarded) {
    if (alive(g.pid)) process.kill(g.pid, g.signal);
    for (let i = 0; i < 100 && alive(g.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(g.pid)) process.kill(g.pid, "SIGKILL");
    rmSync(g.dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === self) await watch();
