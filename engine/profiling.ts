/**
 * CPU profiles of a running process, on demand: with PROFILE_DIR set, the first SIGUSR2 starts
 * V8's sampling profiler and the next one writes `<dir>/<role>-<pid>-<n>.cpuprofile` (open it in
 * Chrome DevTools or speedscope). Nothing is sampled until asked, so it costs nothing otherwise;
 * `npm run bench` uses it to measure where each process spends its CPU per event.
 *
 * With `allocations`, the same two signals also run V8's sampling heap profiler over the same
 * span and write `<role>-<pid>-<n>.heapprofile` beside it: where the process allocated, by call
 * stack, the objects that died since included (what the young generation's collections cost, and
 * what a profile of the live heap alone would never show).
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
/** Bytes between allocation samples on average: ~3,000 samples a second at 100 MB/s. */
const ALLOCATION_INTERVAL_BYTES = 32 * 1024;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((ok, fail) =>
    session.post(method, params ?? {}, (err, result) => (err ? fail(err) : ok(result as T))),
  );
}

/** Installs the SIGUSR2 toggle; returns a function that removes it (and stops a running profile). */
export function profileOnSignal(
  dir: string,
  role: string,
  log: Logger,
  opts: { allocations?: boolean } = {},
): () => void {
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
        if (opts.allocations)
          await post(session, "HeapProfiler.startSampling", {
            samplingInterval: ALLOCATION_INTERVAL_BYTES,
            includeObjectsCollectedByMinorGC: true,
            includeObjectsCollectedByMajorGC: true,
          });
        log.info({ intervalUs: INTERVAL_US, allocations: Boolean(opts.allocations) }, "CPU profile started");
        limit = setTimeout(() => void toggle(), MAX_PROFILE_MS);
        limit.unref();
      } else {
        clearTimeout(limit);
        const { profile } = await post<{ profile: object }>(session, "Profiler.stop");
        const allocations = opts.allocations
          ? (await post<{ profile: object }>(session, "HeapProfiler.stopSampling")).profile
          : undefined;
        session.disconnect();
        session = undefined;
        const name = join(dir, `${role}-${process.pid}-${++taken}`);
        // The allocations first: whoever waits for the CPU profile finds both.
        if (allocations) await writeAside(`${name}.heapprofile`, allocations);
        await writeAside(`${name}.cpuprofile`, profile);
        log.info({ file: `${name}.cpuprofile` }, "CPU profile written");
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

/** Written aside and renamed: whoever waits for the file never reads half of it. */
async function writeAside(file: string, content: object): Promise<void> {
  await writeFile(`${file}.part`, JSON.stringify(content));
  await rename(`${file}.part`, file);
}
