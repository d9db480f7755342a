/** The "did you mean" every refusal of an unknown name offers: rule keys, facts, operators, teams. */
import { closest, distance } from "fastest-levenshtein";

/**
 * The closest known name to a misspelt one, when it is close enough to be what was meant: the same
 * name in another case, or within a third of its length in edits (at least 2).
 */
export function didYouMean(input: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const folded = known.find((k) => k.toLowerCase() === input.toLowerCase());
  if (folded) return folded;
  const best = closest(input, known as string[]);
  return distance(input, best) <= Math.max(2, Math.floor(input.length / 3)) ? best : undefined;
}
