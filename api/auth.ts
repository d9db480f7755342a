/** Bearer-token authentication and role checks for every `/v1` route. */
import type { MiddlewareHandler } from "hono";
import { ForbiddenError, UnauthorizedError } from "../engine/errors.ts";
import type { Sql } from "../engine/store/database.ts";
import { type Principal, principalFor, type Role } from "../engine/store/tokens.ts";

export type AuthEnv = { Variables: { principal: Principal } };

/**
 * Caches token look-ups briefly: a revoked token stops working within `ttlMs`. Past `maxEntries`
 * tokens (a scan of made-up tokens, say) the cache starts again empty, so it stays bounded.
 */
export function authenticate(sql: Sql, ttlMs = 10_000, maxEntries = 10_000): MiddlewareHandler<AuthEnv> {
  const cache = new Map<string, { principal: Principal | undefined; at: number }>();
  return async (c, next) => {
    const header = c.req.header("authorization");
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match) throw new UnauthorizedError("missing bearer token");
    const token = match[1]!;
    const now = Date.now();
    let hit = cache.get(token);
    if (!hit || now - hit.at > ttlMs) {
      hit = { principal: await principalFor(sql, token), at: now };
      if (cache.size > maxEntries) cache.clear();
      cache.set(token, hit);
    }
    if (!hit.principal) throw new UnauthorizedError("unknown or revoked token");
    c.set("principal", hit.principal);
    await next();
  };
}

/** Lets the request through only for the given roles; `admin` can do everything. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const p = c.get("principal");
    if (p.role !== "admin" && !roles.includes(p.role)) {
      throw new ForbiddenError(`role ${p.role} may not do this; needs ${["admin", ...roles].join(" or ")}`);
    }
    await next();
  };
}
