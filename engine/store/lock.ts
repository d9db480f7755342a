/**
 * One process per embedded database: PGlite's data directory must never have two writers (it
 * can be corrupted). A lock file names the owning process; a second process is refused with a
 * clear message, and a lock left by a process that died is taken over.
 */
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";

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

function readOwner(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

/** The lock's owner when another live process holds it. */
export function lockOwner(path: string): LockInfo | undefined {
  const info = readOwner(path);
  return info && info.pid !== process.pid && alive(info.pid) ? info : undefined;
}

/** Writes `info` to `path` whole or not at all (a neighbour never reads half a lock). */
function writeWhole(path: string, info: LockInfo): string {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, JSON.stringify(info), { mode: 0o600 });
  return tmp;
}

/**
 * Removes a lock left by a process that died. Only the holder of a second, short-lived lock may
 * remove it, and only after reading it again under that lock, so two takers never remove each
 * other's fresh lock. A takeover lock older than 5 s belongs to a taker that died: removed.
 */
function removeStale(path: string): void {
  const guard = `${path}.takeover`;
  const tmp = writeWhole(guard, { pid: process.pid, startedAt: new Date().toISOString() });
  try {
    linkSync(tmp, guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    try {
      if (Date.now() - statSync(guard).mtimeMs > 5000) rmSync(guard, { force: true });
    } catch {}
    return;
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    const owner = readOwner(path);
    if (!owner || !alive(owner.pid)) rmSync(path, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

/**
 * Takes the lock at `path` for this process, or throws DataDirBusyError naming its owner.
 * Atomic against processes starting together: the lock appears complete (written aside, then
 * hard-linked into place, which fails if one exists), and a dead owner's lock is removed only
 * under a takeover lock (see `removeStale`).
 */
export function takeLock(path: string, what: string) {
  const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 50; attempt++) {
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // another taker's turn
    const tmp = writeWhole(path, info);
    try {
      linkSync(tmp, path);
      return {
        /** Adds what neighbours may use (the API's address, a token for the CLI). */
        update(extra: Partial<LockInfo>) {
          Object.assign(info, extra);
          renameSync(writeWhole(path, info), path);
        },
        release() {
          const owner = readOwner(path);
          if (owner?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
    const owner = readOwner(path);
    if (owner && alive(owner.pid)) {
      throw new DataDirBusyError(
        `${what} is in use by another touchpoint (pid ${owner.pid}, since ${owner.startedAt}): ` +
          "the embedded database takes one process. Stop it, go through its API, or set DATABASE_URL " +
          "to share a real Postgres.",
        owner,
      );
    }
    removeStale(path);
  }
  throw new Error(`could not take the lock ${path}`);
}
