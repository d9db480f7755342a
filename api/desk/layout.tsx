/** The desk's page frame and small shared pieces: plain server-rendered HTML, no scripts needed. */
import type { Child, FC } from "hono/jsx";

const css = `
:root { --ink:#1d2330; --muted:#5c6577; --line:#dfe3ea; --bg:#f6f7f9; --high:#b42318; --medium:#b54708; --low:#475467; --ok:#067647; --accent:#2e5aac; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:var(--bg); }
header.top { display:flex; flex-wrap:wrap; gap:8px 16px; align-items:center; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
header.top .brand { font-weight:700; letter-spacing:.02em; }
header.top nav a { margin-right:12px; color:var(--accent); text-decoration:none; }
header.top .who { margin-left:auto; color:var(--muted); }
main { padding:20px; max-width:1200px; margin:0 auto; }
h1 { font-size:20px; margin:0 0 4px; } h2 { font-size:15px; margin:0 0 8px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
.grid { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.4fr); gap:16px; } .grid > section { min-width:0; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin-bottom:16px; }
table { width:100%; border-collapse:collapse; } th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; border:1px solid currentColor; }
.sev-high { color:var(--high); } .sev-medium { color:var(--medium); } .sev-low { color:var(--low); }
.ok { color:var(--ok); } .muted { color:var(--muted); } .warn { color:var(--high); font-weight:600; }
.timeline li { margin-bottom:6px; } .timeline .when { color:var(--muted); font-variant-numeric: tabular-nums; margin-right:6px; }
.msg { border-left:3px solid var(--line); padding:4px 10px; margin:8px 0; } .msg.in { border-color:var(--accent); } .msg.out { border-color:var(--ok); }
.thread { list-style:none; padding:0; margin:0 0 10px; } .thread .body { white-space:pre-wrap; overflow-wrap:anywhere; } .msg.in { background:#f3f6fc; }
label { display:block; font-weight:600; margin:8px 0 4px; }
.outbox { background:#fff4e5; border:1px dashed var(--medium); padding:2px 6px; border-radius:4px; color:var(--medium); font-weight:700; font-size:12px; }
form.inline { display:inline; } button { font:inherit; padding:5px 12px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); } button.danger { background:var(--high); color:#fff; border-color:var(--high); }
textarea, input[type=text], input[type=password] { font:inherit; width:100%; padding:6px 8px; border:1px solid var(--line); border-radius:6px; }
.attention { background:#fef3f2; border:1px solid var(--high); color:var(--high); padding:8px 12px; border-radius:6px; font-weight:600; }
.waiting-on { background:#eef4ff; border:1px solid var(--accent); padding:8px 12px; border-radius:6px; }
form.canned { margin-top:10px; display:flex; flex-wrap:wrap; gap:6px; align-items:center; } form.canned p { flex-basis:100%; margin:0; }
.canned-list { list-style:none; padding:0; margin:0; } .canned-list li { border-bottom:1px solid var(--line); padding:8px 0; } .canned-list .body { white-space:pre-wrap; overflow-wrap:anywhere; margin:4px 0; }
.attention-small { color:var(--high); font-size:12px; font-weight:600; }
code { font-size:12px; background:#f0f2f5; padding:1px 4px; border-radius:4px; overflow-wrap:anywhere; }
pre { font-size:12px; background:#f0f2f5; padding:10px; border-radius:6px; overflow-x:auto; white-space:pre-wrap; overflow-wrap:anywhere; }
.diff-add { color:var(--ok); } .diff-del { color:var(--high); }
header.top search input { font:inherit; padding:5px 10px; border:1px solid var(--line); border-radius:6px; width:100%; box-sizing:border-box; }
/* The search gives way when the header is full (a needs-you badge, the notifications button); the rest never wraps inside. */
header.top search { flex:1 1 160px; max-width:320px; } header.top .brand, header.top nav a, header.top .needs, header.top button, header.top .who { white-space:nowrap; }
.handoff { background:#eef4ff; border:1px solid var(--accent); padding:8px 12px; border-radius:6px; margin:8px 0; }
form.status { margin:6px 0 14px; } form.status button { margin-left:4px; } select { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:6px; max-width:100%; }
.needs { background:var(--high); color:#fff; border-radius:999px; padding:2px 10px; font-weight:700; text-decoration:none; font-size:12px; }
fieldset { border:1px solid var(--line); border-radius:6px; } fieldset label { font-weight:400; } .fields { display:grid; gap:6px; margin:4px 0 8px 22px; }
:focus-visible { outline:2px solid var(--accent); outline-offset:2px; }
a.skip { position:absolute; left:8px; top:-100px; z-index:10; background:#fff; color:var(--accent); padding:6px 12px; border:2px solid var(--accent); border-radius:6px; font-weight:600; }
a.skip:focus { top:8px; } main:focus { outline:none; }
.tabs a { margin-right:10px; } .tabs a.on { font-weight:700; color:var(--ink); text-decoration:none; }
.why { margin-bottom:14px; } .why .story { font-size:15px; margin:6px 0; } .story.lead { font-size:15px; margin:4px 0 8px; overflow-wrap:anywhere; } .held { margin:4px 0; padding-left:18px; color:var(--muted); } .small { font-size:12px; }
.their { color:var(--muted); } .activity { padding-left:18px; } .activity li { margin-bottom:4px; } .activity li.flagged { font-weight:600; } .flag { color:var(--high); }
svg.map { width:100%; height:auto; display:block; border-radius:6px; } .map .sea { fill:#eef3f8; } .map .land { fill:#d5dbe4; stroke:#fff; stroke-width:.5; }
.map .graticule { fill:none; stroke:#dde4ee; stroke-width:.5; } .map .route { fill:none; stroke:var(--high); stroke-width:2.5; stroke-dasharray:7 5; }
.map .pt circle { fill:var(--muted); stroke:#fff; stroke-width:1.5; } .map .pt.flagged circle { fill:var(--medium); } .map .pt.here circle, .map .pt.there circle { fill:var(--high); }
.map text { font-size:13px; font-weight:700; fill:var(--ink); paint-order:stroke; stroke:#fff; stroke-width:3px; }
.stats { display:grid; grid-template-columns:repeat(auto-fill, minmax(230px, 1fr)); gap:12px 16px; margin:0; } .stat dt { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.stat dd { margin:2px 0 0; } .stat .big { font-size:22px; font-weight:700; font-variant-numeric:tabular-nums; }
.figs { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap:0 16px; } .fig { margin:0 0 16px; min-width:0; } .fig figcaption p { margin:0 0 8px; }
svg.plot { width:100%; height:auto; display:block; font-size:13px; } .plot .grid { stroke:var(--line); } .plot .axis text, .plot .note, .plot .figure { fill:var(--muted); } .plot .figure { font-weight:600; }
.plot .name { fill:var(--ink); font-weight:600; } .plot .line { fill:none; stroke:var(--accent); stroke-width:2; } .plot .dot { fill:var(--accent); }
.plot .bar.total { fill:#d5dbe4; } .plot .bar.part { fill:var(--accent); } .fig details { margin-top:8px; } .picker { margin:8px 0; } .picker label { display:inline; margin-right:6px; }
.empty-window { font-size:16px; font-weight:600; } .waiting li { margin-bottom:4px; overflow-wrap:anywhere; }
@media (max-width: 760px) {
  .grid { grid-template-columns: minmax(0, 1fr); } main { padding:12px; }
  /* On a phone the header is two rows, not four: the brand, the links and Sign out, then search
     beside the notifications button; the name is still read out, not shown (who signed in is on
     the case page, as "advocate Amara Okafor"). */
  header.top { flex-wrap:wrap; gap:6px 10px; padding:6px 12px; }
  header.top .brand { font-size:15px; letter-spacing:0; } header.top nav { display:flex; flex-wrap:wrap; column-gap:8px; } header.top nav a { margin-right:0; white-space:nowrap; }
  /* "Notifications" on the button, "Turn on notifications" still its name. */
  header.top #notify-optin .turn-on { position:absolute; width:1px; height:1px; overflow:hidden; clip-path:inset(50%); white-space:pre; }
  header.top #notify-optin .what { display:inline-block; } header.top #notify-optin .what::first-letter { text-transform:uppercase; }
  header.top button { padding:4px 8px; }
  header.top .who { order:1; } header.top .who .name { position:absolute; width:1px; height:1px; overflow:hidden; clip-path:inset(50%); white-space:nowrap; }
  header.top search { order:2; flex:1 1 120px; min-width:0; }
  header.top #needs-you, header.top #live-note, header.top #notify-optin { order:3; }
  table { display:block; overflow-x:auto; } th, td { white-space:nowrap; }
  /* The queue as cards: one case a card, each cell labelled by its column, nothing scrolls sideways. */
  /* The same for any table of class cards (a backtest's matched payments, the rules). */
  table.cases, table.cards { display:block; overflow:visible; } table.cases thead, table.cards thead { position:absolute; width:1px; height:1px; overflow:hidden; clip-path:inset(50%); }
  table.cases tbody, table.cases tr, table.cases td, table.cards tbody, table.cards tr, table.cards td { display:block; }
  table.cases tr, table.cards tr { border:1px solid var(--line); border-radius:6px; padding:6px 8px; margin-bottom:8px; }
  table.cases td, table.cards td { white-space:normal; overflow-wrap:anywhere; border:0; padding:2px 0; }
  table.cases td[data-label]:not(:first-child)::before, table.cards td[data-label]:not(:first-child)::before { content:attr(data-label) ": "; color:var(--muted); font-size:12px; }
  nav.filters { display:flex; flex-wrap:wrap; gap:4px 10px; }
  .stats { grid-template-columns:repeat(2, minmax(0, 1fr)); }
}
`;

/**
 * The pages a role works in: the risk team its rules and lists, advocates their cases, supervisors both;
 * supervisors and the risk team the customers' experience.
 */
function links(role: string | undefined): Array<[string, string]> {
  const experience: [string, string] = ["/desk/experience", "Experience"];
  const rules: Array<[string, string]> = [
    ["/desk/rules", "Rules"],
    ["/desk/lists", "Lists"],
  ];
  if (role === "risk") return [...rules, experience];
  const cases: Array<[string, string]> = [
    ["/desk", "Cases"],
    ["/desk/advocates", "Advocates"],
  ];
  return role === "supervisor" || role === "admin"
    ? [...cases, ["/desk/canned-replies", "Canned replies"], ...rules, experience]
    : cases;
}

/**
 * The frame of every desk page. No `meta refresh`: a page that reloads itself under its reader
 * fails WCAG 2.2.1 (axe: critical); the live script updates the lists instead.
 */
export const Layout: FC<{
  title: string;
  who?: string;
  role?: string;
  /** What the search box holds. */
  query?: string | undefined;
  /** The case a case page shows: live updates about it refresh the page's live parts. */
  caseId?: string | undefined;
  /** How many cases need the viewer, when the page knows: the tab's title leads with it. */
  needsYou?: number | undefined;
  children?: Child;
}> = ({ title, who, role, query, caseId, needsYou, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {/* The live script keeps the count current, on every page, from the stream's counts. */}
      <title>{`${needsYou ? `(${needsYou}) ` : ""}${title} · touchpoint desk`}</title>
      {/* No icon: without this line the browser asks for /favicon.ico and logs its 404 as an error. */}
      <link rel="icon" href="data:," />
      <style dangerouslySetInnerHTML={{ __html: css }} />
      {who && role !== "risk" ? <script src="/desk/live.js" defer /> : null}
    </head>
    <body data-case={caseId ?? ""}>
      <a class="skip" href="#main">
        Skip to main content
      </a>
      <header class="top">
        <span class="brand">touchpoint desk</span>
        {who ? (
          <nav>
            {links(role).map(([href, label]) => (
              <a href={href}>{label}</a>
            ))}
          </nav>
        ) : null}
        {who && role !== "risk" ? (
          <search>
            <form class="search" method="get" action="/desk/search">
              <input
                type="search"
                name="q"
                value={query ?? ""}
                aria-label="Search cases"
                placeholder="Name, phone, case id, card last four"
              />
            </form>
          </search>
        ) : null}
        {who && role !== "risk" ? (
          <a id="needs-you" class="needs" href="/desk" hidden aria-live="polite">
            needs you
          </a>
        ) : null}
        {who && role !== "risk" ? <span id="live-note" class="warn" role="status" hidden /> : null}
        {/* Shown by the live script only where the browser can notify and has not been asked yet. */}
        {who && role !== "risk" ? (
          <button id="notify-optin" type="button" hidden>
            <span class="turn-on">Turn on </span>
            <span class="what">notifications</span>
          </button>
        ) : null}
        {who ? (
          <span class="who">
            <span class="name">{who} · </span>
            <form class="inline" method="post" action="/desk/logout">
              <button type="submit">Sign out</button>
            </form>
          </span>
        ) : null}
      </header>
      <main id="main" tabindex={-1}>
        {children}
      </main>
    </body>
  </html>
);

export const Severity: FC<{ value: string }> = ({ value }) => (
  <span class={`pill sev-${value}`}>{value}</span>
);

export const When: FC<{ at: string | Date | null }> = ({ at }) => {
  if (!at) return <span class="muted">—</span>;
  const d = typeof at === "string" ? new Date(at) : at;
  return <time datetime={d.toISOString()}>{d.toISOString().replace("T", " ").slice(0, 16)} UTC</time>;
};

/** A page in the frame: title, body, who is signed in, and their role's links. */
export const page = (
  title: string,
  body: Child,
  who?: string,
  role?: string,
  query?: string,
  needsYou?: number,
) => (
  <Layout title={title} who={who} role={role} query={query} needsYou={needsYou}>
    {body}
  </Layout>
);
