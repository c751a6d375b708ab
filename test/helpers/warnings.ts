/**
 * The explicit way for a test to trigger a Node process warning on purpose. Everywhere else a
 * warning fails the run (see failOnWarning.mjs, preloaded by scripts/test.mjs).
 */
const ALLOWED = Symbol.for('secrets-gateway.test.allowedWarnings');

type Match = (w: Error) => boolean;
const allowed: Set<Match> = ((globalThis as Record<symbol, unknown>)[ALLOWED] ??= new Set<Match>()) as Set<Match>;

/**
 * Runs `fn` while warnings named `name` (e.g. 'MaxListenersExceededWarning') are let through, and
 * returns them. Warnings are emitted on a later tick, so the window stays open until one more
 * macrotask after `fn` settles.
 */
export async function expectWarnings<T>(name: string, fn: () => Promise<T> | T): Promise<{ result: T; warnings: Error[] }> {
  const seen: Error[] = [];
  const match: Match = (w) => {
    if (w.name !== name) return false;
    seen.push(w);
    return true;
  };
  allowed.add(match);
  try {
    const result = await fn();
    await new Promise((resolve) => setImmediate(resolve));
    return { result, warnings: seen };
  } finally {
    allowed.delete(match);
  }
}
