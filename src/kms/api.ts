/**
 * The one module that speaks the KMS 2016-01-20 API. Request and response types mirror the
 * upstream `@alicloud/kms20160120` 2.x models, called through `@alicloud/openapi-client`'s
 * `callApi` with the Params that generator emits. The registry's kms20160120 is only the legacy
 * 1.2.0, which drops the rotation fields and cannot pin a CA (docs: kms-wire.md §0); moving to 2.x
 * later replaces the body of `getSecretValue` and nothing else.
 */
import OpenApiClient, * as OpenApi from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';

export const KMS_API_VERSION = '2016-01-20';

/** The per-call runtime options `callApi` takes (`$Util.RuntimeOptions`). */
export type RuntimeOptions = Parameters<OpenApiClient['callApi']>[2];

/**
 * Runtime options as a plain object: `callApi` only reads their fields (readTimeout,
 * connectTimeout, autoretry, …), and openapi-client pins its own copy of `@alicloud/tea-util`, so
 * a second copy of that package just to construct the class would duplicate what the SDK brings.
 */
export function runtimeOptions(o: { readTimeout?: number; connectTimeout?: number; [field: string]: unknown }): RuntimeOptions {
  return { ...o } as unknown as RuntimeOptions;
}

export interface GetSecretValueRequest {
  SecretName: string;
  VersionStage?: string;
  VersionId?: string;
  FetchExtendedConfig?: boolean;
}

/** `GetSecretValueResponseBody` of the KMS API (kms-wire.md §2.1). */
export interface GetSecretValueResponseBody {
  RequestId?: string;
  SecretName?: string;
  SecretType?: string;
  VersionId?: string;
  CreateTime?: string;
  SecretData?: string;
  SecretDataType?: string;
  VersionStages?: { VersionStage?: string[] };
  AutomaticRotation?: string;
  LastRotationDate?: string;
  NextRotationDate?: string;
  RotationInterval?: string;
  ExtendedConfig?: string;
}

export interface CallTimeouts {
  readTimeoutMs: number;
  connectTimeoutMs: number;
}

/** What the pool needs of a target's client: the OpenAPI (RAM credentials) or the instance API (ClientKey). */
export interface SecretValueClient {
  getSecretValue(req: GetSecretValueRequest, t: CallTimeouts, signal?: AbortSignal): Promise<GetSecretValueResponseBody>;
}

export interface KmsClientOptions {
  endpoint: string;
  protocol: 'https' | 'http';
  regionId: string;
  caPem?: string;
  credential: unknown;
  userAgent?: string;
}

/** An OpenAPI client as a SecretValueClient. The SDK takes no signal: the pool's `abortable` bounds the wait. */
export function openApiSecretValueClient(client: OpenApiClient): SecretValueClient {
  return { getSecretValue: (req, t) => getSecretValue(client, req, t) };
}

export function createKmsClient(o: KmsClientOptions): OpenApiClient {
  return new OpenApiClient(
    new OpenApi.Config({
      endpoint: o.endpoint,
      protocol: o.protocol,
      regionId: o.regionId,
      ca: o.caPem,
      credential: o.credential as OpenApi.Config['credential'],
      userAgent: o.userAgent,
    }),
  );
}

const GET_SECRET_VALUE = () =>
  new OpenApi.Params({
    action: 'GetSecretValue',
    version: KMS_API_VERSION,
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });

export async function getSecretValue(client: OpenApiClient, req: GetSecretValueRequest, t: CallTimeouts): Promise<GetSecretValueResponseBody> {
  const query: Record<string, string | boolean> = { SecretName: req.SecretName };
  if (req.VersionStage) query.VersionStage = req.VersionStage;
  if (req.VersionId) query.VersionId = req.VersionId;
  if (req.FetchExtendedConfig) query.FetchExtendedConfig = true;
  const request = new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) });
  const res = await client.callApi(GET_SECRET_VALUE(), request, runtimeOptions({ readTimeout: t.readTimeoutMs, connectTimeout: t.connectTimeoutMs }));
  return (res as { body: GetSecretValueResponseBody }).body;
}
