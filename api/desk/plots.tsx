/**
 * The desk's plots: drawn on the server as SVG with d3-scale and d3-shape, sized by their viewBox
 * so they shrink with the page, each an image with its sentence for people who cannot see it.
 * Nothing runs in the browser. A plot with nothing to draw is not drawn: the caller says so in words.
 */
import { scaleBand, scaleLinear } from "d3-scale";
import { line } from "d3-shape";

/** The viewBox's width: narrow, so text stays legible when a phone shrinks the plot to ~350 px. */
const W = 400;
const M = { top: 12, right: 10, bottom: 26, left: 52 };

/** "1 Dec" from "2026-12-01". */
export const dayWords = (day: string) =>
  new Date(`${day}T00:00:00Z`).toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  });

/** At most about `most` of the days labelled along the x axis, evenly. */
function labelled(days: readonly string[], most: number): Set<string> {
  const step = Math.max(1, Math.ceil(days.length / most));
  return new Set(days.filter((_, i) => i % step === 0));
}

const f1 = (n: number) => n.toFixed(1);

/** The y axis: gridlines and their labels. */
function YAxis({ ticks, y, fmt }: { ticks: number[]; y: (v: number) => number; fmt: (v: number) => string }) {
  return (
    <g class="axis">
      {ticks.map((t) => (
        <g>
          <line x1={M.left} x2={W - M.right} y1={f1(y(t))} y2={f1(y(t))} class="grid" />
          <text x={M.left - 6} y={f1(y(t) + 4)} text-anchor="end">
            {fmt(t)}
          </text>
        </g>
      ))}
    </g>
  );
}

function XDays({ days, x, bottom }: { days: readonly string[]; x: (d: string) => number; bottom: number }) {
  const shown = labelled(days, 6);
  return (
    <g class="axis">
      {days
        .filter((d) => shown.has(d))
        .map((d) => (
          <text x={f1(x(d))} y={bottom + 17} text-anchor="middle">
            {dayWords(d)}
          </text>
        ))}
    </g>
  );
}

/**
 * A value per day as a line with a dot on each day measured; an unmeasured day (null) breaks the
 * line rather than reading as zero. Returns null when no day has a value.
 */
export function DayLine({
  points,
  label,
  fmt,
}: {
  points: ReadonlyArray<{ day: string; value: number | null }>;
  /** The plot in words: the SVG's title and accessible name. */
  label: string;
  /** A y value as people read it (seconds as "4 min"). */
  fmt: (v: number) => string;
}) {
  const measured = points.filter((p): p is { day: string; value: number } => p.value !== null);
  if (measured.length === 0) return null;
  const H = 190;
  const days = points.map((p) => p.day);
  const band = scaleBand(days, [M.left, W - M.right]).padding(0.2);
  const x = (d: string) => (band(d) ?? M.left) + band.bandwidth() / 2;
  const y = scaleLinear([0, Math.max(...measured.map((p) => p.value)) || 1], [H - M.bottom, M.top]).nice();
  const path = line<{ day: string; value: number | null }>()
    .defined((p) => p.value !== null)
    .x((p) => x(p.day))
    .y((p) => y(p.value ?? 0))
    .digits(1);
  return (
    <svg class="plot" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      <YAxis ticks={y.ticks(4)} y={y} fmt={fmt} />
      <XDays days={days} x={x} bottom={H - M.bottom} />
      <path d={path(points) ?? ""} class="line" />
      {measured.map((p) => (
        <circle cx={f1(x(p.day))} cy={f1(y(p.value))} r={3.5} class="dot" />
      ))}
    </svg>
  );
}

/**
 * Per day, a total as a pale bar and the part of it that matters as a solid bar from the same
 * base (resolved cases, and those the customer settled). Returns null when every total is zero.
 */
export function DayBars({
  bars,
  label,
}: {
  bars: ReadonlyArray<{ day: string; total: number; part: number }>;
  label: string;
}) {
  const top = Math.max(0, ...bars.map((b) => b.total));
  if (top === 0) return null;
  const H = 190;
  const days = bars.map((b) => b.day);
  const band = scaleBand(days, [M.left, W - M.right]).padding(0.2);
  const y = scaleLinear([0, top], [H - M.bottom, M.top]).nice();
  const ticks = y.ticks(4).filter(Number.isInteger);
  return (
    <svg class="plot" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      <YAxis ticks={ticks} y={y} fmt={String} />
      <XDays days={days} x={(d) => (band(d) ?? M.left) + band.bandwidth() / 2} bottom={H - M.bottom} />
      {bars.map((b) => {
        const x0 = band(b.day) ?? M.left;
        const bar = (v: number, cls: string) => (
          <rect
            x={f1(x0)}
            y={f1(y(v))}
            width={f1(band.bandwidth())}
            height={f1(Math.max(0, y(0) - y(v)))}
            class={cls}
          />
        );
        return (
          <g>
            {bar(b.total, "bar total")}
            {b.part > 0 ? bar(Math.min(b.part, b.total), "bar part") : null}
          </g>
        );
      })}
    </svg>
  );
}

/**
 * One bar per row: the row's name and a note on a line above its bar, its figure at the bar's end.
 * Long names (rules', advocates') fit a phone this way. Returns null when there is no row.
 */
export function RowBars({
  rows,
  max,
  label,
}: {
  rows: ReadonlyArray<{ name: string; value: number; figure: string; note?: string }>;
  /** The scale's end: 5 for a 1–5 score; the largest value when omitted. */
  max?: number;
  label: string;
}) {
  if (rows.length === 0) return null;
  const ROW = 40;
  const H = rows.length * ROW + 6;
  const end = max ?? (Math.max(...rows.map((r) => r.value)) || 1);
  // The figure sits right of its bar: the scale leaves room for the longest (~7.5 units a character).
  const room = 12 + 7.5 * Math.max(...rows.map((r) => r.figure.length));
  const x = scaleLinear([0, end], [0, Math.max(W / 2, W - room)]).clamp(true);
  return (
    <svg class="plot" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      {rows.map((r, i) => {
        const top = i * ROW + 4;
        const width = x(r.value);
        return (
          <g>
            <text x={0} y={top + 12}>
              <tspan class="name">{r.name.length > 44 ? `${r.name.slice(0, 43)}…` : r.name}</tspan>
              {r.note ? <tspan class="note"> · {r.note}</tspan> : null}
            </text>
            <rect x={0} y={top + 18} width={f1(Math.max(width, 1.5))} height={14} class="bar part" />
            <text x={f1(width + 6)} y={top + 30} class="figure">
              {r.figure}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
