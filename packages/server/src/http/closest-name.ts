/**
 * The known name a mistyped one was most likely meant to be (`usrname` → `username`,
 * `registryId` → `registry_id`), or undefined when none is close enough to be a good guess.
 *
 * Case and the separators `_` and `-` are ignored, then the distance is the optimal string
 * alignment distance (inserting, deleting or replacing a character, or swapping two neighbours,
 * costs one). Close enough: at most a third of the typed name's length (at least one), and
 * fewer edits than either name has characters.
 */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  const target = fold(typed);
  const limit = Math.max(1, Math.floor(target.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const name of known) {
    const candidate = fold(name);
    // The lengths alone already say it is too far (and a huge typed name costs nothing).
    // Stryker disable next-line EqualityOperator: a shortcut; the distance is at least the length difference, so the check below refuses a tie too
    if (Math.abs(candidate.length - target.length) >= bestDistance) continue;
    const distance = editDistance(target, candidate);
    if (distance < bestDistance && distance < Math.min(target.length, candidate.length)) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, "");
}

/** Optimal string alignment distance, in UTF-16 code units (the contract's names are ASCII). */
export function editDistance(a: string, b: string): number {
  // Three rows of the table: distances from a's first i-2, i-1 and i characters to b's first j.
  // Stryker disable next-line ArrayDeclaration: never read as set here; from the second row on it holds row 0
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      // In the first row or column a[i - 2] or b[j - 2] is undefined, which equals no character.
      if (a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1);
      current.push(value);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
