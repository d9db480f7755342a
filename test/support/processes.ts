/**
 * touchpoint as separate processes, for the suites that kill, restart or outlive them: a free
 * port, a child `main.ts` with the environment given, and a wait until it listens.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { eventually } from "../../fixtures/stories.ts";

export { freePort } from "../../engine/store/database.ts";

export const REPO = new URL("../..", import.meta.url).pathname;

export interface TouchpointProcess {
  child: ChildProcess;
  /** What it wrote on stderr so far (its last 20,000 characters). */
  stderr(): string;
}

/**
 * Starts `main.ts` with exactly `env` (and PATH, and a retention of ten years unless `env` says:
 * suites send fixed dates, see harness.ts); stderr is kept, and echoed when CHILD_LOG_LEVEL is set.
 */
export function spawnTouchpoint(env: Record<string, string>): TouchpointProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: REPO,
    env: { PATH: process.env.PATH, EVENT_RETENTION_DAYS: "3650", ...env },
    stdio: ["ignore", process.env.CHILD_LOG_LEVEL ? "inherit" : "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-20_000);
    if (process.env.CHILD_LOG_LEVEL) process.stderr.write(d);
  });
  return { child, stderr: () => stderr };
}

/**
 * A `ROLE=workers` process on a database and key prefix shared with the test's API process, on the
 * test Redis, quiet but for warnings; `env` adds or overrides variables.
 */
export function spawnWorkers(
  shared: { databaseUrl: string; prefix: string; redisUrl: string },
  env: Record<string, string> = {},
): TouchpointProcess {
  return spawnTouchpoint({
    ROLE: "workers",
    DATABASE_URL: shared.databaseUrl,
    REDIS_URL: shared.redisUrl,
    REDIS_PREFIX: shared.prefix,
    SEED_FIXTURES: "0",
    LOG_LEVEL: "warn",
    ...env,
  });
}

/** Resolves once `base`/healthz answers 200. */
export async function untilListening(base: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    () =>
      fetch(`${base}/healthz`).then(
        (r) => (r.ok ? true : undefined),
        () => undefined,
      ),
    timeoutMs,
    `touchpoint to listen at ${base}`,
  );
}

/** True while the child has neither exited nor been killed. */
export const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
