/**
 * Where an idle WatchSecret stream's bytes go: `node --import tsx bench/streamMemory.ts`.
 * Opens N idle streams (the Go generator, over C HTTP/2 connections) against the logic-free
 * grpc-js baseline (bench/baseline.ts: one message, then the call is held) and against one
 * `secrets-gateway dev`, one after the other in one run, and prints for each the RSS growth per
 * stream and, from heap snapshots with and without the streams, the V8 heap per stream by kind
 * of object. Knobs: STREAMS (default 10000), CONNS (10), TOP (25 rows), KEEP_SNAPSHOTS=1.
 * Loopback only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchSecretRequest } from '../src/gen/secretsgateway/v1/secrets_gateway';
import { startBaseline } from './baseline';
import { startDevGateway } from './gateways';
import { perStream, summarise, takeSnapshot, totalBytes, type HeapSummary } from './heapSummary';
import { startWatch } from './loadgen';
import { rssKiB } from './proc';

const NAME = 'demo/db-password';
const SIGNAL = 'SIGUSR2';

interface Measured {
  label: string;
  firstMessages: number;
  errors: number;
  errorSample: string;
  rssPerStreamKiB: number;
  heapPerStreamB: number;
  rows: ReturnType<typeof perStream>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * RSS before → N streams open and idle → RSS and a snapshot → streams closed → a snapshot
 * without them (after the with-streams one, so its cost is not counted in the RSS growth).
 */
async function measure(label: string, pid: number, port: number, dir: string, streams: number, conns: number): Promise<Measured> {
  const rss0 = rssKiB(pid);
  const request = WatchSecretRequest.encode(WatchSecretRequest.fromPartial({ name: NAME })).finish();
  // A version that never comes: the generator holds its streams until killed.
  const w = startWatch({ targets: [`127.0.0.1:${port}`], request, conns, streams, want: 'never-delivered', deliverTimeoutMs: 3_600_000 });
  w.delivered.catch(() => undefined); // never awaited: killed below
  let withStreams: HeapSummary;
  let ready;
  try {
    ready = await w.ready;
    await sleep(1000);
    const rss1 = rssKiB(pid);
    withStreams = summarise(await takeSnapshot(pid, dir, SIGNAL));
    const rssPerStreamKiB = (rss1 - rss0) / Math.max(1, ready.firstMessages);
    w.kill();
    await sleep(3000); // the server sees the connections go and ends the calls
    const without = summarise(await takeSnapshot(pid, dir, SIGNAL));
    const n = Math.max(1, ready.firstMessages);
    return {
      label,
      firstMessages: ready.firstMessages,
      errors: ready.errors,
      errorSample: ready.errorSample,
      rssPerStreamKiB,
      heapPerStreamB: (totalBytes(withStreams) - totalBytes(without)) / n,
      rows: perStream(withStreams, without, n),
    };
  } finally {
    w.kill();
  }
}

function render(ms: Measured[], streams: number, conns: number, top: number): string {
  const lines = [`${streams} idle WatchSecret streams over ${conns} connections, per stream:`, ''];
  lines.push(`| | ${ms.map((m) => m.label).join(' | ')} |`, `|---|${ms.map(() => '---:').join('|')}|`);
  lines.push(`| streams with a first message | ${ms.map((m) => `${m.firstMessages} (${m.errors} errors)`).join(' | ')} |`);
  lines.push(`| RSS / stream | ${ms.map((m) => `${m.rssPerStreamKiB.toFixed(2)} KiB`).join(' | ')} |`);
  lines.push(`| V8 heap / stream (snapshot diff) | ${ms.map((m) => `${(m.heapPerStreamB / 1024).toFixed(2)} KiB`).join(' | ')} |`);
  lines.push('', `Heap per stream by kind (bytes/stream, objects/stream), top ${top} of the gateway, beside the baseline:`, '');
  const [base, gw] = [ms[0]!, ms[ms.length - 1]!];
  const baseBy = new Map(base.rows.map((r) => [r.kind, r]));
  lines.push(`| kind | ${gw.label} B | ${gw.label} n | ${base.label} B | ${base.label} n |`, '|---|---:|---:|---:|---:|');
  for (const r of gw.rows.slice(0, top)) {
    const b = baseBy.get(r.kind);
    lines.push(`| ${r.kind.replace(/\|/g, '\\|')} | ${r.bytes.toFixed(0)} | ${r.count.toFixed(2)} | ${b ? b.bytes.toFixed(0) : '-'} | ${b ? b.count.toFixed(2) : '-'} |`);
  }
  for (const m of ms) if (m.errorSample) lines.push('', `${m.label} first error: ${m.errorSample}`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
  const streams = Number(process.env.STREAMS ?? 10_000);
  const conns = Number(process.env.CONNS ?? 10);
  const top = Number(process.env.TOP ?? 25);
  const dir = mkdtempSync(join(tmpdir(), 'sg-streammem-'));
  const flags = [`--heapsnapshot-signal=${SIGNAL}`, `--diagnostic-dir=${dir}`];
  const [baseline, gateway] = await Promise.all([startBaseline(undefined, flags), startDevGateway({ NODE_OPTIONS: flags.join(' ') })]);
  try {
    const ms = [
      await measure('grpc-js baseline', baseline.pid, baseline.port, dir, streams, conns),
      await measure('gateway (dev)', gateway.pid, gateway.port, dir, streams, conns),
    ];
    process.stdout.write(render(ms, streams, conns, top));
  } finally {
    baseline.stop();
    await gateway.crash();
    if (process.env.KEEP_SNAPSHOTS === '1') process.stderr.write(`snapshots kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`streamMemory: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
