/**
 * Geo maths for travel features: great-circle distance and the speed it would take. Pure.
 *
 * The distance is geolib's `getDistance` (spherical law of cosines on a 6,378,137 m sphere, rounded
 * to the metre), written out: geolib reads each point through its key lookup and number parsing
 * (it accepts strings and sexagesimal degrees), which was 4% of everything the worker allocated at
 * 2,000 events/s and ~1 µs a call (see the README's Plans). `geo.test.ts` holds it to geolib's
 * answer, to the bit, over the whole globe.
 */

export interface Point {
  lat: number;
  lon: number;
}

/** geolib's constants: its sphere's radius, and degrees to radians as it converts them. */
const EARTH_RADIUS_M = 6378137;
const DEG_TO_RAD = Math.PI / 180;

/** Great-circle distance, km (geolib's, 1 m accuracy). */
export function distanceKm(a: Point, b: Point): number {
  const fromLat = a.lat * DEG_TO_RAD;
  const toLat = b.lat * DEG_TO_RAD;
  const deltaLon = (a.lon - b.lon) * DEG_TO_RAD;
  const cos = Math.sin(toLat) * Math.sin(fromLat) + Math.cos(toLat) * Math.cos(fromLat) * Math.cos(deltaLon);
  const metres = Math.acos(Math.min(1, Math.max(-1, cos))) * EARTH_RADIUS_M;
  return Math.round(metres) / 1000;
}

/**
 * Speed needed to cover `km` in the time between two instants, km/h.
 * Intervals shorter than one minute count as one minute, so two payments in the same second
 * in different cities give a very large but finite speed rather than Infinity.
 */
export function speedKmh(km: number, aMs: number, bMs: number): number {
  const hours = Math.max(Math.abs(bMs - aMs), 60_000) / 3_600_000;
  return km / hours;
}
