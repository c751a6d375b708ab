import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { KmsTargetConfig, KmsTargetKind } from './types';

const KEY = 'cache_client_region_id';
const DEDICATED_SUFFIX = '.cryptoservice.kms.aliyuncs.com';
const FIELDS = new Set(['regionId', 'endpoint', 'vpc', 'caFilePath', 'kind', 'protocol']);

/**
 * Turns the official clients' `cache_client_region_id` array into KMS targets.
 * Endpoint rules follow the official clients: `kms.<region>.aliyuncs.com`, `kms-vpc.<region>…`
 * for vpc, and a `<kst-id>.cryptoservice.kms.aliyuncs.com` endpoint is a dedicated KMS
 * instance whose CA must be given (we ship no built-in CAs, so caFilePath is required).
 */
export function parseKmsTargets(value: unknown, baseDir: string): KmsTargetConfig[] {
  if (!Array.isArray(value)) throw new ConfigError(KEY, 'must be a JSON array of {"regionId", "endpoint"?, "vpc"?, "caFilePath"?}');
  const targets = value.map((item, i) => parseTarget(item, `${KEY}[${i}]`, baseDir));
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.id)) throw new ConfigError(KEY, `lists ${t.id} twice`);
    seen.add(t.id);
  }
  return targets;
}

function parseTarget(item: unknown, at: string, baseDir: string): KmsTargetConfig {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new ConfigError(at, 'must be an object');
  const o = item as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS.has(k)) throw new ConfigError(`${at}.${k}`, `unknown field (known: ${[...FIELDS].join(', ')})`);
  }
  const regionId = o.regionId;
  if (typeof regionId !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(regionId)) {
    throw new ConfigError(`${at}.regionId`, 'must be a region id such as cn-hangzhou');
  }
  const vpc = o.vpc === true || o.vpc === 'true';
  if (o.vpc !== undefined && typeof o.vpc !== 'boolean' && o.vpc !== 'true' && o.vpc !== 'false') {
    throw new ConfigError(`${at}.vpc`, 'must be true or false');
  }
  const endpoint = optString(o.endpoint, `${at}.endpoint`) ?? (vpc ? `kms-vpc.${regionId}.aliyuncs.com` : `kms.${regionId}.aliyuncs.com`);
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(endpoint) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(endpoint)) {
    throw new ConfigError(`${at}.endpoint`, 'must be host[:port] without a scheme, such as kms.cn-hangzhou.aliyuncs.com');
  }
  const kind = (optString(o.kind, `${at}.kind`) ?? (endpoint.split(':')[0]!.endsWith(DEDICATED_SUFFIX) ? 'dedicated' : vpc ? 'vpc' : 'shared')) as KmsTargetKind;
  if (!['shared', 'vpc', 'dedicated'].includes(kind)) throw new ConfigError(`${at}.kind`, 'must be shared, vpc or dedicated');
  const protocol = (optString(o.protocol, `${at}.protocol`) ?? 'https') as 'https' | 'http';
  if (protocol !== 'https' && protocol !== 'http') throw new ConfigError(`${at}.protocol`, 'must be https or http');
  if (kind === 'dedicated' && protocol !== 'https') throw new ConfigError(`${at}.protocol`, 'a dedicated KMS instance is reached over https only');

  const caFilePath = optString(o.caFilePath, `${at}.caFilePath`);
  if (kind === 'dedicated' && !caFilePath) {
    throw new ConfigError(`${at}.caFilePath`, `is required for the dedicated KMS instance ${endpoint}: download the instance CA certificate and give its path`);
  }
  let caPem: string | undefined;
  if (caFilePath) {
    const path = resolve(baseDir, caFilePath);
    try {
      caPem = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`${at}.caFilePath`, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${at}.caFilePath`, `${path} holds no PEM certificate`);
  }
  return { id: `${regionId}/${endpoint}`, regionId, endpoint, kind, protocol, caFilePath, caPem };
}

function optString(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(at, 'must be a string');
  return v.trim();
}
