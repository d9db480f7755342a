/**
 * CPU profiles of a running process, on demand: with PROFILE_DIR set, the first SIGUSR2 starts
 * V8's sampling profiler and the next one writes `<dir>/<role>-<pid>-<n>.cpuprofile` (open it in
 * Chrome DevTools or speedscope). Nothing is sampled until asked, so it costs nothing otherwise;
 * `npm run bench` uses it to measure where each process spends its CPU per event.
 */
import { mkdirSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { Session } from "node:inspector";
import { join } from "node:path";
import type { Logger } from "./log.ts";

/** Sampling interval, µs: fine enough for µs-per-event figures over a run of seconds. */
const INTERVAL_US = 500;
/** A profile nobody stopped stops itself after this long (its samples grow in memory), ms. */
const MAX_PROFILE_MS = 15 * 60_000;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((ok, fail) =>
    session.post(method, params ?? {}, (err, result) => (err ? fail(err) : ok(result as T))),
  );
}

/** Installs the SIGUSR2 toggle; returns a function that removes it (and stops a running profile). */
export function profileOnSignal(dir: string, role: string, log: Logger): () => void {
  let session: Session | undefined;
  let taken = 0;
  let busy = false;
  let limit: NodeJS.Timeout | undefined;
  mkdirSync(dir, { recursive: true });
  const toggle = async () => {
    if (busy) return;
    busy = true;
    try {
      if (!session) {
        session = new Session();
        session.connect();
        await post(session, "Profiler.enable");
        await post(session, "Profiler.setSamplingInterval", { interval: INTERVAL_US });
        await post(session, "Profiler.start");
        log.info({ intervalUs: INTERVAL_US }, "CPU profile started");
        limit = setTimeout(() => void toggle(), MAX_PROFILE_MS);
        limit.unref();
      } else {
        clearTimeout(limit);
        const { profile } = await post<{ profile: object }>(session, "Profiler.stop");
        session.disconnect();
        session = undefined;
        // Written aside and renamed: whoever waits for the file never reads half of it.
        const file = join(dir, `${role}-${process.pid}-${++taken}.cpuprofile`);
        await writeFile(`${file}.part`, JSON.stringify(profile));
        await rename(`${file}.part`, file);
        log.info({ file }, "CPU profile written");
      }
    } catch (err) {
      log.error({ err: String(err) }, "CPU profile failed");
      session?.disconnect();
      session = undefined;
    } finally {
      busy = false;
    }
  };
  const onSignal = () => void toggle();
  process.on("SIGUSR2", onSignal);
  return () => {
    process.off("SIGUSR2", onSignal);
    session?.disconnect();
    session = undefined;
  };
}
