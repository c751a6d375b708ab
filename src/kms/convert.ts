import { BackendUnavailableError } from '../errors';
import type { SecretVersion } from '../model';
import type { GetSecretValueResponseBody } from './api';

const time = (s?: string): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
};

/** "604800s" → 604800. */
const seconds = (s?: string): number | undefined => {
  const m = s ? /^(\d+)s?$/.exec(s.trim()) : null;
  return m ? Number(m[1]) : undefined;
};

/** Normalizes a GetSecretValue body. A body without the essentials is a backend fault, never a value. */
export function toSecretVersion(body: GetSecretValueResponseBody, regionId: string): SecretVersion {
  if (!body || typeof body.SecretName !== 'string' || typeof body.VersionId !== 'string' || typeof body.SecretData !== 'string') {
    throw new BackendUnavailableError(`KMS GetSecretValue: incomplete response (request id ${body?.RequestId ?? 'unknown'})`, { regionId, requestId: body?.RequestId });
  }
  const binary = (body.SecretDataType ?? 'text').toLowerCase() === 'binary';
  return {
    name: body.SecretName,
    versionId: body.VersionId,
    versionStages: body.VersionStages?.VersionStage ?? [],
    value: binary ? { kind: 'binary', bytes: Buffer.from(body.SecretData, 'base64') } : { kind: 'string', text: body.SecretData },
    secretType: body.SecretType ?? 'Generic',
    createTimeMs: time(body.CreateTime),
    automaticRotation: body.AutomaticRotation === 'Enabled',
    lastRotationTimeMs: time(body.LastRotationDate),
    nextRotationTimeMs: time(body.NextRotationDate),
    rotationIntervalSeconds: seconds(body.RotationInterval),
    extendedConfig: body.ExtendedConfig || undefined,
    regionId,
  };
}
