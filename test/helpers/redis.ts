/**
 * Private redis-server instances on loopback for tests: standalone, and a 3-master Redis Cluster.
 * Each instance gets its own port and temp dir, keeps nothing on disk, and is killed on stop (and
 * on process exit, so a crashed test never leaves a server behind).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { track } from './children';
import { realClockEnv } from './clock';

const run = promisify(execFile);

export interface RedisInstance {
  host: '127.0.0.1';
  port: number;
  url: string;
  /** SIGKILL the server (an outage). `start()` brings it back on the same port, empty. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port p such that p (and p+10000, the cluster bus, when asked) are free on loopback. */
export async function freePort(withBus = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if ((await portFree(p)) && (!withBus || (await portFree(p + 10000)))) return p;
  }
  throw new Error('no free loopback port found');
}

function spawnRedis(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...extra];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: realClockEnv() });
  track(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server on ${port} did not start:\n${out}`));
    }, 10_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (${e.message}); install Debian's redis-server`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function startRedis(extra: string[] = []): Promise<RedisInstance> {
  const port = await freePort(extra.includes('--cluster-enabled'));
  const dir = mkdtempSync(join(tmpdir(), 'sg-redis-'));
  let child: ChildProcess | undefined = await spawnRedis(port, dir, extra);
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      await killChild(child);
      child = undefined;
    },
    start: async () => {
      child = await spawnRedis(port, dir, extra);
    },
    stop: async () => {
      await killChild(child);
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  nodes: { host: '127.0.0.1'; port: number }[];
  /** Every instance, masters and replicas (kill() one to fail it). */
  instances: RedisInstance[];
  /** Ports of the nodes that are masters now. */
  masterPorts(): Promise<number[]>;
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters with `replicas` replicas each, slots spread by redis-cli. */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<RedisCluster> {
  const instances: RedisInstance[] = [];
  const cli = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...args], { env: realClockEnv() });
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      instances.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
    }
    const addrs = instances.map((r) => `127.0.0.1:${r.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], { env: realClockEnv() });
    // Creation returns before every node agrees; wait until each reports cluster_state:ok.
    for (const r of instances) {
      for (let i = 0; ; i++) {
        const { stdout } = await cli(r.port, 'cluster', 'info');
        if (stdout.includes('cluster_state:ok')) break;
        if (i > 100) throw new Error(`cluster node ${r.port} never reached cluster_state:ok`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  } catch (e) {
    await Promise.all(instances.map((r) => r.stop()));
    throw e;
  }
  return {
    nodes: instances.map((r) => ({ host: '127.0.0.1', port: r.port })),
    instances,
    masterPorts: async () => {
      const roles = await Promise.all(instances.map((r) => cli(r.port, 'role').then((o) => o.stdout.split('\n')[0] === 'master', () => false)));
      return instances.filter((_, i) => roles[i]).map((r) => r.port);
    },
    stop: async () => {
      await Promise.all(instances.map((r) => r.stop()));
    },
  };
}

export interface RedisSentinel {
  master: RedisInstance;
  /** Replicas of the master (`replicas` option), in start order. */
  replicas: RedisInstance[];
  sentinel: { host: '127.0.0.1'; port: number };
  name: string;
  /** The port of the master the sentinel names now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A master, `replicas` replicas of it, and one Sentinel monitoring it (quorum 1, down after 1 s),
 * all on loopback. With a replica, killing the master makes the sentinel promote it (one sentinel
 * is a majority of one, so it may authorize the failover alone).
 */
export async function startRedisSentinel(name = 'sgmaster', opts: { replicas?: number } = {}): Promise<RedisSentinel> {
  const master = await startRedis();
  const replicas: RedisInstance[] = [];
  for (let i = 0; i < (opts.replicas ?? 0); i++) replicas.push(await startRedis(['--replicaof', '127.0.0.1', String(master.port)]));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sg-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it gets its own writable copy.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'], env: realClockEnv() });
  track(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sentinel did not start:\n${out}`)), 10_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      // Ready once it monitors the master and (with replicas) has found every one of them.
      const found = (out.match(/\+slave slave/g) ?? []).length;
      if (out.includes('+monitor master') && found >= replicas.length) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve();
      }
    });
    child.stderr!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sentinel exited ${code}:\n${out}`));
    });
  });
  const cli = (...args: string[]) => run('redis-cli', ['-p', String(port), ...args], { env: realClockEnv() });
  return {
    master,
    replicas,
    sentinel: { host: '127.0.0.1', port },
    name,
    masterPort: async () => Number((await cli('sentinel', 'get-master-addr-by-name', name)).stdout.trim().split('\n')[1]),
    stop: async () => {
      await killChild(child);
      await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
