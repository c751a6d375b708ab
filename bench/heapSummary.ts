/**
 * Reads V8 heap snapshots (`.heapsnapshot`, as `--heapsnapshot-signal` writes them) into self
 * size and count per kind of object: an object by its constructor name, a closure by its
 * function's name, everything else by its V8 node type. Two summaries diffed and divided by the
 * number of streams opened between them say which objects a stream costs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type HeapSummary = Map<string, { bytes: number; count: number }>;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function kindOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name.split(' ')[0] || '(object)';
    case 'closure':
      return `(closure) ${name || 'anonymous'}`;
    case 'array':
    case 'hidden':
    case 'native':
    case 'object shape':
      return `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    default:
      return `(${type})`;
  }
}

/** Self size and count per kind of every node in a snapshot file. */
export function summarise(file: string): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const out: HeapSummary = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const kind = kindOf(types[s.nodes[i + iType]!]!, s.strings[s.nodes[i + iName]!]!);
    const e = out.get(kind) ?? { bytes: 0, count: 0 };
    e.bytes += s.nodes[i + iSize]!;
    e.count++;
    out.set(kind, e);
  }
  return out;
}

export function totalBytes(h: HeapSummary): number {
  let t = 0;
  for (const v of h.values()) t += v.bytes;
  return t;
}

/** Per stream: (with − without) / streams, largest first, rows above `minBytes` per stream. */
export function perStream(withStreams: HeapSummary, without: HeapSummary, streams: number, minBytes = 8): { kind: string; bytes: number; count: number }[] {
  const rows = [...withStreams].map(([kind, v]) => {
    const b = without.get(kind) ?? { bytes: 0, count: 0 };
    return { kind, bytes: (v.bytes - b.bytes) / streams, count: (v.count - b.count) / streams };
  });
  return rows.filter((r) => r.bytes >= minBytes).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Sends `signal` to `pid` (started with `--heapsnapshot-signal=<signal> --diagnostic-dir=<dir>`) and
 * resolves with the snapshot's path once V8 has finished writing it.
 */
export async function takeSnapshot(pid: number, dir: string, signal: NodeJS.Signals = 'SIGUSR2', timeoutMs = 300_000): Promise<string> {
  const mine = () => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.heapsnapshot') && n.includes(`.${pid}.`)) : []);
  const before = new Set(mine());
  process.kill(pid, signal);
  const end = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    if (Date.now() > end) throw new Error(`no heap snapshot from pid ${pid} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
    const fresh = mine().find((n) => !before.has(n));
    if (!fresh) continue;
    const path = join(dir, fresh);
    const size = statSync(path).size;
    // Done when it stops growing and ends as a JSON object does.
    if (size === last && size > 0 && readFileSync(path).subarray(-2).toString().includes('}')) return path;
    last = size;
  }
}
