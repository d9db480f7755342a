/**
 * Finding a case: the search box (a name, a phone number in any common format, a case id, a
 * card's last four digits) and `/desk/lookup?phone=`, the address a telephony system opens on an
 * incoming call: straight to the caller's open (or latest) case.
 */
import { type Context, Hono } from "hono";
import type { CountryCode } from "libphonenumber-js";
import { maskPhone } from "../../engine/log.ts";
import { lookupPhone, possiblePhone } from "../../engine/people.ts";
import { listCases } from "../../engine/store/case-views.ts";
import type { Sql } from "../../engine/store/database.ts";
import { casesForPhone, searchCases } from "../../engine/store/lookup.ts";
import { page } from "./layout.tsx";
import { CaseTable } from "./queue.tsx";
import type { DeskEnv } from "./session.tsx";
import { teamOf, whoOf } from "./words.tsx";

/**
 * A query as the page repeats it: with seven digits or more it may be a phone number the box
 * could not read, so all but its last four digits are masked, as numbers are everywhere else.
 */
export function echoQuery(raw: string): string {
  const q = raw.trim().slice(0, 100);
  const digits = q.replace(/\D/g, "").length;
  if (digits < 7) return q;
  let seen = 0;
  return q.replace(/\d/g, (d) => (++seen > digits - 4 ? d : "•"));
}

/** What a search box query is: a case id, a phone number, a card's last four, or a name. */
export function readQuery(
  raw: string,
  country: CountryCode | undefined,
): { caseId: string } | { phone: string } | { last4: string } | { name: string } | undefined {
  const q = raw.trim();
  if (/^case-[a-z0-9-]{3,60}$/i.test(q)) return { caseId: q.toLowerCase() };
  if (/^\d{4}$/.test(q)) return { last4: q };
  if (/^[+(\d][\d\s().-]{5,}$/.test(q)) {
    const phone = lookupPhone(q, country) ?? possiblePhone(q, country);
    return phone ? { phone } : undefined;
  }
  return q.length >= 2 ? { name: q.slice(0, 100) } : undefined;
}

export function searchRoutes(sql: Sql, opts: { phoneCountry?: CountryCode | undefined }) {
  const app = new Hono<DeskEnv>();

  const results = async (c: Context<DeskEnv>, raw: string) => {
    const p = c.get("principal");
    const team = teamOf(p);
    const q = readQuery(raw, opts.phoneCountry);
    const ids = q ? await searchCases(sql, q, team) : [];
    const items = ids.length === 0 ? [] : await listCases(sql, { ids, limit: 50 });
    const said = q && "phone" in q ? maskPhone(q.phone) : echoQuery(raw);
    return c.html(
      page(
        "Search",
        <div>
          <h1>Search</h1>
          <div class="card">
            {!raw.trim() ? (
              <p class="muted">
                Search by name, phone number (any format), case id, or a card's last four digits.
              </p>
            ) : !q ? (
              <p class="warn">“{said}” is not a name, phone number, case id or card's last four digits.</p>
            ) : items.length === 0 ? (
              <p class="muted">
                {"phone" in q ? `No case for this number, ${said}.` : `No case found for “${said}”.`}
              </p>
            ) : (
              <>
                <p class="muted">
                  {items.length} case{items.length === 1 ? "" : "s"} for “{said}”
                </p>
                <CaseTable items={items} />
              </>
            )}
          </div>
        </div>,
        whoOf(p),
        p.role,
        // A number searched for stays masked in the box too.
        said,
      ),
    );
  };

  app.get("/search", (c) => results(c, c.req.query("q") ?? ""));

  // The screen pop: a telephony system opens this on an incoming call.
  app.get("/lookup", async (c) => {
    const p = c.get("principal");
    const raw = c.req.query("phone") ?? "";
    const phone = lookupPhone(raw, opts.phoneCountry);
    const ids = phone ? await casesForPhone(sql, phone, teamOf(p)) : [];
    if (ids.length === 1) return c.redirect(`/desk/cases/${ids[0]}`, 303);
    // Not one case: the results here, rather than the number carried on into another address.
    return results(c, raw);
  });

  return app;
}
