/**
 * The public face of the secret store: inputs, views and operations. Views carry values only in
 * `SecretVersionView` (tests and dev tooling); nothing the emulator logs or serves to admins uses it.
 */
import type { DataType, SecretType } from './secretRules';

export interface CreateSecretInput {
  name: string;
  versionId: string;
  /** Text, or base64 when `dataType` is binary. */
  data: string;
  dataType?: DataType;
  type?: string;
  description?: string;
  extendedConfig?: string | Record<string, unknown>;
  automaticRotation?: boolean;
  /** `604800s`, `7d`, … or seconds. */
  rotationInterval?: string | number;
}

export interface PutSecretValueInput {
  name: string;
  versionId: string;
  data: string;
  dataType?: DataType;
  /** @default ['ACSCurrent'] */
  stages?: string[];
}

/** A secret with explicit versions and rotation dates (seeding). Times are epoch ms. */
export interface ImportSecretInput extends Omit<CreateSecretInput, 'versionId' | 'data' | 'dataType'> {
  versions: { versionId: string; stages: string[]; data: string; dataType?: DataType; createTimeMs?: number }[];
  createTimeMs?: number;
  lastRotationMs?: number;
  nextRotationMs?: number;
}

/** One version with its value. Only tests and dev tooling see this; nothing logs it. */
export interface SecretVersionView {
  name: string;
  secretType: SecretType;
  versionId: string;
  stages: string[];
  data: string;
  dataType: DataType;
  createTime: string;
}

/** Metadata of a secret, as DescribeSecret reports it. */
export interface SecretDescription {
  name: string;
  type: SecretType;
  description?: string;
  createTime: string;
  updateTime: string;
  plannedDeleteTime?: string;
  automaticRotation: boolean;
  rotationInterval?: string;
  lastRotationDate?: string;
  nextRotationDate?: string;
  extendedConfig?: string;
  versionCount: number;
}

export interface VersionInfo {
  versionId: string;
  stages: string[];
  createTime: string;
}

export interface SecretStoreApi {
  createSecret(input: CreateSecretInput): SecretDescription;
  importSecret(input: ImportSecretInput): void;
  putSecretValue(input: PutSecretValueInput): VersionInfo;
  updateSecretVersionStage(name: string, stage: string, opts: { removeFromVersion?: string; moveToVersion?: string }): void;
  /** New ACSCurrent version with a rotated value; works for Generic too (dev mode). Existing `versionId` is a no-op. */
  rotateSecret(name: string, opts?: { versionId?: string }): VersionInfo;
  deleteSecret(name: string, opts?: { recoveryWindowInDays?: number; force?: boolean }): { plannedDeleteTime: string };
  restoreSecret(name: string): void;
  /** By `versionId`, else by `versionStage` (default ACSCurrent). */
  getSecretValue(name: string, sel?: { versionStage?: string; versionId?: string }): SecretVersionView;
  describeSecret(name: string): SecretDescription;
  listSecrets(): SecretDescription[];
  listSecretVersionIds(name: string, opts?: { includeDeprecated?: boolean }): VersionInfo[];
}
