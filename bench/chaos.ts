/**
 * `npm run chaos`: the full chaos run (see test/support/chaos.ts) with its report.
 *
 *   CHAOS_CUSTOMERS=500 CHAOS_WORKERS=3 CHAOS_KILL_EVERY_MS=3000 npm run chaos
 *
 * Exits 1 when anything was lost or done twice.
 */
import { runChaos } from "../test/support/chaos.ts";

const n = (name: string, dflt: number) => Number(process.env[name] ?? dflt);

const report = await runChaos({
  seed: n("CHAOS_SEED", 11),
  customers: n("CHAOS_CUSTOMERS", 500),
  chunk: n("CHAOS_CHUNK", 50),
  workers: n("CHAOS_WORKERS", 3),
  killEveryMs: n("CHAOS_KILL_EVERY_MS", 3000),
  postgresDownMs: n("CHAOS_POSTGRES_DOWN_MS", 5000),
  recoveryTimeoutMs: n("CHAOS_RECOVERY_TIMEOUT_MS", 300_000),
});
const bad = [...Object.values(report.lost), ...Object.values(report.duplicated)].reduce((a, b) => a + b, 0);
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(
  `\n${report.events} events, ${report.kills} workers killed, ${report.stalls} stalled past their leases, Redis restarted ${report.redisRestarts.keep}× keeping data and ${report.redisRestarts.empty}× empty, Postgres restarted ${report.postgresRestarts}×: ` +
    `${bad === 0 ? "nothing lost, nothing twice" : `${bad} problems`}; ${report.cases} cases, ${report.texts} texts (${report.textsUncertain} in flight when their worker was killed: not resent, by design); recovered ${report.recoverySeconds.toFixed(1)} s after the last disruption\n`,
);
process.exit(bad === 0 ? 0 : 1);
