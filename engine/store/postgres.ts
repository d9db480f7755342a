/**
 * Transition barrel (issue 26): the Postgres adapter now lives in one module per concept beside
 * this file. Branches written against `./postgres.ts` keep compiling through these re-exports;
 * remove this file once they have landed and their imports name the modules themselves.
 */

// The routing that the store used to do is the engine's now; re-exported for the same callers.
export * from "../cases/assign.ts";
export * from "../cases/intake.ts";
export * from "./audit.ts";
export * from "./case-views.ts";
export * from "./cases.ts";
export type { Q } from "./database.ts";
export * from "./decisions.ts";
export * from "./events.ts";
export * from "./people.ts";
export * from "./sessions.ts";
export * from "./timeline.ts";
export * from "./tokens.ts";
