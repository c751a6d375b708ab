/**
 * Real Alibaba SDK clients pointed at the emulator, for the fidelity tests: the legacy
 * `@alicloud/kms20160120` 1.2.0 client (V1, HTTP only: it cannot pin a CA) and
 * `@alicloud/openapi-client` 0.4.15 `callApi` signing V3 (default) or V1 (`signatureAlgorithm: 'v2'`).
 */
import http from 'node:http';
import type { ExecutionContext } from 'ava';
import KmsClient from '@alicloud/kms20160120';
import OpenApiClient, { Config as OpenApiConfig, OpenApiRequest, Params } from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';
import { Config as RpcConfig } from '@alicloud/rpc-client';
import { createKmsEmulator, type KmsEmulator, type KmsEmulatorOptions } from '@secrets-gateway/kms-emulator';
import { runtimeOptions } from '../../src/kms/api';

// Tests never let the credentials chain reach the ECS metadata address.
process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';

export const AK = { id: 'fidelity-ak', secret: 'fidelity-ak-secret-4d1c' };
export const REGION = 'cn-hangzhou';

export async function startEmulator(t: ExecutionContext, opts: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const emu = await createKmsEmulator({ regions: [REGION], tls: false, accessKeys: { [AK.id]: AK.secret }, ...opts });
  t.teardown(() => emu.close());
  return emu;
}

export interface Credentials {
  accessKeyId?: string;
  accessKeySecret?: string;
  securityToken?: string;
  credential?: unknown;
}

/** The legacy kms20160120 1.2.0 client (always V1-signed). */
export function legacyClient(emu: KmsEmulator, creds: Credentials = { accessKeyId: AK.id, accessKeySecret: AK.secret }, regionId = REGION): KmsClient {
  const r = emu.regions[regionId]!;
  return new KmsClient(new RpcConfig({ endpoint: r.endpoint, protocol: r.protocol, regionId, readTimeout: 5000, connectTimeout: 5000, ...creds }));
}

export type Signing = 'v3' | 'v1';

/** openapi-client pinned to the emulator's CA (HTTPS) or plain HTTP. */
export function openApiClient(emu: KmsEmulator, signing: Signing = 'v3', creds: Credentials = { accessKeyId: AK.id, accessKeySecret: AK.secret }, regionId = REGION, extra: Record<string, unknown> = {}): OpenApiClient {
  const r = emu.regions[regionId]!;
  const config = new OpenApiConfig({ endpoint: r.endpoint, protocol: r.protocol, ca: emu.caPem, readTimeout: 5000, connectTimeout: 5000, ...creds, ...extra });
  if (signing === 'v1') config.signatureAlgorithm = 'v2';
  return new OpenApiClient(config);
}

/** One RPC call with the Params the upstream 2.x KMS generator emits (docs/kms-wire.md §1.3). */
export async function rpc(
  client: OpenApiClient,
  action: string,
  query: Record<string, unknown> = {},
  body?: Record<string, unknown>,
  version = '2016-01-20',
  runtime: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const params = new Params({ action, version, protocol: 'HTTPS', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
  const request = new OpenApiRequest({ query: OpenApiUtil.query(query), ...(body ? { body } : {}) });
  const res = await client.callApi(params, request, runtimeOptions(runtime));
  return res.body as Record<string, any>;
}

/** A failed SDK call: tea's ResponseError is not exported, so tests duck-type `code` / `data` as the gateway will. */
export interface SdkError {
  code?: string;
  statusCode?: number;
  message: string;
  data?: Record<string, any>;
}

export async function sdkError(t: ExecutionContext, p: Promise<unknown>): Promise<SdkError> {
  const e = await t.throwsAsync(p);
  return e as unknown as SdkError;
}

export interface CapturedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A loopback HTTP proxy in front of a region: records every raw request and can rewrite it
 * before forwarding (to tamper with signed parts, or to replay a capture later).
 */
export async function startProxy(t: ExecutionContext, targetPort: number, rewrite?: (r: CapturedRequest) => CapturedRequest): Promise<{ endpoint: string; captured: CapturedRequest[] }> {
  const captured: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let r: CapturedRequest = { method: req.method!, url: req.url!, headers: { ...req.headers }, body: Buffer.concat(chunks) };
      captured.push(r);
      if (rewrite) r = rewrite(r);
      sendRaw(targetPort, r).then(
        (answer) => {
          res.writeHead(answer.status, { 'content-type': answer.headers['content-type'] ?? 'application/json' });
          res.end(answer.body);
        },
        () => res.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  return { endpoint: `127.0.0.1:${(server.address() as { port: number }).port}`, captured };
}

/** Sends a raw request to an HTTP region with Node's own client (no SDK involved). */
export function sendRaw(port: number, r: CapturedRequest): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; json: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    // The body is forwarded whole, so it is re-framed with a length (never chunked as well).
    const { 'transfer-encoding': _chunked, ...rest } = r.headers;
    const headers = { ...rest, 'content-length': String(r.body.length) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.url, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: Record<string, any> = {};
        try {
          json = JSON.parse(body) as Record<string, any>;
        } catch {
          // not JSON: leave json empty
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Calls the admin endpoint. */
export async function admin(emu: KmsEmulator, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${emu.adminUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text };
}
