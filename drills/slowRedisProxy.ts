/**
 * A TCP proxy in front of redis-server that delays everything a client sends by `delayMs` before
 * passing it on (replies pass straight back), so each command answers at least `delayMs` late: a
 * slow Redis without touching Redis. Loopback only. Counts what it holds so a drill can tell a
 * breaker that trips (few commands held) from calls stacking up (many).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Chunks one connection may have waiting; beyond it the connection is dropped (a bound, not a buffer). */
const MAX_PENDING_PER_CONNECTION = 10_000;

export interface SlowProxy {
  port: number;
  /** Delay added to each client→Redis chunk, ms; 0 passes through. Changes apply to new chunks. */
  delayMs: number;
  /** Chunks held back right now, and the most held at once. */
  stats(): { pending: number; maxPending: number; chunks: number; connections: number };
  close(): Promise<void>;
}

export async function startSlowRedisProxy(redisPort: number, delayMs = 0): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  let pending = 0;
  let maxPending = 0;
  let chunks = 0;
  let connections = 0;
  const proxy: SlowProxy = {
    port: 0,
    delayMs,
    stats: () => ({ pending, maxPending, chunks, connections }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let mine = 0;
    // Chunks leave in arrival order: each waits for its own deadline and for the one before it.
    let tail = Promise.resolve();
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      chunks++;
      if (mine >= MAX_PENDING_PER_CONNECTION) return drop();
      mine++;
      pending++;
      maxPending = Math.max(maxPending, pending);
      const due = Date.now() + proxy.delayMs;
      tail = tail.then(
        () =>
          new Promise<void>((resolve) => {
            const send = () => {
              mine--;
              pending--;
              if (!upstream.destroyed) upstream.write(chunk);
              resolve();
            };
            const wait = due - Date.now();
            if (wait > 0) setTimeout(send, wait);
            else send();
          }),
      );
    });
    upstream.on('data', (b: Buffer) => client.write(b));
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', () => {
        sockets.delete(s);
        drop();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
