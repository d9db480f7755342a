/** Geo maths for travel features: great-circle distance and the speed it would take. Pure. */
import { getDistance } from "geolib";

export interface Point {
  lat: number;
  lon: number;
}

/** Great-circle distance, km (geolib's haversine, 1 m accuracy). */
export function distanceKm(a: Point, b: Point): number {
  return getDistance({ latitude: a.lat, longitude: a.lon }, { latitude: b.lat, longitude: b.lon }, 1) / 1000;
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
