/**
 * The admin endpoint (HTTP, 127.0.0.1 only) for dev demos and tests in other processes:
 *
 * | method + path                 | body                                        | does |
 * |-------------------------------|---------------------------------------------|------|
 * | GET  /admin/state             |                                             | regions, faults, counters, request log, secret metadata |
 * | POST /admin/faults            | `{regionId?, latencyMs?, error?, qpsLimit?}` | replaces the faults of a region (all when no regionId) |
 * | POST /admin/faults/clear      | `{regionId?}`                               | clears faults |
 * | POST /admin/down, /admin/up   | `{regionId}`                                | region connections refused / back |
 * | POST /admin/reset-counters    |                                             | zeroes counters, empties the request log |
 * | POST /admin/rotate            | `{name, versionId?}`                        | rotates (Generic too) |
 * | POST /admin/put-secret-value  | `{name, versionId?, text? \| binaryBase64?, stages?}` | new version |
 * | GET  /creds                   |                                             | an STS credentials-URI document |
 *
 * Answers never carry secret values, AccessKey secrets or tokens (except `/creds`, whose job it is).
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../src/telemetry/logger';
import { KmsApiError } from './errors';
import { readBody, sendJson } from './httpUtil';
import type { StsService } from './sts';
import type { FaultSpec, KmsEmulator } from './types';

const MAX_BODY_BYTES = 64 * 1024;

/** What the admin endpoint drives: the emulator's public face plus the STS document. */
export type AdminTarget = Pick<KmsEmulator, 'regions' | 'faults' | 'counters' | 'requestLog' | 'resetCounters' | 'store'> & {
  isUp(regionId: string): boolean;
  sts: StsService;
};

export interface AdminServer {
  url: string;
  close(): Promise<void>;
}

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function field(body: Record<string, unknown>, name: string, required: true): string;
function field(body: Record<string, unknown>, name: string, required?: false): string | undefined;
function field(body: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !v) throw new AdminError(400, `${name} must be a non-empty string`);
  return v;
}

export async function startAdminServer(target: AdminTarget, opts: { port: number; logger: Logger }): Promise<AdminServer> {
  const regionIds = () => Object.keys(target.regions);
  const region = (body: Record<string, unknown>) => {
    const id = field(body, 'regionId', true);
    if (!target.regions[id]) throw new AdminError(404, `unknown region ${id} (known: ${regionIds().join(', ')})`);
    return id;
  };

  const state = () => ({
    regions: Object.fromEntries(
      regionIds().map((id) => [id, { ...target.regions[id], up: target.isUp(id), faults: target.faults.get(id), counters: target.counters(id) }]),
    ),
    counters: target.counters(),
    requestLog: target.requestLog(),
    secrets: target.store.listSecrets().map((d) => ({
      name: d.name,
      type: d.type,
      plannedDeleteTime: d.plannedDeleteTime,
      nextRotationDate: d.nextRotationDate,
      versions: d.plannedDeleteTime ? [] : target.store.listSecretVersionIds(d.name, { includeDeprecated: true }),
    })),
  });

  const routes: Record<string, (body: Record<string, unknown>) => unknown | Promise<unknown>> = {
    'GET /admin/state': state,
    'GET /creds': () => target.sts.credentialsDocument(),
    'POST /admin/faults': (b) => {
      const { regionId, ...spec } = b;
      const ids = regionId === undefined ? regionIds() : [region(b)];
      for (const id of ids) target.faults.set(id, spec as FaultSpec);
      return { regions: ids };
    },
    'POST /admin/faults/clear': (b) => {
      target.faults.clear(b.regionId === undefined ? undefined : region(b));
      return { ok: true };
    },
    'POST /admin/down': async (b) => {
      await target.faults.down(region(b));
      return { ok: true };
    },
    'POST /admin/up': async (b) => {
      await target.faults.up(region(b));
      return { ok: true };
    },
    'POST /admin/reset-counters': () => {
      target.resetCounters();
      return { ok: true };
    },
    'POST /admin/rotate': (b) => {
      const name = field(b, 'name', true);
      return { name, ...target.store.rotateSecret(name, { versionId: field(b, 'versionId') }) };
    },
    'POST /admin/put-secret-value': (b) => {
      const name = field(b, 'name', true);
      const text = field(b, 'text');
      const binary = field(b, 'binaryBase64');
      if ((text === undefined) === (binary === undefined)) throw new AdminError(400, 'give exactly one of text or binaryBase64');
      if (b.stages !== undefined && !Array.isArray(b.stages)) throw new AdminError(400, 'stages must be a list');
      const v = target.store.putSecretValue({
        name,
        versionId: field(b, 'versionId') ?? randomUUID(),
        data: (text ?? binary)!,
        dataType: text === undefined ? 'binary' : 'text',
        stages: b.stages as string[] | undefined,
      });
      return { name, ...v };
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const key = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    try {
      const route = Object.hasOwn(routes, key) ? routes[key] : undefined;
      if (!route) throw new AdminError(404, `no route ${key}`);
      const raw = await readBody(req, MAX_BODY_BYTES);
      let body: Record<string, unknown> = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
        } catch {
          throw new AdminError(400, 'the body must be JSON');
        }
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AdminError(400, 'the body must be a JSON object');
      }
      sendJson(res, 200, await route(body));
    } catch (e) {
      if (e instanceof AdminError) sendJson(res, e.status, { error: e.message });
      else if (e instanceof KmsApiError) sendJson(res, e.httpStatus, { error: e.message, code: e.code });
      else if (e instanceof RangeError) sendJson(res, 400, { error: e.message });
      else {
        opts.logger.error('kms emulator admin: internal error', { error: e instanceof Error ? e.message : String(e) });
        sendJson(res, 500, { error: 'internal error' });
      }
    }
  };

  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
