/**
 * Where a process's CPU went, from a V8 `.cpuprofile`: each sample is charged to a stage of the
 * pipeline by the innermost frame of touchpoint's own code on its stack (the rules, the facts,
 * the customer state, storage, cases, …), or, for callbacks with no touchpoint frame below
 * them (a socket's data parsed by the Postgres or Redis client), by the library doing the work.
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Stages in the order the bench prints them. */
export const STAGES = [
  "ingest",
  "state",
  "facts",
  "rules",
  "evaluate",
  "storage",
  "cases",
  "outreach",
  "queue",
  "reconciler",
  "logging",
  "gc",
  "other",
] as const;
export type Stage = (typeof STAGES)[number];

/** touchpoint's own files, innermost match wins. */
const OWN: Array<[RegExp, Stage]> = [
  [/\/engine\/rules\/(compile|reference)\.ts/, "rules"],
  [/\/engine\/rules\/facts\.ts|\/engine\/features\/(geo|money|places|rates)\.ts/, "facts"],
  [/\/engine\/features\/(state|memory)\.ts/, "state"],
  [/\/engine\/store\//, "storage"],
  [/\/engine\/cases\/|\/workers\/cases\.ts/, "cases"],
  [/\/engine\/outreach\/|\/workers\/(outreach|replies)\.ts/, "outreach"],
  [/\/engine\/evaluate\.ts|\/workers\/evaluate\.ts/, "evaluate"],
  [/\/workers\/reconciler\.ts/, "reconciler"],
  [/\/workers\/(pool|queues|partitions)\.ts/, "queue"],
  [/\/api\/|\/engine\/(ingest|input|events)\.ts/, "ingest"],
  [/\/engine\/log\.ts/, "logging"],
];
/** Libraries, for stacks with no touchpoint frame. */
const LIBRARIES: Array<[RegExp, Stage]> = [
  [/node_modules\/postgres\//, "storage"],
  [/node_modules\/(bullmq|ioredis|msgpackr|cluster-key-slot|redis-parser)\//, "queue"],
  [/node_modules\/(hono|@hono)\//, "ingest"],
  [/node_modules\/(pino|sonic-boom|thread-stream)\//, "logging"],
];

export interface StageCpu {
  /** Microseconds of CPU per stage (idle excluded). */
  us: Record<Stage, number>;
  /** Microseconds idle, and of the whole profile. */
  idleUs: number;
  totalUs: number;
}

export function stagesOf(profile: CpuProfile, wholeProcess?: Stage): StageCpu {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // A stage per node, computed once: the innermost own frame, else the innermost library.
  const memo = new Map<number, Stage | "idle">();
  const classify = (leaf: number): Stage | "idle" => {
    const cached = memo.get(leaf);
    if (cached) return cached;
    const name = byId.get(leaf)?.callFrame.functionName ?? "";
    let stage: Stage | "idle" | undefined;
    if (name === "(idle)") stage = "idle";
    else if (wholeProcess) stage = wholeProcess;
    else if (name === "(garbage collector)") stage = "gc";
    else {
      let library: Stage | undefined;
      for (let id: number | undefined = leaf; id !== undefined && !stage; id = parent.get(id)) {
        const url = byId.get(id)?.callFrame.url ?? "";
        if (!url) continue;
        if (!url.includes("node_modules")) stage = OWN.find(([re]) => re.test(url))?.[1];
        else library ??= LIBRARIES.find(([re]) => re.test(url))?.[1];
      }
      stage ??= library ?? "other";
    }
    memo.set(leaf, stage);
    return stage;
  };
  const us = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  let idleUs = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: the share this sample stands for.
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const stage = classify(profile.samples[i]!);
    if (stage === "idle") idleUs += dt;
    else us[stage] += dt;
  }
  return { us, idleUs, totalUs };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/** Sums several processes' stage times. */
export function addStages(a: StageCpu, b: StageCpu): StageCpu {
  const us = { ...a.us };
  for (const s of STAGES) us[s] += b.us[s];
  return { us, idleUs: a.idleUs + b.idleUs, totalUs: a.totalUs + b.totalUs };
}

/** The same shares, scaled so the non-idle total is `cpuUs` (a process's CPU time from /proc). */
export function scaledTo(s: StageCpu, cpuUs: number | undefined): StageCpu {
  const busy = STAGES.reduce((n, k) => n + s.us[k], 0);
  if (cpuUs === undefined || busy === 0) return s;
  const us = { ...s.us };
  for (const k of STAGES) us[k] = (s.us[k] / busy) * cpuUs;
  return { ...s, us };
}
