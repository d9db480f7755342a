import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ForbiddenError } from "../engine/errors.ts";
import type { Principal, Role } from "../engine/store/postgres.ts";
import { type AuthEnv, requireRole } from "./auth.ts";

/** An app whose only route needs `roles`, reached as a principal of `role`. */
async function status(role: Role, ...roles: Role[]): Promise<number> {
  const app = new Hono<AuthEnv>();
  app.onError((err, c) => c.text(err.message, err instanceof ForbiddenError ? 403 : 500));
  app.use("*", async (c, next) => {
    c.set("principal", { tokenId: "t", role, advocateId: null, team: null } satisfies Principal);
    await next();
  });
  app.get("/", requireRole(...roles), (c) => c.text("ok"));
  return (await app.request("/")).status;
}

describe("requireRole", () => {
  it("lets in the roles named, and admin everywhere", async () => {
    expect(await status("risk", "risk")).toBe(200);
    expect(await status("advocate", "supervisor", "advocate")).toBe(200);
    expect(await status("admin", "risk")).toBe(200);
    expect(await status("admin")).toBe(200);
  });

  it("keeps every other role out, ingest included", async () => {
    const roles: Role[] = ["ingest", "risk", "advocate", "supervisor"];
    for (const needed of roles) {
      for (const role of roles.filter((r) => r !== needed)) {
        expect(await status(role, needed), `${role} on a ${needed} route`).toBe(403);
      }
    }
    expect(await status("supervisor")).toBe(403);
  });
});
