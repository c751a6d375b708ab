/**
 * Stat polling for the files the gateway follows while it runs (policy, JWKS; the TLS files use
 * the same stamp): Kubernetes updates a mounted ConfigMap or Secret by swapping a symlink.
 */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { timerMs } from '../abort';

/**
 * Calls `onChange` when `file`'s stat differs from `baseline` (taken before the file was read), and
 * `onGone` once when it disappears; polls on an unref'd timer; returns the stop function. Not
 * fs.watch: a ConfigMap volume swaps a symlink, which stat follows and inotify misses. Not
 * fs.watchFile: it takes its baseline asynchronously, so a change just after the load could
 * become the baseline and be missed.
 */
export function pollFile(file: string, baseline: Stats, intervalMs: number, onChange: () => void, onGone: () => void): () => void {
  let last = stampOf(baseline);
  let busy = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    stat(file)
      .then(
        (st) => {
          const s = stampOf(st);
          if (s !== last && !stopped) {
            last = s;
            onChange();
          }
        },
        () => {
          if (last !== 'gone' && !stopped) {
            last = 'gone';
            onGone();
          }
        },
      )
      .finally(() => (busy = false));
  }, timerMs(intervalMs));
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** What changes when a file is replaced or rewritten. */
export const stampOf = (st: Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
