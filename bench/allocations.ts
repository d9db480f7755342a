/**
 * Where a process allocated, from a `.heapprofile` that V8's sampling heap profiler wrote with the
 * collected objects included (engine/profiling.ts, PROFILE_ALLOCATIONS): bytes in all, and by the
 * nearest function of this repository's own on each sample's stack (a library's allocation is
 * charged to the code of ours that called it), the largest first.
 */
import { readFileSync } from "node:fs";

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

export interface Allocations {
  bytes: number;
  /** `function file` of ours → bytes, largest first. */
  byFunction: Array<{ at: string; bytes: number }>;
}

/** Sums one profile; `repo` is the repository's path, as the profile's script URLs carry it. */
export function allocationsOf(file: string, repo: string): Allocations {
  const head = (JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode }).head;
  const ours = (url: string) => url.includes(repo) && !url.includes("/node_modules/");
  const by = new Map<string, number>();
  let bytes = 0;
  const walk = (node: HeapNode, nearest: string) => {
    const { functionName, url } = node.callFrame;
    const here = ours(url)
      ? `${functionName || "(anonymous)"} ${url.slice(url.indexOf(repo) + repo.length)}`
      : nearest;
    bytes += node.selfSize;
    if (node.selfSize > 0) by.set(here, (by.get(here) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, here);
  };
  walk(head, "(no code of ours on the stack)");
  return {
    bytes,
    byFunction: [...by].map(([at, b]) => ({ at, bytes: b })).sort((a, b) => b.bytes - a.bytes),
  };
}
