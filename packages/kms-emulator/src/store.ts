/**
 * The in-memory secret store every region shares (the official clients assume a secret exists in
 * every region). It holds the KMS semantics: versions and stages, rotation metadata, lazy
 * automatic rotation when NextRotationDate passes, and the deletion recovery window.
 * Operations throw KmsApiError with the code the API answers.
 */
import { randomUUID } from 'node:crypto';
import { KmsApiError, inDeleteWindow, invalidParameter, notFound, resourceExists, unsupported } from './errors';
import { rotatedValue } from './rotation';
import {
  MAX_SECRETS, MAX_VERSIONS, checkData, checkDataType, checkExtendedConfig, checkName, checkRotation, checkType, checkTypeRules, checkVersionId,
  type DataType, type SecretType,
} from './secretRules';
import type { CreateSecretInput, SecretDescription, SecretStoreApi, VersionInfo } from './secretStoreApi';
import { ACS_CURRENT, ACS_PREVIOUS, assignStages, checkStageList, updateStage } from './stages';
import { isoSeconds } from './time';

const DAY_MS = 86_400_000;

export type {
  CreateSecretInput, ImportSecretInput, PutSecretValueInput, SecretDescription, SecretStoreApi, SecretVersionView, VersionInfo,
} from './secretStoreApi';

interface Version {
  versionId: string;
  stages: string[];
  data: string;
  dataType: DataType;
  createTimeMs: number;
}

interface Secret {
  name: string;
  type: SecretType;
  description?: string;
  createTimeMs: number;
  updateTimeMs: number;
  versions: Version[];
  extendedConfig?: string;
  rotationSeconds?: number;
  lastRotationMs?: number;
  nextRotationMs?: number;
  plannedDeleteMs?: number;
}

/** `acs:kms:<region>:<account>:secret/<name>` → `<name>`; a plain name is returned as is. */
export function nameFromArn(nameOrArn: string): string {
  const m = /^acs:kms:[^:]*:[^:]*:secret\/(.+)$/.exec(nameOrArn);
  return m ? m[1]! : nameOrArn;
}

export function createSecretStore(opts: { now: () => number }): SecretStoreApi {
  const secrets = new Map<string, Secret>();
  const now = opts.now;

  const versionInfo = (v: Version): VersionInfo => ({ versionId: v.versionId, stages: [...v.stages], createTime: isoSeconds(v.createTimeMs) });

  const rotate = (s: Secret, versionId: string): VersionInfo => {
    const existing = s.versions.find((v) => v.versionId === versionId);
    if (existing) return versionInfo(existing); // KMS: an existing VersionId makes rotation idempotent
    const current = s.versions.find((v) => v.stages.includes(ACS_CURRENT))!;
    const v: Version = { versionId, stages: [], ...rotatedValue(s.type, current.data, current.dataType), createTimeMs: now() };
    s.versions.push(v);
    assignStages(s.versions, v, [ACS_CURRENT]);
    prune(s);
    s.lastRotationMs = s.updateTimeMs = now();
    if (s.rotationSeconds) s.nextRotationMs = now() + s.rotationSeconds * 1000;
    return versionInfo(v);
  };

  /** KMS keeps at most MAX_VERSIONS: the oldest unlabelled version goes first, then the oldest not current/previous. */
  const prune = (s: Secret) => {
    while (s.versions.length > MAX_VERSIONS) {
      let i = s.versions.findIndex((v) => v.stages.length === 0);
      if (i < 0) i = s.versions.findIndex((v) => !v.stages.includes(ACS_CURRENT) && !v.stages.includes(ACS_PREVIOUS));
      if (i < 0) break;
      s.versions.splice(i, 1);
    }
  };

  /** The secret, with expiry of the recovery window and due automatic rotation applied. */
  const find = (nameOrArn: string): Secret => {
    const name = nameFromArn(nameOrArn);
    const s = secrets.get(name);
    if (!s) throw notFound();
    if (s.plannedDeleteMs !== undefined && s.plannedDeleteMs <= now()) {
      secrets.delete(name);
      throw notFound();
    }
    if (s.plannedDeleteMs === undefined && s.nextRotationMs !== undefined && s.nextRotationMs <= now()) rotate(s, randomUUID());
    return s;
  };
  const active = (nameOrArn: string): Secret => {
    const s = find(nameOrArn);
    if (s.plannedDeleteMs !== undefined) throw inDeleteWindow();
    return s;
  };

  const describe = (s: Secret): SecretDescription => ({
    name: s.name,
    type: s.type,
    description: s.description,
    createTime: isoSeconds(s.createTimeMs),
    updateTime: isoSeconds(s.updateTimeMs),
    plannedDeleteTime: s.plannedDeleteMs === undefined ? undefined : isoSeconds(s.plannedDeleteMs),
    automaticRotation: s.rotationSeconds !== undefined,
    rotationInterval: s.rotationSeconds === undefined ? undefined : `${s.rotationSeconds}s`,
    lastRotationDate: s.lastRotationMs === undefined ? undefined : isoSeconds(s.lastRotationMs),
    nextRotationDate: s.nextRotationMs === undefined ? undefined : isoSeconds(s.nextRotationMs),
    extendedConfig: s.extendedConfig,
    versionCount: s.versions.length,
  });

  const checkNew = (input: Omit<CreateSecretInput, 'versionId' | 'data' | 'dataType'>, dataType: DataType) => {
    const name = checkName(input.name);
    if (secrets.has(name)) throw resourceExists(`secret ${name}`);
    if (secrets.size >= MAX_SECRETS) throw new KmsApiError('Rejected.LimitExceeded', 400, `The emulator holds at most ${MAX_SECRETS} secrets.`);
    const type = checkType(input.type);
    const extendedConfig = type === 'Generic' ? undefined : checkExtendedConfig(input.extendedConfig);
    checkTypeRules(name, type, dataType, extendedConfig);
    const rotationSeconds = checkRotation(type, input.automaticRotation ?? false, input.rotationInterval);
    if (input.description !== undefined && input.description.length > 1024) throw invalidParameter('Description', 'at most 1024 characters');
    return { name, type, extendedConfig, rotationSeconds };
  };

  return {
    createSecret(input) {
      const dataType = checkDataType(input.dataType);
      const { name, type, extendedConfig, rotationSeconds } = checkNew(input, dataType);
      const versionId = checkVersionId(input.versionId);
      const data = checkData(input.data, dataType);
      const t = now();
      const s: Secret = { name, type, description: input.description, createTimeMs: t, updateTimeMs: t, versions: [], extendedConfig, rotationSeconds };
      s.versions.push({ versionId, stages: [ACS_CURRENT], data, dataType, createTimeMs: t });
      if (rotationSeconds) s.nextRotationMs = t + rotationSeconds * 1000;
      secrets.set(name, s);
      return describe(s);
    },

    importSecret(input) {
      const first = input.versions[0];
      if (!first) throw invalidParameter('Versions', 'a secret needs at least one version');
      const { name, type, extendedConfig, rotationSeconds } = checkNew(input, checkDataType(first.dataType));
      const t = input.createTimeMs ?? now();
      const s: Secret = { name, type, description: input.description, createTimeMs: t, updateTimeMs: t, versions: [], extendedConfig, rotationSeconds };
      for (const v of input.versions) {
        const dataType = checkDataType(v.dataType);
        if (s.versions.some((x) => x.versionId === v.versionId)) throw resourceExists(`version ${v.versionId}`);
        checkTypeRules(name, type, dataType, extendedConfig);
        s.versions.push({ versionId: checkVersionId(v.versionId), stages: [], data: checkData(v.data, dataType), dataType, createTimeMs: v.createTimeMs ?? t });
      }
      // Stages are applied without hand-over rules: the seed says exactly who holds what.
      input.versions.forEach((v, i) => {
        for (const stage of v.stages) {
          if (s.versions.some((x) => x.stages.includes(stage))) throw invalidParameter('VersionStages', `stage ${stage} is given to two versions`);
          s.versions[i]!.stages.push(stage);
        }
      });
      if (!s.versions.some((v) => v.stages.includes(ACS_CURRENT))) throw invalidParameter('VersionStages', 'one version must hold ACSCurrent');
      s.lastRotationMs = input.lastRotationMs;
      s.nextRotationMs = rotationSeconds ? (input.nextRotationMs ?? t + rotationSeconds * 1000) : undefined;
      secrets.set(name, s);
    },

    putSecretValue(input) {
      const s = active(input.name);
      if (s.type !== 'Generic') throw unsupported(`PutSecretValue is for Generic secrets; ${s.name} is ${s.type} (use RotateSecret)`);
      const versionId = checkVersionId(input.versionId);
      const dataType = checkDataType(input.dataType);
      const data = checkData(input.data, dataType);
      const stages = checkStageList(input.stages ?? [ACS_CURRENT], 'VersionStages');
      const existing = s.versions.find((v) => v.versionId === versionId);
      if (existing) {
        // KMS: same VersionId with the same value is an idempotent retry; a different value is refused.
        if (existing.data === data && existing.dataType === dataType) return versionInfo(existing);
        throw resourceExists(`version ${versionId}`);
      }
      const v: Version = { versionId, stages: [], data, dataType, createTimeMs: now() };
      s.versions.push(v);
      assignStages(s.versions, v, stages);
      prune(s);
      s.updateTimeMs = now();
      return versionInfo(v);
    },

    updateSecretVersionStage(name, stage, o) {
      const s = active(name);
      if (!stage) throw invalidParameter('VersionStage', 'is required');
      updateStage(s.versions, stage, o.removeFromVersion || undefined, o.moveToVersion || undefined);
      s.updateTimeMs = now();
    },

    rotateSecret(name, o = {}) {
      return rotate(active(name), o.versionId ? checkVersionId(o.versionId) : randomUUID());
    },

    deleteSecret(name, o = {}) {
      const s = find(name);
      if (o.force) {
        secrets.delete(s.name);
        return { plannedDeleteTime: isoSeconds(now()) };
      }
      if (s.plannedDeleteMs !== undefined) throw inDeleteWindow();
      const days = o.recoveryWindowInDays ?? 30;
      if (!Number.isInteger(days) || days < 7 || days > 30) throw invalidParameter('RecoveryWindowInDays', 'an integer from 7 to 30');
      s.plannedDeleteMs = now() + days * DAY_MS;
      return { plannedDeleteTime: isoSeconds(s.plannedDeleteMs) };
    },

    restoreSecret(name) {
      const s = find(name);
      if (s.plannedDeleteMs === undefined) throw invalidParameter('SecretName', `${s.name} is not pending deletion`);
      s.plannedDeleteMs = undefined;
      s.updateTimeMs = now();
    },

    getSecretValue(name, sel = {}) {
      const s = active(name);
      let v: Version | undefined;
      if (sel.versionId) {
        v = s.versions.find((x) => x.versionId === sel.versionId);
        if (v && sel.versionStage && !v.stages.includes(sel.versionStage)) throw invalidParameter('VersionStage', `version ${sel.versionId} does not hold ${sel.versionStage}`);
      } else {
        const stage = sel.versionStage || ACS_CURRENT;
        v = s.versions.find((x) => x.stages.includes(stage));
      }
      if (!v) throw notFound();
      return { name: s.name, secretType: s.type, versionId: v.versionId, stages: [...v.stages], data: v.data, dataType: v.dataType, createTime: isoSeconds(v.createTimeMs) };
    },

    describeSecret: (name) => describe(find(name)),

    listSecrets() {
      const out: SecretDescription[] = [];
      for (const name of [...secrets.keys()]) {
        try {
          out.push(describe(find(name)));
        } catch {
          // find() drops secrets whose recovery window ended
        }
      }
      return out;
    },

    listSecretVersionIds(name, o = {}) {
      const s = active(name);
      return s.versions.filter((v) => o.includeDeprecated || v.stages.length > 0).map(versionInfo);
    },
  };
}
