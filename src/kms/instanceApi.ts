/**
 * The one module that speaks a dedicated KMS instance's own API with an AAP ClientKey (the
 * "dkms-gcs" protocol of the official instance SDKs; no npm package implements it). One request:
 * `POST https://<instance>/` with a protobuf body, signed per request (instanceSign.ts), TLS
 * verified against the instance CA. Errors come back as the protobuf `Error` message and leave
 * here shaped like the OpenAPI SDK's (`code`, `statusCode`, `data.RequestId`), so `classify`
 * turns both paths into the same typed errors. The SDKs' own retry loop is not copied: the pool
 * owns retries, backoff and failover for every target alike.
 */
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Error as ErrorMessage, GetSecretValueRequest as RequestMessage, GetSecretValueResponse as ResponseMessage } from '../gen/dkms/v1/instance_api';
import type { CallTimeouts, GetSecretValueRequest, GetSecretValueResponseBody, SecretValueClient } from './api';
import type { ClientKeyFiles } from './clientKey';
import { signedHeaders } from './instanceSign';

/** A GetSecretValue answer is small; anything beyond this is not a KMS instance talking. */
const MAX_RESPONSE_BYTES = 4 << 20;

export interface InstanceClientOptions {
  /** host[:port], no scheme. */
  endpoint: string;
  /** The instance CA (every PEM certificate in the file is trusted). */
  caPem?: string;
  /** Skip TLS verification (dev only: `ignoreSslCerts`, refused by `serve`). */
  insecureSkipVerify?: boolean;
  clientKey: ClientKeyFiles;
  userAgent?: string;
  now?: () => number;
  /** Resolves the instance host (tests map `<kst-id>.cryptoservice.kms.aliyuncs.com` to loopback, so the name check still runs). */
  lookup?: LookupFunction;
}

/** A failed instance-API call, duck-typed like the OpenAPI SDK's errors. Carries codes and ids only. */
export class InstanceApiError extends Error {
  readonly data: { Code?: string; RequestId?: string };
  constructor(
    readonly code: string | undefined,
    readonly statusCode: number,
    requestId: string | undefined,
    /** The instance's `Retry-After`, ms (classify.ts honours it on throttled and busy answers). */
    readonly retryAfterMs?: number,
  ) {
    super(`KMS instance answered HTTP ${statusCode}${code ? ` ${code}` : ''}`);
    this.data = { Code: code, RequestId: requestId };
  }
  override get name(): string {
    return 'InstanceApiError';
  }
}

class RequestTimeoutError extends Error {
  override get name(): string {
    return 'RequestTimeoutError';
  }
}

/**
 * The instance answers a bad Date or Authorization with `InvalidParam` and a message naming the
 * parameter; the official transfer SDKs re-map those to the OpenAPI codes (TG `errors.go`, TJ
 * `KmsErrorCodeTransferUtils`), which `classify` already files as our signature's fault.
 */
function normalizeCode(code: string | undefined, message: string): string | undefined {
  if (code !== 'InvalidParam') return code;
  if (/Param Date/i.test(message)) return 'IllegalTimestamp';
  if (/Param Authorization/i.test(message)) return 'IncompleteSignature';
  return code;
}

export function createInstanceClient(o: InstanceClientOptions): SecretValueClient {
  const now = o.now ?? Date.now;
  const [host, portText] = splitHostPort(o.endpoint);
  const agent = new https.Agent({ keepAlive: true, ca: o.caPem, rejectUnauthorized: !o.insecureSkipVerify });

  return {
    async getSecretValue(req: GetSecretValueRequest, t: CallTimeouts, signal?: AbortSignal): Promise<GetSecretValueResponseBody> {
      const key = await o.clientKey.get();
      const body = RequestMessage.encode({
        secretName: req.SecretName,
        versionStage: req.VersionStage ?? '',
        versionId: req.VersionId ?? '',
        fetchExtendedConfig: !!req.FetchExtendedConfig,
      }).finish();
      const headers = signedHeaders({ apiName: 'GetSecretValue', keyId: key.keyId, body, host: o.endpoint, now: now(), userAgent: o.userAgent }, key.privateKey);
      const res = await post({ host, port: portText ? Number(portText) : 443, headers, body, agent, lookup: o.lookup, timeouts: t, signal });
      if (res.status >= 200 && res.status < 300) {
        let m: ResponseMessage;
        try {
          m = ResponseMessage.decode(res.body);
        } catch {
          throw new SyntaxError('KMS instance sent an unreadable GetSecretValue response');
        }
        return toBody(m);
      }
      let e: ErrorMessage | undefined;
      try {
        e = ErrorMessage.decode(res.body);
      } catch {
        e = undefined; // a proxy's HTML page: the status alone decides
      }
      throw new InstanceApiError(normalizeCode(e?.errorCode || undefined, e?.errorMessage ?? ''), res.status, e?.requestId || undefined, retryAfterMs(res.retryAfter, now()));
    },
  };
}

const opt = (s: string): string | undefined => s || undefined;

/** An HTTP `Retry-After` (delay-seconds or an HTTP date) as ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function toBody(m: ResponseMessage): GetSecretValueResponseBody {
  return {
    RequestId: opt(m.requestId),
    SecretName: opt(m.secretName),
    SecretType: opt(m.secretType),
    VersionId: opt(m.versionId),
    CreateTime: opt(m.createTime),
    // An empty text value is a value: keep it whenever the name came back.
    SecretData: m.secretName ? m.secretData : opt(m.secretData),
    SecretDataType: opt(m.secretDataType),
    VersionStages: { VersionStage: m.versionStages },
    AutomaticRotation: opt(m.automaticRotation),
    LastRotationDate: opt(m.lastRotationDate),
    NextRotationDate: opt(m.nextRotationDate),
    RotationInterval: opt(m.rotationInterval),
    ExtendedConfig: opt(m.extendedConfig),
  };
}

function splitHostPort(endpoint: string): [string, string | undefined] {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint);
  if (v6) return [v6[1]!, v6[2]];
  const i = endpoint.lastIndexOf(':');
  return i > 0 ? [endpoint.slice(0, i), endpoint.slice(i + 1)] : [endpoint, undefined];
}

interface PostOptions {
  host: string;
  port: number;
  headers: Record<string, string>;
  body: Uint8Array;
  agent: https.Agent;
  lookup?: LookupFunction;
  timeouts: CallTimeouts;
  signal?: AbortSignal;
}

/**
 * One POST. Timeouts mean what they mean on the OpenAPI path (kms-wire.md §3): `connectTimeoutMs`
 * is a socket idle timer that stays armed, `readTimeoutMs` bounds the whole exchange.
 */
function post(p: PostOptions): Promise<{ status: number; body: Buffer; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let total: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, value?: { status: number; body: Buffer; retryAfter?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const req = https.request(
      { host: p.host, port: p.port, method: 'POST', path: '/', headers: p.headers, agent: p.agent, lookup: p.lookup, signal: p.signal, timeout: p.timeouts.connectTimeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) finish(new InstanceApiError(undefined, 502, undefined));
          else chunks.push(c);
        });
        const retryAfter = res.headers['retry-after'];
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter }));
        res.on('error', (e) => finish(e));
      },
    );
    total = setTimeout(() => finish(new RequestTimeoutError(`ReadTimeout(${p.timeouts.readTimeoutMs})`)), p.timeouts.readTimeoutMs);
    req.on('timeout', () => finish(new RequestTimeoutError(`ConnectTimeout(${p.timeouts.connectTimeoutMs})`)));
    req.on('error', (e) => finish(e));
    req.end(p.body);
  });
}
