/**
 * One region's endpoint: a real HTTP(S) server on 127.0.0.1 speaking the KMS/STS RPC wire format.
 * Each request goes: count → latency → throttle / injected error → authenticate → version check →
 * action → answer, and leaves one request-log entry and one log line (names and codes only).
 * "Down" closes the listener and every connection, so clients get ECONNREFUSED.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../../src/telemetry/logger';
import { KMS_ACTIONS, KMS_VERSION, runKmsAction } from './actions';
import type { Authenticator, AuthRequest } from './auth';
import { KmsApiError, missing } from './errors';
import { instanceErrorBody, type InstanceApi } from './instanceApi';
import { createRegionFaults, type RegionFaults } from './faults';
import { distinctHeaders, paramsOf, readBody, sendJson } from './httpUtil';
import type { RequestLog } from './requestLog';
import { nameFromArn, type SecretStoreApi } from './store';
import { STS_ACTIONS, STS_VERSION, type StsService } from './sts';
import { isoSeconds } from './time';
import type { LoggedRequest, RegionEndpoint } from './types';

const MAX_BODY_BYTES = 1 << 20;
const DOWN_SETTLE_MS = 25;
/** Path of the credentials-URI document (`@alicloud/credentials` type `credentials_uri`). */
export const CREDENTIALS_PATH = '/creds';

export interface RegionServerDeps {
  regionId: string;
  /** Fixed port; 0 picks one. */
  port: number;
  tls?: { key: string; cert: string };
  store: SecretStoreApi;
  sts: StsService;
  auth: Authenticator;
  log: RequestLog;
  logger: Logger;
  now: () => number;
  /** Set for a dedicated instance's endpoint: it also answers the instance API (ClientKey, protobuf). */
  instance?: InstanceApi;
}

export interface RegionServer {
  readonly info: RegionEndpoint;
  readonly faults: RegionFaults;
  /** Calls per action since the last reset. */
  readonly counters: Map<string, number>;
  readonly isUp: boolean;
  up(): Promise<void>;
  down(): Promise<void>;
}

type Outcome = Pick<LoggedRequest, 'signatureVersion' | 'credential' | 'httpStatus' | 'code' | 'fault'>;

interface ParsedRequest {
  authReq: AuthRequest;
  /** Query and form params merged (form wins), as both SDK paths split them differently. */
  params: Record<string, string>;
  action: string;
  version?: string;
  isSts: boolean;
  secretName?: string;
}

/** Lower-case header name → first value (the instance API's headers are single-valued). */
function firstHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  for (const [k, v] of Object.entries(req.headersDistinct)) if (v) out[k.toLowerCase()] = v[0];
  return out;
}

function sendProtobuf(res: ServerResponse, status: number, body: Uint8Array): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/x-protobuf', 'content-length': String(body.length) });
  res.end(body);
}

function parseRequest(req: IncomingMessage, body: Buffer): ParsedRequest {
  const [pathname = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2) as [string?, string?];
  const query = paramsOf(new URLSearchParams(rawQuery));
  const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  const form = isForm ? paramsOf(new URLSearchParams(body.toString('utf8'))) : {};
  const headers = distinctHeaders(req);
  const params: Record<string, string> = { ...query, ...form };
  // V3 (openapi-client) sends Action/Version only as x-acs-* headers; V1 puts them in the query.
  const action = params.Action ?? headers['x-acs-action']?.[0] ?? '';
  return {
    authReq: { method: req.method ?? 'GET', pathname, query, form, headers, body },
    params,
    action,
    version: params.Version ?? headers['x-acs-version']?.[0],
    isSts: STS_ACTIONS.has(action),
    secretName: params.SecretName ? nameFromArn(params.SecretName) : undefined,
  };
}

export function createRegionServer(deps: RegionServerDeps): RegionServer {
  const { regionId, logger } = deps;
  const protocol = deps.tls ? 'https' : 'http';
  const faults = createRegionFaults({ now: deps.now });
  const counters = new Map<string, number>();
  const info: RegionEndpoint = { regionId, endpoint: '', port: deps.port, protocol };
  // Replaced on every up(), aborted on down(): requests in flight stop with their region.
  let lifecycle = new AbortController();
  let isUp = false;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      logger.error('kms emulator: request handling failed', { regionId, error: e instanceof Error ? e.message : String(e) });
      if (!res.destroyed) res.destroy();
    });
  };
  const server = deps.tls ? https.createServer({ key: deps.tls.key, cert: deps.tls.cert }, handler) : http.createServer(handler);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = deps.now();
    const requestId = randomUUID().toUpperCase();
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch {
      // Oversized or abandoned: nothing to answer, and nothing worth counting.
      if (!res.destroyed) res.destroy();
      return;
    }
    if (deps.instance) {
      const first = firstHeaders(req);
      if (deps.instance.claims(first)) return handleInstance(deps.instance, req, res, first, body, arrived, requestId);
    }
    const r = parseRequest(req, body);
    if (req.method === 'GET' && r.authReq.pathname === CREDENTIALS_PATH) {
      count('CredentialsURI');
      sendJson(res, 200, deps.sts.credentialsDocument(), { 'x-acs-request-id': requestId });
      record(arrived, 'CredentialsURI', undefined, { signatureVersion: 'none', credential: 'anonymous', httpStatus: 200, code: 'OK' });
      return;
    }
    const known = KMS_ACTIONS.has(r.action) || STS_ACTIONS.has(r.action) ? r.action : 'Unknown';
    count(known);
    const outcome: Outcome = { signatureVersion: deps.auth.scheme(r.authReq), credential: 'none', httpStatus: 200, code: 'OK' };
    const { abort, downSignal, release } = requestSignal(res);
    try {
      const answer = await serve(r, known, requestId, outcome, abort.signal);
      sendJson(res, 200, answer, { 'x-acs-request-id': requestId });
    } catch (e) {
      const apiError = failure(e, known, outcome, res, abort.signal, downSignal);
      if (apiError) sendJson(res, apiError.httpStatus, errorBody(apiError, requestId, r.isSts), { 'x-acs-request-id': requestId });
    } finally {
      release();
      record(arrived, known, r.secretName, outcome);
    }
  }

  /**
   * What a failed request answers, for both protocols: nothing (the connection is dropped) when the
   * region went down or the client left; else its KmsApiError, or InternalFailure for anything
   * unexpected (logged). Records the outcome either way.
   */
  function failure(e: unknown, action: string, outcome: Outcome, res: ServerResponse, signal: AbortSignal, downSignal: AbortSignal): KmsApiError | undefined {
    if (signal.aborted) {
      outcome.httpStatus = 0;
      outcome.code = downSignal.aborted ? 'RegionDown' : 'ClientClosed';
      if (!res.destroyed) res.destroy();
      return undefined;
    }
    let apiError: KmsApiError;
    if (e instanceof KmsApiError) apiError = e;
    else {
      logger.error('kms emulator: internal error', { regionId, action, error: e instanceof Error ? e.message : String(e) });
      apiError = new KmsApiError('InternalFailure', 500, 'Internal Failure.');
    }
    outcome.httpStatus = apiError.httpStatus;
    outcome.code = apiError.code;
    return apiError;
  }

  /** Aborted when the region goes down or the client goes away: a sleeping (latency) request stops with it. */
  function requestSignal(res: ServerResponse): { abort: AbortController; downSignal: AbortSignal; release: () => void } {
    const abort = new AbortController();
    const downSignal = lifecycle.signal;
    const onGone = () => abort.abort();
    downSignal.addEventListener('abort', onGone, { once: true });
    res.once('close', onGone);
    return {
      abort,
      downSignal,
      release: () => {
        downSignal.removeEventListener('abort', onGone);
        res.off('close', onGone);
      },
    };
  }

  /** The instance API: latency and injected faults as on the OpenAPI, then the RSA-signed request, answered in protobuf. */
  async function handleInstance(
    api: InstanceApi,
    req: IncomingMessage,
    res: ServerResponse,
    headers: Record<string, string | undefined>,
    body: Buffer,
    arrived: number,
    requestId: string,
  ): Promise<void> {
    const action = headers['x-kms-apiname'] ?? 'Unknown';
    const known = KMS_ACTIONS.has(action) ? action : 'Unknown';
    count(known);
    const outcome: Outcome = { signatureVersion: 'rsa', credential: 'none', httpStatus: 200, code: 'OK' };
    let secretName: string | undefined;
    const { abort, downSignal, release } = requestSignal(res);
    try {
      const latency = faults.latencyMs();
      if (latency > 0) {
        outcome.fault = 'latency';
        await delay(latency, undefined, { signal: abort.signal });
      }
      const decision = faults.decide(known);
      if (decision.error) {
        outcome.fault = decision.kind;
        throw decision.error;
      }
      const answer = api.serve({ method: req.method ?? 'GET', pathname: (req.url ?? '/').split('?', 1)[0]!, headers, body }, requestId);
      outcome.credential = 'clientkey';
      secretName = answer.secretName;
      sendProtobuf(res, 200, answer.body);
    } catch (e) {
      const apiError = failure(e, known, outcome, res, abort.signal, downSignal);
      if (apiError) sendProtobuf(res, apiError.httpStatus, instanceErrorBody(apiError, requestId));
    } finally {
      release();
      record(arrived, known, secretName, outcome);
    }
  }

  /** The request pipeline after counting: latency, throttle/injected error, authentication, version, action. */
  async function serve(r: ParsedRequest, known: string, requestId: string, outcome: Outcome, signal: AbortSignal): Promise<Record<string, unknown>> {
    const latency = faults.latencyMs();
    if (latency > 0) {
      outcome.fault = 'latency';
      await delay(latency, undefined, { signal });
    }
    const decision = faults.decide(known);
    if (decision.error) {
      outcome.fault = decision.kind;
      throw decision.error;
    }
    if (r.action === 'AssumeRoleWithOIDC') {
      outcome.credential = 'anonymous'; // STS takes the OIDC token itself as the credential
    } else {
      const who = deps.auth.authenticate(r.authReq, { stsMessages: r.isSts });
      outcome.signatureVersion = who.signatureVersion;
      outcome.credential = who.credential;
    }
    if (!r.action) throw missing('Action');
    if (!r.version) throw missing('Version');
    if (r.version !== (r.isSts ? STS_VERSION : KMS_VERSION)) throw new KmsApiError('InvalidVersion', 400, 'Specified parameter Version is not valid.');
    return r.isSts ? deps.sts.handle(r.action, r.params, requestId) : runKmsAction(r.action, r.params, { regionId, requestId, store: deps.store });
  }

  function errorBody(e: KmsApiError, requestId: string, isSts: boolean) {
    const product = isSts ? 'Sts' : 'Kms';
    return {
      RequestId: requestId,
      HostId: isSts ? 'sts.aliyuncs.com' : `kms.${regionId}.aliyuncs.com`,
      Code: e.code,
      Message: e.message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(e.code)}&product=${product}&requestId=${requestId}`,
    };
  }

  function count(action: string) {
    counters.set(action, (counters.get(action) ?? 0) + 1);
  }

  function record(arrived: number, action: string, secretName: string | undefined, o: Outcome) {
    const entry = deps.log.push({ time: isoSeconds(arrived), regionId, action, ...(secretName ? { secretName } : {}), ...o });
    logger.info('kms emulator request', {
      regionId,
      action,
      secretName,
      code: entry.code,
      httpStatus: entry.httpStatus,
      auth: entry.signatureVersion,
      principal: entry.credential,
      fault: entry.fault,
    });
  }

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });

  return {
    info,
    faults,
    counters,
    get isUp() {
      return isUp;
    },
    async up() {
      if (isUp) return;
      lifecycle = new AbortController();
      await listen(info.port);
      info.port = (server.address() as AddressInfo).port;
      info.endpoint = `127.0.0.1:${info.port}`;
      isUp = true;
    },
    async down() {
      if (!isUp) return;
      isUp = false;
      lifecycle.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Give clients in this process a few event-loop turns to see their pooled keep-alive sockets
      // close, so their next call meets the closed port (ECONNREFUSED), not a dying socket (ECONNRESET).
      await delay(DOWN_SETTLE_MS);
    },
  };
}
