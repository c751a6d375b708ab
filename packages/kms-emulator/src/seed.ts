/**
 * Seed documents: the secrets and AccessKeys an emulator starts with, from an object or a
 * `.json`/`.yaml`/`.yml` file. Validation is strict (unknown keys are errors) and every error
 * names the bad field, e.g. `secrets[1].versions[0].binaryBase64: …`.
 *
 * ```yaml
 * accessKeys:
 *   - { id: dev-ak, secret: dev-secret }
 * secrets:
 *   - name: demo/db-password            # type defaults to Generic
 *     versions:
 *       - { versionId: v1, stages: [ACSCurrent], text: "s3cr3t" }
 *   - name: demo/rds
 *     type: Rds
 *     automaticRotation: true
 *     rotationInterval: 604800s          # or 7d, 168h
 *     lastRotationDate: now-1d           # ISO-8601 UTC, or now, now+7d, now-12h
 *     nextRotationDate: now+6d
 *     extendedConfig: { SecretSubType: SingleUser, DBInstanceId: rm-demo }
 *     versions:
 *       - { versionId: v1, json: { AccountName: app, AccountPassword: "p@ss" } }
 * ```
 * Each version holds exactly one of `text`, `binaryBase64` or `json` (stored as JSON text).
 * When no version lists `stages`, the last one is ACSCurrent and the one before it ACSPrevious.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KmsApiError, SeedError } from './errors';
import type { ImportSecretInput, SecretStoreApi } from './store';
import { ACS_CURRENT, ACS_PREVIOUS } from './stages';
import { parseIsoUtc } from './time';

export interface SeedVersion {
  versionId: string;
  stages?: string[];
  text?: string;
  binaryBase64?: string;
  json?: Record<string, unknown> | unknown[];
  createTime?: string;
}

export interface SeedSecret {
  name: string;
  /** Generic | Rds | Redis | RAMCredentials | ECS | PolarDB. @default Generic */
  type?: string;
  description?: string;
  automaticRotation?: boolean;
  rotationInterval?: string;
  lastRotationDate?: string;
  nextRotationDate?: string;
  createTime?: string;
  extendedConfig?: string | Record<string, unknown>;
  versions: SeedVersion[];
}

export interface SeedDocument {
  accessKeys?: { id: string; secret: string }[];
  secrets?: SeedSecret[];
}

const SECRET_KEYS = ['name', 'type', 'description', 'automaticRotation', 'rotationInterval', 'lastRotationDate', 'nextRotationDate', 'createTime', 'extendedConfig', 'versions'];
const VERSION_KEYS = ['versionId', 'stages', 'text', 'binaryBase64', 'json', 'createTime'];

type Obj = Record<string, unknown>;

function object(v: unknown, path: string, keys: string[]): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SeedError(path, 'must be an object');
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new SeedError(`${path}.${k}`, `unknown field (known: ${keys.join(', ')})`);
  return v as Obj;
}
function list(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new SeedError(path, 'must be a list');
  return v;
}
function str(v: unknown, path: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new SeedError(path, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || (required && v === '')) throw new SeedError(path, 'must be a non-empty string');
  return v;
}

/** ISO-8601 UTC, or `now`, `now+7d`, `now-12h`, `now+30m`, `now+10s`, relative to `nowMs`. */
function date(v: unknown, path: string, nowMs: number): number | undefined {
  const s = str(v instanceof Date ? v.toISOString() : v, path);
  if (s === undefined) return undefined;
  const rel = /^now(?:([+-])(\d+)([dhms]))?$/.exec(s);
  if (rel) return rel[1] ? nowMs + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[rel[3] as 'd'] : nowMs;
  const ms = parseIsoUtc(s);
  if (ms === undefined) throw new SeedError(path, 'must be YYYY-MM-DDTHH:mm:ssZ, or now±N(d|h|m|s)');
  return ms;
}

function version(v: unknown, path: string, nowMs: number): ImportSecretInput['versions'][number] & { declaredStages: boolean } {
  const o = object(v, path, VERSION_KEYS);
  const versionId = str(o.versionId, `${path}.versionId`, true)!;
  const given = ['text', 'binaryBase64', 'json'].filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw new SeedError(path, 'needs exactly one of text, binaryBase64 or json');
  let data: string;
  let dataType: 'text' | 'binary' = 'text';
  if (o.json !== undefined) {
    if (typeof o.json !== 'object' || o.json === null) throw new SeedError(`${path}.json`, 'must be an object or a list');
    data = JSON.stringify(o.json);
  } else if (o.binaryBase64 !== undefined) {
    data = str(o.binaryBase64, `${path}.binaryBase64`, true)!.replace(/\s+/g, '');
    if (data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new SeedError(`${path}.binaryBase64`, 'must be base64');
    dataType = 'binary';
  } else {
    data = str(o.text, `${path}.text`, true)!;
  }
  const stages = o.stages === undefined ? [] : list(o.stages, `${path}.stages`).map((s, i) => str(s, `${path}.stages[${i}]`, true)!);
  return { versionId, stages, data, dataType, createTimeMs: date(o.createTime, `${path}.createTime`, nowMs), declaredStages: o.stages !== undefined };
}

function secret(v: unknown, path: string, nowMs: number): ImportSecretInput {
  const o = object(v, path, SECRET_KEYS);
  const versions = list(o.versions, `${path}.versions`).map((x, i) => version(x, `${path}.versions[${i}]`, nowMs));
  if (versions.length === 0) throw new SeedError(`${path}.versions`, 'needs at least one version');
  if (!versions.some((x) => x.declaredStages)) {
    versions[versions.length - 1]!.stages = [ACS_CURRENT];
    if (versions.length > 1) versions[versions.length - 2]!.stages = [ACS_PREVIOUS];
  }
  if (o.automaticRotation !== undefined && typeof o.automaticRotation !== 'boolean') throw new SeedError(`${path}.automaticRotation`, 'must be true or false');
  if (o.extendedConfig !== undefined && typeof o.extendedConfig !== 'string' && (typeof o.extendedConfig !== 'object' || Array.isArray(o.extendedConfig))) {
    throw new SeedError(`${path}.extendedConfig`, 'must be an object or its JSON text');
  }
  return {
    name: str(o.name, `${path}.name`, true)!,
    type: str(o.type, `${path}.type`),
    description: str(o.description, `${path}.description`),
    automaticRotation: o.automaticRotation as boolean | undefined,
    rotationInterval: str(o.rotationInterval, `${path}.rotationInterval`),
    extendedConfig: o.extendedConfig as ImportSecretInput['extendedConfig'],
    createTimeMs: date(o.createTime, `${path}.createTime`, nowMs),
    lastRotationMs: date(o.lastRotationDate, `${path}.lastRotationDate`, nowMs),
    nextRotationMs: date(o.nextRotationDate, `${path}.nextRotationDate`, nowMs),
    versions: versions.map(({ declaredStages: _, ...rest }) => rest),
  };
}

/** A validated seed, ready to apply. */
export interface ParsedSeed {
  accessKeys: Map<string, string>;
  secrets: ImportSecretInput[];
}

/** Validates a seed document (already parsed from JSON/YAML). Throws SeedError naming the field. */
export function parseSeed(doc: unknown, nowMs: number = Date.now()): ParsedSeed {
  const o = object(doc ?? {}, 'seed', ['accessKeys', 'secrets']);
  const accessKeys = new Map<string, string>();
  (o.accessKeys === undefined ? [] : list(o.accessKeys, 'accessKeys')).forEach((k, i) => {
    const ak = object(k, `accessKeys[${i}]`, ['id', 'secret']);
    const id = str(ak.id, `accessKeys[${i}].id`, true)!;
    if (accessKeys.has(id)) throw new SeedError(`accessKeys[${i}].id`, `${id} is listed twice`);
    accessKeys.set(id, str(ak.secret, `accessKeys[${i}].secret`, true)!);
  });
  const secrets = (o.secrets === undefined ? [] : list(o.secrets, 'secrets')).map((s, i) => secret(s, `secrets[${i}]`, nowMs));
  return { accessKeys, secrets };
}

/** Reads and validates a seed file (`.json`, `.yaml`, `.yml`). */
export function readSeedFile(path: string, nowMs?: number): ParsedSeed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SeedError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const ext = extname(path).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) throw new SeedError(path, 'must end in .json, .yaml or .yml');
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new SeedError(path, `is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseSeed(doc, nowMs);
}

/** Loads the seed's secrets into a store; API rule violations come back as SeedError naming the secret. */
export function applySeed(store: SecretStoreApi, seed: ParsedSeed): void {
  seed.secrets.forEach((s, i) => {
    try {
      store.importSecret(s);
    } catch (e) {
      if (e instanceof KmsApiError) throw new SeedError(`secrets[${i}] (${s.name})`, e.message);
      throw e;
    }
  });
}
