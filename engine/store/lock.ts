/**
 * One process per embedded database: PGlite's data directory must never have two writers (it
 * can be corrupted). A lock file names the owning process; a second process is refused with a
 * clear message, and a lock left by a process that died is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";

export class DataDirBusyError extends Error {
  override readonly name = "DataDirBusyError";
  constructor(
    message: string,
    /** What the owner wrote for its neighbours (its pid, and where its API listens). */
    readonly owner: LockInfo,
  ) {
    super(message);
  }
}

export interface LockInfo {
  pid: number;
  startedAt: string;
  /** Where the owner's API listens, once it does, for tools that must go through it. */
  url?: string;
  /** A short-lived admin token for those tools, readable only by this user (file mode 0600). */
  token?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock's owner when a live process holds it. */
export function lockOwner(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    return typeof info.pid === "number" && info.pid !== process.pid && alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock at `path` for this process, or throws DataDirBusyError naming its owner. */
export function takeLock(path: string, what: string) {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
      writeFileSync(fd, JSON.stringify(info));
      closeSync(fd);
      return {
        /** Adds what neighbours may use (the API's address, a token for the CLI). */
        update(extra: Partial<LockInfo>) {
          Object.assign(info, extra);
          writeFileSync(path, JSON.stringify(info), { mode: 0o600 });
        },
        release() {
          if (lockOwner(path) === undefined) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = lockOwner(path);
      if (owner) {
        throw new DataDirBusyError(
          `${what} is in use by another touchpoint (pid ${owner.pid}, since ${owner.startedAt}): ` +
            "the embedded database takes one process. Stop it, go through its API, or set DATABASE_URL " +
            "to share a real Postgres.",
          owner,
        );
      }
      rmSync(path, { force: true }); // left by a process that died: take it over
    }
  }
  throw new Error(`could not take the lock ${path}`);
}
