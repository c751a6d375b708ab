/**
 * The instance API of an emulated dedicated KMS instance (what an AAP ClientKey talks to; shared
 * docs dkms-clientkey.md §2–3): `POST /`, `x-kms-*` headers, a protobuf body, an RSA PKCS#1 v1.5
 * SHA-256 signature over the documented string-to-sign, verified against the AAP certificate.
 * Checks run headers → Date → content-sha256 → KeyId → signature, then the same store as the
 * OpenAPI answers. Errors are KmsApiError; the server renders them as the protobuf `Error`.
 *
 * Codes and messages are the documented ones. Which HTTP status goes with which code beyond 400
 * is not in any SDK source: 401 Unauthorized, 403/404 as on the OpenAPI, 429 throttling and
 * 5xx are our choice (inferred from the shared gateway).
 */
import { verify } from 'node:crypto';
import { Error as ErrorMessage, GetSecretValueRequest as RequestMessage, GetSecretValueResponse as ResponseMessage } from '../../../src/gen/dkms/v1/instance_api';
import { contentSha256, INSTANCE_API_VERSION, KEY_ID_HEADER, SIGNATURE_METHOD, stringToSign } from '../../../src/kms/instanceSign';
import { runKmsAction } from './actions';
import { TIMESTAMP_WINDOW_MS } from './auth';
import type { ClientKeyRegistry } from './clientKeys';
import { KmsApiError } from './errors';
import type { SecretStoreApi } from './store';

/** The APIs this emulator answers on the instance API (the only one the gateway needs). */
export const INSTANCE_APIS: ReadonlySet<string> = new Set(['GetSecretValue']);

export interface InstanceRequest {
  method: string;
  pathname: string;
  /** Lower-case header name → first value. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
}

export interface InstanceApi {
  /** Whether a request on the instance's port is for the instance API (rather than the OpenAPI). */
  claims(headers: Readonly<Record<string, string | undefined>>): boolean;
  /** Verifies and answers; returns the protobuf body and the KeyId that signed it. Throws KmsApiError. */
  serve(req: InstanceRequest, requestId: string): { body: Uint8Array; keyId: string; secretName?: string };
}

export interface InstanceApiDeps {
  instanceId: string;
  regionId: string;
  store: SecretStoreApi;
  clientKeys: ClientKeyRegistry;
  now: () => number;
}

const missingHeader = (name: string) => new KmsApiError('MissingParameter', 400, `Parameter ${name} does not exist in http header or body.`);
const invalidParam = (name: string) => new KmsApiError('InvalidParam', 400, `The Param ${name} is invalid.`);
/** `Mon, 02 Jan 2006 15:04:05 GMT` (Go's http.TimeFormat, what every SDK sends). */
const RFC1123 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

export function createInstanceApi(deps: InstanceApiDeps): InstanceApi {
  const verifyRequest = (req: InstanceRequest): string => {
    const h = req.headers;
    if (req.method !== 'POST' || req.pathname !== '/') throw new KmsApiError('UnsupportedOperation', 400, 'The instance API is POST / only.');
    for (const name of ['x-kms-apiversion', 'x-kms-apiname', KEY_ID_HEADER, 'x-kms-signaturemethod', 'date', 'content-sha256', 'authorization']) {
      if (!h[name]) throw missingHeader(name);
    }
    if (h['x-kms-apiversion'] !== INSTANCE_API_VERSION) throw new KmsApiError('InvalidApiVersion', 400, `The api version ${h['x-kms-apiversion']} is not supported.`);
    if (!INSTANCE_APIS.has(h['x-kms-apiname']!)) throw new KmsApiError('InvalidApiName', 400, `The api name ${h['x-kms-apiname']} is not supported.`);
    if (h['x-kms-signaturemethod'] !== SIGNATURE_METHOD) throw invalidParam('SignatureMethod');
    const date = h.date!;
    const at = RFC1123.test(date) ? Date.parse(date) : NaN;
    if (!Number.isFinite(at)) throw invalidParam('Date');
    if (Math.abs(deps.now() - at) > TIMESTAMP_WINDOW_MS) throw new KmsApiError('RequestTimeTooSkewed', 400, 'The difference between the request time and the server time is too large.');
    if (h['content-sha256'] !== contentSha256(req.body)) throw invalidParam('Content-SHA256');
    const m = /^(?:Bearer|TOKEN) ([A-Za-z0-9+/]+={0,2})$/.exec(h.authorization!);
    if (!m) throw invalidParam('Authorization');
    const keyId = h[KEY_ID_HEADER]!.trim();
    const publicKey = deps.clientKeys.lookup(keyId, deps.instanceId);
    if (!publicKey) throw new KmsApiError('Unauthorized', 401, 'The ClientKey is not authorized on this instance.');
    const signed = verify('sha256', Buffer.from(stringToSign({ method: req.method, headers: h }), 'utf8'), publicKey, Buffer.from(m[1]!, 'base64'));
    if (!signed) throw invalidParam('Authorization');
    return keyId;
  };

  return {
    claims: (headers) => headers['x-kms-apiname'] !== undefined || (headers['content-type'] ?? '').startsWith('application/x-protobuf'),
    serve(req, requestId) {
      const keyId = verifyRequest(req);
      let r: RequestMessage;
      try {
        r = RequestMessage.decode(req.body);
      } catch {
        throw invalidParam('Body');
      }
      const params = {
        SecretName: r.secretName || undefined,
        VersionStage: r.versionStage || undefined,
        VersionId: r.versionId || undefined,
        FetchExtendedConfig: r.fetchExtendedConfig ? 'true' : undefined,
      };
      const out = runKmsAction('GetSecretValue', params, { regionId: deps.regionId, requestId, store: deps.store }) as Record<string, unknown>;
      const str = (k: string) => (typeof out[k] === 'string' ? (out[k] as string) : '');
      const body = ResponseMessage.encode({
        secretName: str('SecretName'),
        secretType: str('SecretType'),
        secretData: str('SecretData'),
        secretDataType: str('SecretDataType'),
        versionStages: ((out.VersionStages as { VersionStage?: string[] } | undefined)?.VersionStage ?? []).slice(),
        versionId: str('VersionId'),
        createTime: str('CreateTime'),
        requestId,
        lastRotationDate: str('LastRotationDate'),
        nextRotationDate: str('NextRotationDate'),
        extendedConfig: str('ExtendedConfig'),
        automaticRotation: str('AutomaticRotation'),
        rotationInterval: str('RotationInterval'),
      }).finish();
      return { body, keyId, secretName: r.secretName || undefined };
    },
  };
}

/** An error answer as the instance sends it: the protobuf `Error` message. */
export function instanceErrorBody(e: KmsApiError, requestId: string): Uint8Array {
  return ErrorMessage.encode({ statusCode: e.httpStatus, errorCode: e.code, errorMessage: e.message, requestId }).finish();
}
