/**
 * The model → protobuf mapping (ts-proto shapes: flattened oneof, Date timestamps, Duration
 * objects). Pure functions; the only place that knows both shapes.
 */
import {
  Freshness_Source,
  type Freshness,
  type GetSecretResponse,
  type Secret,
  type WatchSecretResponse,
} from '../gen/secretsgateway/v1/secrets_gateway';
import type { SecretVersion } from '../model';
import type { FreshnessInfo, ReadResult } from '../watch/reader';
import type { WatchMessage } from '../watch/stream';

const SOURCE: Record<FreshnessInfo['source'], Freshness_Source> = {
  LOCAL_CACHE: Freshness_Source.SOURCE_LOCAL_CACHE,
  SHARED_CACHE: Freshness_Source.SOURCE_SHARED_CACHE,
  KMS: Freshness_Source.SOURCE_KMS,
  STALE: Freshness_Source.SOURCE_STALE,
};

/** A valid Date, or undefined: a time outside what Date holds (±8.64e15 ms) must never reach the encoder. */
const date = (ms: number | undefined): Date | undefined => (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? undefined : new Date(ms));

export function toProtoSecret(s: SecretVersion): Secret {
  const out: Secret = {
    name: s.name,
    versionId: s.versionId,
    versionStages: [...s.versionStages],
    secretType: s.secretType,
    createTime: date(s.createTimeMs),
    automaticRotation: s.automaticRotation,
    lastRotationTime: date(s.lastRotationTimeMs),
    nextRotationTime: date(s.nextRotationTimeMs),
    rotationInterval: s.rotationIntervalSeconds === undefined ? undefined : { seconds: Math.trunc(s.rotationIntervalSeconds), nanos: 0 },
    extendedConfig: s.extendedConfig ?? '',
    regionId: s.regionId,
  };
  if (s.value.kind === 'string') out.stringValue = s.value.text;
  else out.binaryValue = s.value.bytes;
  return out;
}

export function toProtoFreshness(f: FreshnessInfo): Freshness {
  return { source: SOURCE[f.source] ?? Freshness_Source.SOURCE_UNSPECIFIED, checkedAt: date(f.checkedAtMs) };
}

export function toGetSecretResponse(r: ReadResult): GetSecretResponse {
  return { secret: toProtoSecret(r.secret), freshness: toProtoFreshness(r.freshness) };
}

export function toWatchResponse(m: WatchMessage): WatchSecretResponse {
  return m.kind === 'secret'
    ? { secret: toProtoSecret(m.secret), freshness: toProtoFreshness(m.freshness) }
    : { heartbeat: { versionId: m.versionId }, freshness: toProtoFreshness(m.freshness) };
}
