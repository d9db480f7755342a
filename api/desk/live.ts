/**
 * The desk, live: server-sent events at `/desk/live` tell each open page what changed on the
 * cases its viewer may see — a case routed to them, a customer's reply, a delivery failure, a
 * status change — how many cases need them, and when an advocate of their team changed (status,
 * capacity). Every change to a case is a timeline entry and every advocate carries `updated_at`,
 * so one poller per process reads new ones (once a second, only while someone listens) and fans
 * them out by team; it works the same on Postgres and embedded PGlite and whichever
 * process (API or worker) made the change. The page's script (`/desk/live.js`) refetches the
 * page and swaps the parts marked `data-live`, leaving what the advocate is typing alone.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { casesNeedingAdvocate } from "../../engine/store/case-views.ts";
import type { Sql } from "../../engine/store/database.ts";
import { principalForSession } from "../../engine/store/sessions.ts";
import { hashToken } from "../../engine/store/tokens.ts";
import { noticesFor } from "./notices.ts";
import { DESK_COOKIE, type DeskEnv } from "./session.tsx";
import type { DeskStreams, StreamEnd } from "./streams.ts";
import { teamOf } from "./words.tsx";

export interface CaseChange {
  id: string;
  caseId: string;
  kind: string;
  team: string;
  advocateId: string | null;
}

/** An advocate added or changed (status, capacity, team): the advocates page shows it. */
export interface AdvocateChange {
  advocateId: string;
  team: string;
}

type Listener = (changes: { cases: readonly CaseChange[]; advocates: readonly AdvocateChange[] }) => void;

/**
 * Timeline ids are handed out at insert and seen at commit, so a long transaction can commit an
 * id below one already read: each tick looks this far back again, skipping ids it has sent.
 */
const LOOKBACK = 500;

/** Advocates' `updated_at` is a transaction's start: each tick looks this far back again, ms. */
const ADVOCATE_LOOKBACK_MS = 60_000;

/** One poller per process, running only while a desk page listens. */
export class DeskFeed {
  private readonly listeners = new Map<Listener, () => void>();
  private last: bigint | undefined;
  private readonly sent = new Set<string>();
  /** Advocates' changes read so far: the newest `updated_at`, and each advocate's last one sent. */
  private advocatesAt: Date | undefined;
  private readonly advocatesSent = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;

  constructor(
    private readonly sql: Sql,
    private readonly everyMs = 1000,
  ) {}

  /**
   * Listens from now on: changes after this resolves reach `l`; the page refetches once for the
   * rest. `end` is called when the process shuts down, so the stream can finish.
   */
  async subscribe(l: Listener, end: () => void): Promise<() => void> {
    if (this.closed) throw new Error("shutting down");
    if (this.last === undefined) {
      const [r] = await this.sql`select coalesce(max(id), 0) as id, now() as at from case_timeline`;
      const at = r!.at as Date;
      // Changes already in the window are not news to a page drawn after them.
      const recent = await this.sql`
        select id, updated_at from advocates where updated_at > ${new Date(at.getTime() - ADVOCATE_LOOKBACK_MS)}`;
      // Nor are the entries already in the window each tick looks back over: without this, the first
      // tick announced up to LOOKBACK old entries as new (an old assignment notified again).
      const top = BigInt(r!.id as string | number);
      const known = await this.sql`
        select id from case_timeline
        where id > ${String(top > BigInt(LOOKBACK) ? top - BigInt(LOOKBACK) : 0n)} and id <= ${String(top)}`;
      if (this.last === undefined) {
        for (const k of known) this.sent.add(String(k.id));
        for (const a of recent) this.advocatesSent.set(a.id as string, (a.updated_at as Date).getTime());
        this.advocatesAt = at;
        this.last = BigInt(r!.id as string | number);
      }
    }
    this.listeners.set(l, end);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.everyMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.last = undefined;
        this.sent.clear();
        this.advocatesAt = undefined;
        this.advocatesSent.clear();
      }
    };
  }

  private async tick(): Promise<void> {
    if (this.busy || this.last === undefined || this.advocatesAt === undefined) return;
    this.busy = true;
    try {
      const from = this.last > BigInt(LOOKBACK) ? this.last - BigInt(LOOKBACK) : 0n;
      const since = new Date(this.advocatesAt.getTime() - ADVOCATE_LOOKBACK_MS);
      const [rows, people] = await Promise.all([
        this.sql`
          select t.id, t.case_id, t.kind, c.team, c.advocate_id from case_timeline t join cases c on c.id = t.case_id
          where t.id > ${String(from)} order by t.id limit 1000`,
        this.sql`select id, team, updated_at from advocates where updated_at > ${since}`,
      ]);
      if (this.last === undefined || this.advocatesAt === undefined) return;
      const moved = people.filter(
        (a) => this.advocatesSent.get(a.id as string) !== (a.updated_at as Date).getTime(),
      );
      for (const a of moved) {
        this.advocatesSent.set(a.id as string, (a.updated_at as Date).getTime());
        if ((a.updated_at as Date) > this.advocatesAt) this.advocatesAt = a.updated_at as Date;
      }
      for (const [id, at] of this.advocatesSent) if (at <= since.getTime()) this.advocatesSent.delete(id);
      const advocates = moved.map((a) => ({ advocateId: a.id as string, team: a.team as string }));
      const fresh = rows.filter((r) => !this.sent.has(String(r.id)));
      if (rows.length > 0) {
        const top = BigInt(rows[rows.length - 1]!.id as string | number);
        if (top > this.last) this.last = top;
      }
      if (fresh.length === 0 && advocates.length === 0) return;
      for (const r of fresh) this.sent.add(String(r.id));
      // Ids below the window can no longer come back: forget them.
      const floor = this.last - BigInt(LOOKBACK);
      for (const id of this.sent) if (BigInt(id) <= floor) this.sent.delete(id);
      const changes = fresh.map((r) => ({
        id: String(r.id),
        caseId: r.case_id as string,
        kind: r.kind as string,
        team: r.team as string,
        advocateId: (r.advocate_id as string | null) ?? null,
      }));
      for (const l of this.listeners.keys()) l({ cases: changes, advocates });
    } catch {
      // Postgres away for a moment: the next tick tries again; pages keep what they show.
    } finally {
      this.busy = false;
    }
  }

  /** At shutdown: every open stream ends, so the HTTP server can close without waiting on them. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const end of this.listeners.values()) end();
    this.listeners.clear();
  }
}

/** What the page's script does: listen, and refresh the live parts when something of ours changed. */
const SCRIPT = `(() => {
  // Times in the advocate's own zone: the page says UTC; the browser knows where its reader is.
  // ISO-like (2026-11-22 20:05), never 12/02 that reads two ways; the zone named after it.
  const fmt = new Intl.DateTimeFormat("sv-SE", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });
  function localTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const d = new Date(t.getAttribute("datetime"));
      if (!Number.isNaN(d.getTime())) {
        t.title = t.textContent;
        t.textContent = fmt.format(d);
      }
    }
  }
  localTimes(document);
  function edited(root) {
    for (const f of root.querySelectorAll("input, textarea, select")) {
      if (f === document.activeElement) return true;
      if (f.type === "radio" || f.type === "checkbox") {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.tagName === "SELECT") {
        // With no option marked, the first is shown selected without anyone choosing it.
        const d = [...f.options].findIndex((o) => o.defaultSelected);
        if (f.selectedIndex !== (d < 0 ? 0 : d)) return true;
      } else if (f.type !== "hidden" && f.value !== f.defaultValue) return true;
    }
    return false;
  }
  // A canned reply's button puts its text in the reply box where the caret is (replacing a
  // selection), instead of reloading the page with it (what the button does without this script).
  document.addEventListener("click", (e) => {
    const b = e.target instanceof Element ? e.target.closest("form.canned button[data-text]") : null;
    const box = document.getElementById("reply-text");
    if (!b || !box) return;
    e.preventDefault();
    if (box.value.trim() === "") box.value = b.dataset.text;
    else box.setRangeText(b.dataset.text, box.selectionStart, box.selectionEnd, "end");
    box.focus();
  });
  const here = document.body.dataset.case || "";
  const badge = document.getElementById("needs-you");
  let pending = false;
  let again = false;
  async function refresh() {
    // A page with nothing live (search, rules) has nothing to refresh.
    if (!document.querySelector("[data-live]")) return;
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const res = await fetch(location.href, { headers: { "x-desk-live": "1" }, credentials: "same-origin" });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const el of document.querySelectorAll("[data-live]")) {
        const fresh = doc.getElementById(el.id);
        // A form the advocate has started filling in keeps what they wrote; it updates once sent.
        if (fresh && !edited(el)) {
          localTimes(fresh);
          el.replaceWith(fresh);
        }
      }
    } finally {
      pending = false;
      // A change that came in while this refresh was under way gets one more.
      if (again) {
        again = false;
        refresh();
      }
    }
  }
  const es = new EventSource("/desk/live");
  es.addEventListener("counts", (e) => {
    const { needsYou } = JSON.parse(e.data);
    if (badge) {
      badge.textContent = needsYou > 0 ? "needs you: " + needsYou : "";
      badge.hidden = needsYou === 0;
    }
    // The tab's title leads with the count, so a desk in a background tab still says it.
    document.title = (needsYou > 0 ? "(" + needsYou + ") " : "") + document.title.replace(/^\\(\\d+\\) /, "");
  });
  es.addEventListener("hello", () => {
    document.body.dataset.live = "on";
    refresh();
  });
  // Browser notifications, once the advocate opted in with the header's button (the browser asks).
  const optIn = document.getElementById("notify-optin");
  const canNotify = "Notification" in window;
  if (optIn && canNotify && Notification.permission === "default") {
    optIn.hidden = false;
    optIn.addEventListener("click", async () => {
      const answer = await Notification.requestPermission();
      optIn.hidden = answer === "default";
    });
  }
  es.addEventListener("notify", (e) => {
    if (!canNotify || Notification.permission !== "granted") return;
    const n = JSON.parse(e.data);
    const note = new Notification(n.title, { body: n.body, tag: n.tag });
    note.onclick = () => {
      window.focus();
      location.href = "/desk/cases/" + encodeURIComponent(n.caseId);
    };
  });
  // The server ended this stream for good (signed out, or newer tabs of this session took its
  // place): no reconnecting, and the page says updates stopped.
  es.addEventListener("bye", (e) => {
    es.close();
    const { reason } = JSON.parse(e.data);
    const note = document.getElementById("live-note");
    if (note) {
      note.textContent = reason === "superseded"
        ? "Live updates stopped: this desk is open in newer tabs. Reload to resume."
        : "Signed out: live updates stopped.";
      note.hidden = false;
    }
  });
  // Who is online and how full their hands are: the pages of lists (queue, advocates) show it.
  es.addEventListener("advocates", () => {
    if (!here) refresh();
  });
  es.addEventListener("case", (e) => {
    const change = JSON.parse(e.data);
    if (!here || change.caseId === here) refresh();
  });
})();
`;

/** A stream re-reads its session this often (ms) in case its end was not announced (Redis away). */
const RECHECK_MS = 25_000;

export function liveRoutes(sql: Sql, feed: DeskFeed, streams: DeskStreams) {
  const app = new Hono<DeskEnv>();
  app.get("/live.js", (c) => {
    c.header("Cache-Control", "no-cache");
    return c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });
  app.get("/live", (c) => {
    const p = c.get("principal");
    const team = teamOf(p);
    const session = getCookie(c, DESK_COOKIE) ?? "";
    return streamSSE(c, async (stream) => {
      let closed = false;
      let ended: StreamEnd | undefined;
      let queue: CaseChange[] = [];
      let advocatesChanged = false;
      let wake: (() => void) | undefined;
      let unsubscribe = () => {};
      const stop = () => {
        closed = true;
        wake?.();
      };
      // Registered before anything is awaited: a tab closed, a sign-out or a newer tab meanwhile
      // still ends the stream.
      stream.onAbort(stop);
      const release = streams.open(hashToken(session), p.tokenId, (why) => {
        ended = why;
        // Nothing more is queued for a stream whose session is over, even while a write is stuck.
        unsubscribe();
        stop();
      });
      // A page told why its stream ended does not reconnect: it would only be refused, or push
      // out a newer tab of its own session.
      const farewell = async () => {
        if (ended && !stream.aborted)
          await stream.writeSSE({ event: "bye", data: JSON.stringify({ reason: ended }) });
      };
      try {
        unsubscribe = await feed.subscribe(({ cases, advocates }) => {
          // An advocate or team supervisor hears of their team's cases and advocates only.
          const mine = team ? cases.filter((ch) => ch.team === team) : cases;
          const people = team ? advocates.filter((a) => a.team === team) : advocates;
          if (mine.length === 0 && people.length === 0) return;
          queue.push(...mine);
          advocatesChanged ||= people.length > 0;
          wake?.();
        }, stop);
        if (closed) unsubscribe();
        // Signed out between the session check and the registration above: no announcement will come.
        let checkedAt = Date.now();
        if (!closed && !(await principalForSession(sql, session, new Date()))) ended = "signed-out";
        if (ended || closed || stream.aborted) return await farewell();
        const counts = async () =>
          stream.writeSSE({
            event: "counts",
            data: JSON.stringify({
              needsYou: p.advocateId ? await casesNeedingAdvocate(sql, p.advocateId) : 0,
            }),
          });
        // Listening now: the page refetches once for whatever changed since it was drawn.
        await stream.writeSSE({ event: "hello", data: "{}" });
        await counts();
        while (!closed) {
          // Wait for changes, or until the session is due a look: then a comment keeps proxies
          // from closing an idle stream.
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((ok) => {
            wake = ok;
            timer = setTimeout(ok, Math.max(0, checkedAt + RECHECK_MS - Date.now()));
          });
          clearTimeout(timer);
          wake = undefined;
          if (closed) break;
          if (Date.now() - checkedAt >= RECHECK_MS) {
            // Signed out, expired or revoked without a word reaching this process: the stream
            // ends with the session all the same, if later.
            if (!(await principalForSession(sql, session, new Date()))) {
              ended = "signed-out";
              break;
            }
            checkedAt = Date.now();
          }
          const batch = queue;
          queue = [];
          const people = advocatesChanged;
          advocatesChanged = false;
          if (people) await stream.writeSSE({ event: "advocates", data: "{}" });
          if (batch.length === 0) {
            if (!people) await stream.write(": idle\n\n");
            continue;
          }
          const seen = new Set<string>();
          for (const ch of batch) {
            if (seen.has(ch.caseId)) continue;
            seen.add(ch.caseId);
            await stream.writeSSE({
              event: "case",
              id: ch.id,
              data: JSON.stringify({ caseId: ch.caseId, kind: ch.kind, advocateId: ch.advocateId }),
            });
          }
          // Outside the page too, for those who opted in: assigned to them, needing them, calling.
          if (p.advocateId)
            for (const n of await noticesFor(sql, p.advocateId, batch))
              await stream.writeSSE({ event: "notify", data: JSON.stringify(n) });
          await counts();
        }
        await farewell();
      } finally {
        closed = true;
        unsubscribe();
        release();
      }
    });
  });
  return app;
}
