/**
 * A tiny loopback HTTP "KMS" for cross-process cache tests: the parent test runs the server (it
 * counts requests and decides every answer), the child processes read through `HttpSource`, a
 * SecretSource that fetches from it. The lead can later swap in the real KMS emulator.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AccessDeniedError, BackendUnavailableError, SecretNotFoundError } from '../../src/errors';
import type { SecretSelector, SecretVersion } from '../../src/model';
import type { SecretSource } from '../../src/cache/secretSource';

export type Reply = { status: 200; secret: SecretVersion } | { status: 403 | 404 | 503 } | 'hold';

export interface SeenRequest {
  sel: SecretSelector;
  worker: string;
  n: number;
}

export interface SecretServer {
  url: string;
  readonly requests: SeenRequest[];
  /** Decides each answer; may be async (latency). */
  handler: (req: SeenRequest) => Reply | Promise<Reply>;
  close(): Promise<void>;
}

export async function startSecretServer(handler: SecretServer['handler']): Promise<SecretServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const state = { handler };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const seen: SeenRequest = { sel: JSON.parse(u.searchParams.get('sel') ?? '{}') as SecretSelector, worker: String(req.headers['x-worker'] ?? ''), n: requests.length + 1 };
    requests.push(seen);
    Promise.resolve(state.handler(seen)).then(
      (reply) => {
        if (reply === 'hold' || res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json', connection: 'close' });
        res.end(reply.status === 200 ? JSON.stringify(reply.secret) : '{}');
      },
      () => res.destroy(),
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get handler() {
      return state.handler;
    },
    set handler(h) {
      state.handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The children's SecretSource: one HTTP GET per call, no keep-alive (nothing lingers after close). */
export class HttpSource implements SecretSource {
  constructor(
    private readonly baseUrl: string,
    private readonly workerId: string,
  ) {}

  getSecretValue(sel: SecretSelector, opts: { signal?: AbortSignal }): Promise<SecretVersion> {
    const url = `${this.baseUrl}/secret?sel=${encodeURIComponent(JSON.stringify(sel))}`;
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: false, signal: opts.signal, headers: { 'x-worker': this.workerId } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 200) return resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SecretVersion);
          if (status === 404) return reject(new SecretNotFoundError(`secret "${sel.name}" not found`));
          if (status === 403) return reject(new AccessDeniedError(`access to "${sel.name}" denied`));
          reject(new BackendUnavailableError(`source answered ${status}`));
        });
      });
      req.on('error', (e) => reject(opts.signal?.aborted ? e : new BackendUnavailableError('source unreachable', {}, { cause: e })));
      req.end();
    });
  }
}
