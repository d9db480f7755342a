/**
 * A run on a timer in every worker process: one at a time (a tick while the last run is busy is
 * skipped), the first soon after start, a failure logged and left to the next run. `stop` waits
 * for a run under way.
 */
import type { Logger } from "../engine/log.ts";

export function everyMs(o: {
  run: () => Promise<unknown>;
  everyMs: number;
  firstAfterMs: number;
  log: Logger;
  /** What the log says when a run fails. */
  failed: string;
}): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  let stopped = false;
  const tick = () => {
    if (stopped || busy) return;
    busy = true;
    running = o
      .run()
      .catch((err) => o.log.warn({ err: err instanceof Error ? err.message : String(err) }, o.failed))
      .finally(() => {
        busy = false;
      });
  };
  const first = setTimeout(tick, o.firstAfterMs);
  const timer = setInterval(tick, o.everyMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
