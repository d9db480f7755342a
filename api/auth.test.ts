/**
 * Bearer tokens and roles on `/v1`: `requireRole` over a set principal, and `authenticate`
 * against real tokens in a fresh Postgres database, errors answered by the app's own mapping.
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../engine/log.ts";
import { openDatabase, type Sql } from "../engine/store/database.ts";
import { createToken, type Principal, type Role } from "../engine/store/tokens.ts";
import { createDatabase } from "../test/support/harness.ts";
import { type AuthEnv, authenticate, requireRole } from "./auth.ts";
import { handleError } from "./errors.ts";

const log = createLogger("silent");
const onError = (err: Error, c: Context) => handleError(err, c, log);

/** An app whose only route needs `roles`, reached as a principal of `role`. */
function roleApp(role: Role, ...roles: Role[]) {
  const app = new Hono<AuthEnv>();
  app.onError(onError);
  app.use("*", async (c, next) => {
    c.set("principal", {
      tokenId: "t",
      label: "test",
      role,
      advocateId: null,
      team: null,
    } satisfies Principal);
    await next();
  });
  app.get("/", requireRole(...roles), (c) => c.text("ok"));
  return app;
}

async function status(role: Role, ...roles: Role[]): Promise<number> {
  return (await roleApp(role, ...roles).request("/")).status;
}

describe("requireRole", () => {
  it("lets in the roles named, and admin everywhere", async () => {
    expect(await status("risk", "risk")).toBe(200);
    expect(await status("advocate", "supervisor", "advocate")).toBe(200);
    expect(await status("supervisor", "supervisor", "advocate")).toBe(200);
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

  it("runs the route for a role let in", async () => {
    const res = await roleApp("risk", "risk").request("/");
    expect(await res.text()).toBe("ok");
  });

  it("answers a refused role 403 forbidden, naming the role and the roles that may", async () => {
    const res = await roleApp("ingest", "risk", "supervisor").request("/");
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(await res.json()).toEqual({
      error: { code: "forbidden", message: "role ingest may not do this; needs admin or risk or supervisor" },
    });
  });
});

describe("authenticate (real tokens in Postgres)", () => {
  let database: { url: string; drop(): Promise<void> };
  let sql: Sql;
  let close: () => Promise<void>;
  const tokens = {} as Record<Role, { id: string; token: string }>;

  beforeAll(async () => {
    database = await createDatabase();
    const db = await openDatabase({ url: database.url, dataDir: "unused", max: 2 });
    sql = db.sql;
    close = db.close;
    for (const role of ["ingest", "risk", "advocate", "supervisor", "admin"] as const) {
      tokens[role] = await createToken(sql, { role, label: `${role} test token` });
    }
  });

  afterAll(async () => {
    await close?.();
    await database?.drop();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /** `/v1/risk` needs risk, `/v1/who` any token; answers with the principal it saw. */
  function v1(ttlMs?: number, maxEntries?: number) {
    const app = new Hono<AuthEnv>();
    app.onError(onError);
    app.use("/v1/*", authenticate(sql, ttlMs, maxEntries));
    app.get("/v1/who", (c) => c.json(c.get("principal")));
    app.get("/v1/risk", requireRole("risk"), (c) => c.text("risk ok"));
    return app;
  }

  const get = (app: Hono<AuthEnv>, authorization?: string, path = "/v1/who") =>
    app.request(path, authorization === undefined ? {} : { headers: { authorization } });

  async function expectUnauthorized(res: Response, message: string) {
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="touchpoint"');
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message } });
  }

  async function revoke(id: string) {
    await sql`update api_tokens set revoked_at = now() where id = ${id}`;
  }

  async function freshToken(role: Role) {
    return createToken(sql, { role });
  }

  it("lets a live token in and hands the route its principal", async () => {
    const res = await get(v1(), `Bearer ${tokens.risk.token}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      tokenId: tokens.risk.id,
      label: "risk test token",
      role: "risk",
      advocateId: null,
      team: null,
    });
  });

  it("answers a request without an Authorization header 401, asking for a bearer token", async () => {
    await expectUnauthorized(await get(v1()), "missing bearer token");
  });

  it("refuses another scheme, an empty token, or anything around the token", async () => {
    const app = v1();
    const t = tokens.admin.token;
    for (const header of [
      `Basic ${t}`,
      t,
      "Bearer",
      "Bearer ",
      `xBearer ${t}`,
      `Bearer ${t} extra`,
      `Bearer:${t}`,
    ]) {
      await expectUnauthorized(await get(app, header), "missing bearer token");
    }
  });

  it("accepts the scheme in any case, with extra spaces before and after the token", async () => {
    const app = v1();
    const t = tokens.risk.token;
    for (const header of [`bearer ${t}`, `BEARER ${t}`, `Bearer   ${t}`, `Bearer\t${t}`, `Bearer ${t}  `]) {
      expect((await get(app, header)).status, JSON.stringify(header)).toBe(200);
    }
  });

  it("answers an unknown token 401", async () => {
    await expectUnauthorized(await get(v1(), "Bearer tp_not-a-token"), "unknown or revoked token");
  });

  it("answers a token revoked before its first use 401", async () => {
    const { id, token } = await freshToken("admin");
    await revoke(id);
    await expectUnauthorized(await get(v1(), `Bearer ${token}`), "unknown or revoked token");
  });

  it("tells 401 (who are you?) from 403 (not for you): a risk token is refused only where risk may not go", async () => {
    const app = new Hono<AuthEnv>();
    app.onError(onError);
    app.use("/v1/*", authenticate(sql));
    app.get("/v1/cases", requireRole("supervisor", "advocate"), (c) => c.text("cases"));
    const forbidden = await get(app, `Bearer ${tokens.risk.token}`, "/v1/cases");
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({
      error: {
        code: "forbidden",
        message: "role risk may not do this; needs admin or supervisor or advocate",
      },
    });
    expect((await get(app, "Bearer nobody", "/v1/cases")).status).toBe(401);
    expect((await get(app, `Bearer ${tokens.advocate.token}`, "/v1/cases")).status).toBe(200);
  });

  it("checks each role's token against the route's roles, admin passing every check", async () => {
    const app = v1();
    for (const role of ["ingest", "advocate", "supervisor"] as const) {
      expect((await get(app, `Bearer ${tokens[role].token}`, "/v1/risk")).status, role).toBe(403);
    }
    for (const role of ["risk", "admin"] as const) {
      const res = await get(app, `Bearer ${tokens[role].token}`, "/v1/risk");
      expect(res.status, role).toBe(200);
      expect(await res.text()).toBe("risk ok");
    }
  });

  describe("a revoked token", () => {
    it("keeps working from the cache for up to ttlMs, then stops", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.parse("2026-11-20T12:00:00Z"));
      const start = Date.now();
      const app = v1(5_000);
      const { id, token } = await freshToken("risk");
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      await revoke(id);
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      vi.setSystemTime(start + 5_000);
      expect((await get(app, `Bearer ${token}`)).status, "exactly ttlMs later").toBe(200);
      vi.setSystemTime(start + 5_001);
      await expectUnauthorized(await get(app, `Bearer ${token}`), "unknown or revoked token");
    });

    it("stops within 10 s by default", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.parse("2026-11-20T12:00:00Z"));
      const start = Date.now();
      const app = v1();
      const { id, token } = await freshToken("risk");
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      await revoke(id);
      vi.setSystemTime(start + 10_000);
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      vi.setSystemTime(start + 10_001);
      expect((await get(app, `Bearer ${token}`)).status).toBe(401);
    });

    it("stays cached while other tokens are looked up", async () => {
      const app = v1(60_000);
      const { id, token } = await freshToken("risk");
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      expect((await get(app, `Bearer ${tokens.ingest.token}`)).status).toBe(200);
      expect((await get(app, "Bearer someone-else")).status).toBe(401);
      await revoke(id);
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
    });

    it("stops at once when over its bound of tokens have been looked up and the cache is emptied", async () => {
      const app = v1(60 * 60_000, 50);
      const { id, token } = await freshToken("risk");
      expect((await get(app, `Bearer ${token}`)).status).toBe(200);
      // 49 more tokens fill the cache to exactly 50: not yet over the bound.
      for (let i = 1; i < 50; i++) await get(app, `Bearer filler-${i}`);
      await revoke(id);
      await get(app, "Bearer filler-50");
      expect((await get(app, `Bearer ${token}`)).status, "51 cached").toBe(200);
      await get(app, "Bearer filler-51");
      expect((await get(app, `Bearer ${token}`)).status, "cache emptied").toBe(401);
    });
  });
});
