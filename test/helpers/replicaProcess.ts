/**
 * Spawns cache "replicas" as separate Node processes (test/cache/fixtures/readWorker.ts, run with
 * `--import tsx`) and talks to them over IPC. A replica that is still running when the test ends is
 * SIGKILLed by `kill()` (register it with t.teardown) and on process exit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CacheConfig, RedisTarget, StoreStats } from '../../src/cache';
import type { KmsConfig } from '../../src/config/types';
import { track } from './children';
import type { SecretSelector } from '../../src/model';

const WORKER = join(__dirname, '..', 'cache', 'fixtures', 'readWorker.ts');

export interface ReplicaEnv {
  id: string;
  redis: RedisTarget;
  sourceUrl?: string;
  kms?: KmsConfig;
  keySpec: string;
  cache: Partial<CacheConfig>;
}

export interface ReadReport {
  sources: Record<string, number>;
  versions: string[];
  errors: string[];
  stats: StoreStats;
}

export interface Replica {
  id: string;
  pid: number;
  read(sel: SecretSelector, count: number): Promise<ReadReport>;
  /** Asks it to close its store and exit; resolves with its final stats and exit code. */
  close(): Promise<{ stats: StoreStats; exitCode: number | null }>;
  kill(): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`replica sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type: string }) => {
      if (m.type === type) finish(undefined, m as T);
    };
    const onExit = (code: number | null) => finish(new Error(`replica exited (${code}) before "${type}"`));
    const finish = (err?: Error, v?: T) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(v as T);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startReplica(env: ReplicaEnv): Promise<Replica> {
  const child = fork(WORKER, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SG_WORKER: JSON.stringify(env) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  track(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await nextMessage<{ pid: number }>(child, 'ready', 30_000).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\n${err}`);
  });
  return {
    id: env.id,
    pid: ready.pid,
    read: (sel, count) => {
      const done = nextMessage<ReadReport>(child, 'done', 60_000);
      child.send({ type: 'read', sel, count });
      return done;
    },
    close: async () => {
      const closed = nextMessage<{ stats: StoreStats }>(child, 'closed', 20_000);
      child.send({ type: 'close' });
      const { stats } = await closed;
      // It must exit on its own: nothing left open after close().
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const { code, signal } = await exited;
      clearTimeout(timer);
      return { stats, exitCode: signal ? null : code };
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    exited,
    stderr: () => err,
  };
}
