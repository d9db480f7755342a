/**
 * A map of where a customer's card and logins were, drawn on the server as SVG from bundled map
 * data (world-atlas's 1:110m land, projected with d3-geo): no tile server, nothing fetched, no
 * script. The two places of a journey are joined by the great circle between them.
 */
import { createRequire } from "node:module";
import { type GeoPermissibleObjects, geoCircle, geoGraticule10, geoNaturalEarth1, geoPath } from "d3-geo";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";

// A JSON file in a CommonJS package: required as it is, parsed once.
const atlas = createRequire(import.meta.url)("world-atlas/land-110m.json") as Topology<{
  land: GeometryCollection;
}>;
const LAND = feature(atlas, atlas.objects.land);
const GRATICULE = geoGraticule10();

export interface MapPoint {
  lat: number;
  lon: number;
  label: string;
  /** `here` and `there`: the journey; `flagged`: another event on the case; `seen`: other activity. */
  kind: "here" | "there" | "flagged" | "seen";
}

const W = 640;
const H = 320;

/** The map, or nothing when no event has a place. */
export function ActivityMap({ points, title }: { points: readonly MapPoint[]; title: string }) {
  if (points.length === 0) return null;
  const here = points.find((p) => p.kind === "here");
  const there = points.find((p) => p.kind === "there");
  // Fit the places with 6° around each, so one city alone still shows its region.
  const frame: GeoPermissibleObjects = {
    type: "GeometryCollection",
    geometries: points.map((p) => geoCircle().center([p.lon, p.lat]).radius(6)()),
  };
  const projection = geoNaturalEarth1()
    .fitExtent(
      [
        [16, 16],
        [W - 16, H - 16],
      ],
      frame,
    )
    .clipExtent([
      [0, 0],
      [W, H],
    ]);
  const path = geoPath(projection).digits(1);
  const at = (p: MapPoint) => projection([p.lon, p.lat]) ?? [-100, -100];
  // Later points drawn last: the journey's two places on top.
  const order = { seen: 0, flagged: 1, there: 2, here: 3 } as const;
  const drawn = [...points].sort((a, b) => order[a.kind] - order[b.kind]);
  return (
    <svg class="map" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      <rect width={W} height={H} class="sea" />
      <path d={path(GRATICULE) ?? ""} class="graticule" />
      <path d={path(LAND) ?? ""} class="land" />
      {here && there ? (
        <path
          d={
            path({
              type: "LineString",
              coordinates: [
                [there.lon, there.lat],
                [here.lon, here.lat],
              ],
            }) ?? ""
          }
          class="route"
        />
      ) : null}
      {drawn.map((p) => {
        const [x, y] = at(p);
        const big = p.kind === "here" || p.kind === "there";
        return (
          <g class={`pt ${p.kind}`}>
            <circle cx={x.toFixed(1)} cy={y.toFixed(1)} r={big ? 6 : 4} />
            {big ? (
              // Near the right edge the label goes to the left of its point, so it is not cut off.
              x > W * 0.7 ? (
                <text x={(x - 9).toFixed(1)} y={(y + 4).toFixed(1)} text-anchor="end">
                  {p.label}
                </text>
              ) : (
                <text x={(x + 9).toFixed(1)} y={(y + 4).toFixed(1)}>
                  {p.label}
                </text>
              )
            ) : (
              <title>{p.label}</title>
            )}
          </g>
        );
      })}
    </svg>
  );
}
