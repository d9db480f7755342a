/**
 * Processor for queue `backtests`: one replay, its progress written as it goes (at most twice a
 * second), its report or its error written at the end. A worker that dies mid-replay leaves the
 * job to BullMQ's retry, which starts over in a clean scratch state.
 */
import type { Job } from "bullmq";
import { type BacktestSource, backtest, candidateFiles } from "../engine/backtest.ts";
import { isServiceUnavailable } from "../engine/errors.ts";
import { parseRuleFiles, rulesetOf } from "../engine/rules/schema.ts";
import { backtestProgress, finishBacktest, getBacktest, startBacktest } from "../engine/store/backtests.ts";
import { rulesetVersion } from "../engine/store/rulesets.ts";
import type { WorkerDeps } from "./pool.ts";
import type { BacktestJob } from "./queues.ts";

const PROGRESS_EVERY_MS = 500;

export function backtestProcessor(deps: WorkerDeps) {
  return async (job: Job<BacktestJob>) => {
    const { sql } = deps;
    const b = await getBacktest(sql, job.data.id, { request: true });
    if (b.status === "done" || b.status === "failed") return { status: b.status };
    await startBacktest(sql, b.id, new Date());
    try {
      const published = await rulesetVersion(sql, b.publishedVersion);
      const files = b.request.files ? parseRuleFiles(b.request.files) : [];
      const candidate = rulesetOf(candidateFiles(published.files, files, b.request.remove));
      const source: BacktestSource = b.request.events
        ? { kind: "upload", events: b.request.events, labels: b.request.labels ?? {} }
        : { kind: "window", from: new Date(b.request.from!), to: new Date(b.request.to!) };
      let last = 0;
      const report = await backtest(
        { sql, redis: deps.redis },
        {
          candidate,
          published: published.ruleset,
          source,
          maxEvents: b.request.maxEvents,
          ...(b.request.listed !== undefined ? { listed: b.request.listed } : {}),
          scratch: `${deps.keyPrefix}:bt:${b.id}`,
          onProgress: async (done, total) => {
            if (done < total && done > 0 && Date.now() - last < PROGRESS_EVERY_MS) return;
            last = Date.now();
            await backtestProgress(sql, b.id, done, total);
          },
        },
      );
      await finishBacktest(sql, b.id, { report }, new Date());
      return { status: "done", events: report.events };
    } catch (err) {
      // An outage is the pool's to wait out; anything else is this backtest's own failure, for the
      // risk team to read, and retrying it would fail the same way.
      if (isServiceUnavailable(err)) throw err;
      const error = err instanceof Error ? err.message : String(err);
      deps.log.error({ backtest: b.id, err: error }, "backtest failed");
      await finishBacktest(sql, b.id, { error }, new Date());
      return { status: "failed" };
    }
  };
}
