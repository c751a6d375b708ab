/**
 * The admin HTTP server, apart from gRPC and plaintext (nothing secret is on it):
 *   GET /metrics  Prometheus text from the same OTel meter the OTLP exporter reads;
 *   GET /healthz  200 while the process runs its event loop (answering at all is the proof; the
 *                 kubelet's timeout catches a stuck loop), with the loop's recent delay;
 *   GET /readyz   200 when this replica can serve, else 503; the body says why (readiness.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HostPort } from '../config/parsers';
import type { ReadinessReport } from './readiness';

export interface AdminOptions {
  listen: HostPort;
  readiness: { check(): ReadinessReport };
  /** Absent: /metrics answers 404. */
  metrics?: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

const json = (res: ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
};

export async function startAdminServer(o: AdminOptions): Promise<AdminServer> {
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'GET only' });
    switch (path) {
      case '/metrics':
        if (o.metrics) return o.metrics(req, res);
        return json(res, 404, { error: 'metrics are off' });
      case '/healthz': {
        const body = { status: 'alive', eventLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e6), eventLoopDelayMaxMs: Math.round(loop.max / 1e6) };
        loop.reset();
        return json(res, 200, body);
      }
      case '/readyz': {
        const r = o.readiness.check();
        return json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...r });
      }
      default:
        return json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        loop.disable();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
