/**
 * Validation rules shared by the API actions, the store and seeding, so a seed cannot describe a
 * secret the API would refuse. Each throws a KmsApiError naming the parameter.
 */
import { invalidParameter, missing } from './errors';
import { MAX_ROTATION_SECONDS, MIN_ROTATION_SECONDS, parseInterval } from './time';

export const SECRET_TYPES = ['Generic', 'Rds', 'Redis', 'RAMCredentials', 'ECS', 'PolarDB'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];
export type DataType = 'text' | 'binary';

/** KMS limit on SecretData. */
export const MAX_SECRET_BYTES = 30_720;
/** Generic secrets keep at most this many versions; KMS drops the oldest unlabelled one beyond it. */
export const MAX_VERSIONS = 10;
/** The store's bound (the emulated account's secret quota). */
export const MAX_SECRETS = 10_000;

export function checkName(name: string | undefined): string {
  if (!name) throw missing('SecretName');
  if (!/^[A-Za-z0-9_/+=.@-]{1,192}$/.test(name)) throw invalidParameter('SecretName', 'up to 192 letters, digits and _/+=.@-');
  return name;
}

export function checkVersionId(versionId: string | undefined): string {
  if (!versionId) throw missing('VersionId');
  if (versionId.length > 64) throw invalidParameter('VersionId', 'at most 64 characters');
  return versionId;
}

export function checkType(type: string | undefined): SecretType {
  const t = type ?? 'Generic';
  if (!(SECRET_TYPES as readonly string[]).includes(t)) throw invalidParameter('SecretType', `one of ${SECRET_TYPES.join(', ')}`);
  return t as SecretType;
}

export function checkDataType(dataType: string | undefined): DataType {
  const t = dataType ?? 'text';
  if (t !== 'text' && t !== 'binary') throw invalidParameter('SecretDataType', 'text or binary');
  return t;
}

/** Binary values travel base64-encoded in SecretData. */
export function checkData(data: string | undefined, dataType: DataType): string {
  if (data === undefined || data === '') throw missing('SecretData');
  if (Buffer.byteLength(data) > MAX_SECRET_BYTES) throw invalidParameter('SecretData', `at most ${MAX_SECRET_BYTES} bytes`);
  if (dataType === 'binary' && (data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data))) {
    throw invalidParameter('SecretData', 'a binary secret is given base64-encoded');
  }
  return data;
}

/** Type-specific rules: reserved `acs/` prefixes, managed types need ExtendedConfig and text data. */
export function checkTypeRules(name: string, type: SecretType, dataType: DataType, extendedConfig: string | undefined): void {
  if (['Generic', 'Rds', 'Redis'].includes(type) && name.startsWith('acs/')) throw invalidParameter('SecretName', `a ${type} secret name cannot start with acs/`);
  if (type === 'ECS' && !name.startsWith('acs/ecs/')) throw invalidParameter('SecretName', 'an ECS secret name starts with acs/ecs/');
  if (type !== 'Generic' && dataType !== 'text') throw invalidParameter('SecretDataType', `must be text for ${type} secrets`);
  if (type !== 'Generic' && !extendedConfig) throw invalidParameter('ExtendedConfig', `is required for ${type} secrets`);
}

/** ExtendedConfig is a JSON object; stored as its JSON text. */
export function checkExtendedConfig(value: string | Record<string, unknown> | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') return JSON.stringify(value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidParameter('ExtendedConfig', 'must be a JSON object');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidParameter('ExtendedConfig', 'must be a JSON object');
  if (value.length > 1024) throw invalidParameter('ExtendedConfig', 'at most 1024 characters');
  return value;
}

/** Automatic rotation needs a managed type and an interval of 6 h–365 d; returns seconds or undefined. */
export function checkRotation(type: SecretType, enabled: boolean, interval: string | number | undefined): number | undefined {
  if (!enabled) return undefined;
  if (type === 'Generic') throw invalidParameter('EnableAutomaticRotation', 'automatic rotation is for Rds, Redis, PolarDB, RAMCredentials and ECS secrets');
  if (interval === undefined || interval === '') throw invalidParameter('RotationInterval', 'is required when automatic rotation is enabled');
  const seconds = typeof interval === 'number' ? interval : parseInterval(interval);
  if (seconds === undefined || !Number.isInteger(seconds)) throw invalidParameter('RotationInterval', 'an integer with a unit d, h, m or s, e.g. 604800s or 7d');
  if (seconds < MIN_ROTATION_SECONDS || seconds > MAX_ROTATION_SECONDS) throw invalidParameter('RotationInterval', 'from 6 hours to 365 days');
  return seconds;
}
