/**
 * `npm run drill`: fault drills against real parts on loopback (redis-server standalone, Sentinel
 * and Cluster; three `secrets-gateway serve` processes; the KMS emulator over HTTPS), each under
 * a steady mixed load, each bounded in time and stopping by itself. Prints one row per drill and
 * writes the table into DRILLS.md (between its markers; the rest of the file is kept).
 *   DRILL_WATCHERS (default 1000)  DRILL_LOOPS (default 4)  DRILL_ONLY=name,name  DRILL_NO_WRITE=1
 * Not part of npm test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { KmsEmulator } from '@secrets-gateway/kms-emulator';
import { startRedis, startRedisCluster, startRedisSentinel } from '../test/helpers/redis';
import { fmt, gatewayEnv, Load, sleep, startGateways, startKms, until, WATCHED, type Cluster, type Row } from './harness';
import { startSlowRedisProxy } from './slowRedisProxy';

const WATCHERS = Number(process.env.DRILL_WATCHERS ?? 1000);
const LOOPS = Number(process.env.DRILL_LOOPS ?? 4);
const DRILL_TIMEOUT_MS = 180_000;
const FAULT_MS = 8000;

interface Ctx {
  emu: KmsEmulator;
  cluster: Cluster;
  load: Load;
  /** Labels what follows (hot-read failures are tallied per phase). */
  phase(name: string): void;
  /** Rotates WATCHED; returns the new version id. */
  rotate(): string;
  note: string[];
}

interface Drill {
  name: string;
  /** The bar, in words, for the table's notes. */
  bar: string;
  redis(): Promise<{ env: Record<string, string>; stop(): Promise<void> } & Record<string, unknown>>;
  env?: Record<string, string>;
  /** Injects the fault, rotates WATCHED during it, recovers. Returns extra facts for the bar. */
  fault(ctx: Ctx, redis: Record<string, unknown>): Promise<Record<string, number | boolean>>;
  met(row: Row, facts: Record<string, number | boolean>, ctx: Ctx): boolean;
}

const noHotFailures = (r: Row) => Object.keys(r.hotFailures).length === 0;

/** One standalone redis-server for a drill; the fault gets it as `r`. */
async function standaloneRedis() {
  const r = await startRedis();
  return { env: { SECRETS_GATEWAY_REDIS_URL: r.url }, stop: () => r.stop(), r };
}

const DRILLS: Drill[] = [
  {
    name: 'redis-restart',
    bar: '0 failed hot reads, 0 missed rotations',
    redis: standaloneRedis,
    fault: async (ctx, { r }) => {
      const redis = r as Awaited<ReturnType<typeof startRedis>>;
      await redis.kill();
      await sleep(FAULT_MS / 2);
      ctx.rotate();
      await sleep(FAULT_MS / 2);
      await redis.start();
      return {};
    },
    met: (row) => noHotFailures(row) && row.missed === 0,
  },
  {
    name: 'sentinel-failover',
    bar: '0 failed hot reads, replica promoted, new writes land on the new master, 0 missed',
    redis: async () => {
      const rs = await startRedisSentinel('drill', { replicas: 1 });
      return { env: { SECRETS_GATEWAY_REDIS_SENTINELS: `127.0.0.1:${rs.sentinel.port}`, SECRETS_GATEWAY_REDIS_SENTINEL_NAME: rs.name }, stop: () => rs.stop(), rs };
    },
    fault: async (ctx, { rs }) => {
      const s = rs as Awaited<ReturnType<typeof startRedisSentinel>>;
      const replica = new Redis(s.replicas[0]!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await replica.connect();
        await until(async () => (await replica.dbsize()) > 0, 10_000);
        await s.master.kill();
        ctx.rotate();
        const promoted = await until(async () => (await s.masterPort()) === s.replicas[0]!.port, 30_000);
        const atPromotion = await replica.dbsize();
        await sleep(FAULT_MS / 2);
        const later = await replica.dbsize();
        return { promoted, newWrites: later > atPromotion };
      } finally {
        replica.disconnect();
      }
    },
    met: (row, f) => noHotFailures(row) && f.promoted === true && f.newWrites === true && row.missed === 0,
  },
  {
    name: 'cluster-master-killed',
    bar: '0 failed hot reads, its replica takes over, 0 missed',
    redis: async () => {
      const c = await startRedisCluster(3, 1);
      return { env: { SECRETS_GATEWAY_REDIS_CLUSTER_NODES: c.nodes.map((n) => `${n.host}:${n.port}`).join(',') }, stop: () => c.stop(), c };
    },
    fault: async (ctx, { c }) => {
      const cl = c as Awaited<ReturnType<typeof startRedisCluster>>;
      const masters = await cl.masterPorts();
      const victim = cl.instances.find((i) => i.port === masters[0])!;
      await victim.kill();
      ctx.rotate();
      const tookOver = await until(async () => (await cl.masterPorts()).length === 3, 30_000);
      await sleep(FAULT_MS / 2);
      return { tookOver };
    },
    met: (row, f) => noHotFailures(row) && f.tookOver === true && row.missed === 0,
  },
  {
    name: 'gateway-replica-sigkill',
    bar: 'every watcher of the killed replica resumes elsewhere, 0 missed; only reads in flight at the kill fail',
    redis: standaloneRedis,
    fault: async (ctx) => {
      // The watchers on replica 0 when it dies, and how often each had reconnected before.
      const victims = ctx.load.watchers.filter((w) => w.on === 0).map((w) => ({ w, before: w.reconnects }));
      await ctx.cluster.kill(0);
      ctx.rotate();
      await sleep(FAULT_MS);
      const resumedCount = () => victims.filter((v) => v.w.reconnects > v.before && v.w.on !== 0).length;
      const t0 = Date.now();
      await until(() => resumedCount() >= victims.length, 30_000);
      return { resumed: resumedCount(), expected: victims.length, resumedWithinS: Math.round((Date.now() - t0) / 1000 + FAULT_MS / 1000) };
    },
    met: (row, f) => row.missed === 0 && f.resumed === f.expected && Object.entries(row.hotFailures).every(([k, v]) => k === 'UNAVAILABLE' && v <= LOOPS),
  },
  {
    name: 'kms-region-down-and-throttled',
    bar: '0 failed hot reads; cold reads answered or RESOURCE_EXHAUSTED/DEADLINE_EXCEEDED; KMS requests to the live region within the budget',
    env: { SECRETS_GATEWAY_KMS_BUDGET_QPS: '10', SECRETS_GATEWAY_KMS_BUDGET_BURST: '10' },
    redis: standaloneRedis,
    fault: async (ctx) => {
      await ctx.emu.faults.down('cn-hangzhou');
      ctx.emu.faults.set('cn-shanghai', { qpsLimit: 5 });
      const before = ctx.emu.counters('cn-shanghai').GetSecretValue ?? 0;
      const t0 = Date.now();
      await sleep(FAULT_MS / 2);
      ctx.rotate();
      await sleep(FAULT_MS / 2);
      const seconds = (Date.now() - t0) / 1000;
      const calls = (ctx.emu.counters('cn-shanghai').GetSecretValue ?? 0) - before;
      await ctx.emu.faults.up('cn-hangzhou');
      ctx.emu.faults.clear('cn-shanghai');
      return { calls, allowed: Math.ceil(10 * seconds + 10) };
    },
    met: (row, f) =>
      noHotFailures(row) && Object.keys(row.coldFailures).every((k) => k === 'RESOURCE_EXHAUSTED' || k === 'DEADLINE_EXCEEDED') && (f.calls as number) <= (f.allowed as number) && row.missed === 0,
  },
  {
    name: 'kms-and-redis-down',
    bar: 'hot reads answer (STALE once past TTL), every gateway alive, recovers: 0 missed after',
    env: { SECRETS_GATEWAY_CACHE_TTL_MS: '3000' },
    redis: standaloneRedis,
    fault: async (ctx, { r }) => {
      const redis = r as Awaited<ReturnType<typeof startRedis>>;
      await redis.kill();
      for (const region of ['cn-hangzhou', 'cn-shanghai']) await ctx.emu.faults.down(region);
      ctx.phase('both down');
      await sleep(FAULT_MS);
      const alive = ctx.cluster.gws.every((g) => isAlive(g.pid));
      ctx.phase('redis back, KMS still down');
      await redis.start();
      await sleep(2000);
      ctx.phase('both back');
      for (const region of ['cn-hangzhou', 'cn-shanghai']) await ctx.emu.faults.up(region);
      ctx.rotate(); // after recovery: KMS was unreachable, so no rotation could be seen during the outage
      return { alive };
    },
    met: (row, f) => noHotFailures(row) && row.stale > 0 && f.alive === true && row.missed === 0,
  },
  {
    name: 'slow-redis',
    bar: '0 failed hot reads; the Redis breaker opens on every replica; commands held by the proxy stay few',
    redis: async () => {
      const r = await startRedis();
      const proxy = await startSlowRedisProxy(r.port);
      return { env: { SECRETS_GATEWAY_REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, stop: async () => (await proxy.close(), await r.stop()), proxy };
    },
    fault: async (ctx, { proxy }) => {
      const p = proxy as Awaited<ReturnType<typeof startSlowRedisProxy>>;
      const opensBefore = ctx.cluster.gws.map((g) => breakerOpens(g.logs()));
      const chunksBefore = p.stats().chunks;
      p.delayMs = 1500; // three times the command timeout (500 ms)
      await sleep(FAULT_MS / 2);
      ctx.rotate();
      await sleep(FAULT_MS / 2);
      const s = p.stats();
      p.delayMs = 0;
      const opened = ctx.cluster.gws.map((g, i) => breakerOpens(g.logs()) - opensBefore[i]!);
      return { everyReplicaTripped: opened.every((n) => n > 0), maxHeld: s.maxPending, commandsDuringFault: s.chunks - chunksBefore };
    },
    met: (row, f) => noHotFailures(row) && f.everyReplicaTripped === true && row.missed === 0,
  },
];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const breakerOpens = (logs: string) => (logs.match(/shared tier breaker open/g) ?? []).length;

async function runDrill(d: Drill, coldOffset: number): Promise<Row> {
  const started = Date.now();
  const kms = await startKms();
  const redis = await d.redis();
  let cluster: Cluster | undefined;
  let load: Load | undefined;
  const note: string[] = [];
  try {
    cluster = await startGateways(gatewayEnv(kms.emu, kms.caFile, redis.env, d.env));
    load = new Load(cluster, { watchers: WATCHERS, loops: LOOPS, coldOffset });
    const l = load;
    if (!(await until(() => l.allAt('v1'), 60_000))) note.push('not every watcher got v1 within 60 s');
    kms.emu.resetCounters();
    const loadStart = Date.now();
    const requestsBefore = l.requests;
    await sleep(2000);
    let latest = 'v1';
    let published = 0;
    const ctx: Ctx = {
      emu: kms.emu,
      cluster,
      load: l,
      note,
      phase: (name) => void (l.phase = name),
      rotate: () => {
        published++;
        latest = kms.emu.store.putSecretValue({ name: WATCHED, versionId: `v${published + 1}`, data: `SENTINEL-rotated-${published}` }).versionId;
        return latest;
      },
    };
    l.phase = 'fault';
    const facts = await d.fault(ctx, redis);
    l.phase = 'after';
    await until(() => l.allAt(latest), 30_000);
    await sleep(2000);
    await l.stop();
    const delivered = l.watchers.filter((w) => w.versions.includes(latest)).length;
    const row: Row = {
      drill: d.name,
      seconds: Math.round((Date.now() - loadStart) / 1000),
      requests: l.requests - requestsBefore,
      hotFailures: l.hotFailures,
      coldFailures: l.coldFailures,
      stale: l.stale,
      kmsCalls: kms.emu.counters().GetSecretValue ?? 0,
      published: published * l.watchers.length,
      delivered: published * delivered,
      missed: published * (l.watchers.length - delivered),
      bar: false,
      note: '',
    };
    row.bar = d.met(row, facts, ctx);
    note.push(Object.entries(facts).map(([k, v]) => `${k}=${v}`).join(' '));
    if (Object.keys(l.hotFailuresByPhase).length) note.push(`hot failures by phase: ${fmt(l.hotFailuresByPhase)}`);
    if (process.env.DRILL_DETAILS) note.push(...l.hotFailureDetails);
    row.note = note.filter(Boolean).join('; ');
    return row;
  } finally {
    await load?.stop();
    await cluster?.close();
    await redis.stop();
    await kms.close();
    void started;
  }
}

function withTimeout(p: Promise<Row>, name: string): Promise<Row> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<Row>((resolve) => {
    timer = setTimeout(
      () => resolve({ drill: name, seconds: DRILL_TIMEOUT_MS / 1000, requests: 0, hotFailures: {}, coldFailures: {}, stale: 0, kmsCalls: 0, published: 0, delivered: 0, missed: 0, bar: false, note: `did not finish within ${DRILL_TIMEOUT_MS / 1000} s` }),
      DRILL_TIMEOUT_MS,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const HEADER = ['drill', 's', 'requests', 'hot-read failures', 'cold-read failures', 'stale', 'KMS calls', 'rotations published', 'delivered', 'missed', 'bar', 'facts'];
const cells = (r: Row) => [r.drill, r.seconds, r.requests, fmt(r.hotFailures), fmt(r.coldFailures), r.stale, r.kmsCalls, r.published, r.delivered, r.missed, r.bar ? 'met' : '**missed**', r.note].map(String);

function machineFacts(): string[] {
  const cpu = os.cpus();
  const redis = (() => {
    try {
      return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim().split(' ').slice(0, 3).join(' ');
    } catch {
      return 'redis-server not found';
    }
  })();
  return [
    `- ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}`,
    `- node ${process.version}, ${redis}`,
    `- load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (a machine shared with other work)`,
    `- ${WATCHERS} watchers over 3 replicas, ${LOOPS} read loops (1 read in 10 on a never-read name), 5 s deadline per read`,
  ];
}

async function main() {
  const only = process.env.DRILL_ONLY?.split(',').filter(Boolean);
  const facts = machineFacts();
  const rows: Row[] = [];
  console.log(HEADER.join(' | '));
  let cold = 0;
  for (const d of DRILLS.filter((x) => !only || only.includes(x.name))) {
    const row = await withTimeout(
      runDrill(d, cold).catch((e: Error) => ({ drill: d.name, seconds: 0, requests: 0, hotFailures: {}, coldFailures: {}, stale: 0, kmsCalls: 0, published: 0, delivered: 0, missed: 0, bar: false, note: `error: ${e.message.split('\n')[0]}` })),
      d.name,
    );
    cold += 500;
    rows.push(row);
    console.log(cells(row).join(' | '));
  }
  const table = [
    `Command: \`npm run drill\` (DRILL_WATCHERS=${WATCHERS} DRILL_LOOPS=${LOOPS}), run ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...facts,
    '',
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).join(' | ')} |`),
    '',
    'Bars:',
    '',
    ...DRILLS.filter((x) => rows.some((r) => r.drill === x.name)).map((x) => `- **${x.name}**: ${x.bar}`),
  ].join('\n');
  if (!process.env.DRILL_NO_WRITE) {
    const file = join(__dirname, '..', 'DRILLS.md');
    const begin = '<!-- drills:begin -->';
    const end = '<!-- drills:end -->';
    const prev = existsSync(file) ? readFileSync(file, 'utf8') : `# Fault drills\n\n${begin}\n${end}\n`;
    const at = prev.indexOf(begin);
    const to = prev.indexOf(end);
    const next = at >= 0 && to > at ? `${prev.slice(0, at + begin.length)}\n${table}\n${prev.slice(to)}` : `${prev}\n${begin}\n${table}\n${end}\n`;
    writeFileSync(file, next);
    console.log(`\nwrote ${file}`);
  }
  process.exit(rows.every((r) => r.bar) ? 0 : 1);
}

void main();
