import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { ClientKeyError, normalizePassword, parseClientKey, type PasswordSource } from '../kms/clientKey';
import type { Mode } from './settings';
import type { KmsTargetConfig } from './types';

const KEY = 'cache_client_dkms_config_info';
const FIELDS = ['regionId', 'endpoint', 'clientKeyFile', 'passwordFromFilePath', 'passwordFromEnvVariable', 'ignoreSslCerts', 'caFilePath'];
/** Keys the v1 clients also parse (from the instance SDK's Config), with the v1 key to use instead. */
const ALIASES: Record<string, string> = { ignoreSSL: 'ignoreSslCerts', ca: 'caFilePath' };

/**
 * Turns the v1 clients' `cache_client_dkms_config_info` array into KMS targets that speak a
 * dedicated instance's own API with an AAP ClientKey. The keys and their meaning are the v1
 * clients' (aliyun-secretsmanager-client-go/-python, alibabacloud-secretsmanager-client-java):
 * `regionId`, `endpoint`, `clientKeyFile`, the password from `passwordFromFilePath` or from the
 * environment variable named by `passwordFromEnvVariable`, `caFilePath`, `ignoreSslCerts`.
 * The ClientKey is opened here once, so a wrong file or password stops startup with the field
 * named; the pool re-reads the files when they change. Nothing read is ever put in an error.
 */
export function parseDkmsTargets(value: unknown, baseDir: string, env: NodeJS.ProcessEnv, mode: Mode): KmsTargetConfig[] {
  if (!Array.isArray(value)) throw new ConfigError(KEY, 'must be a JSON array of {"regionId", "endpoint", "clientKeyFile", "passwordFromFilePath", "caFilePath"}');
  return value.map((item, i) => parseEntry(item, `${KEY}[${i}]`, baseDir, env, mode));
}

function parseEntry(item: unknown, at: string, baseDir: string, env: NodeJS.ProcessEnv, mode: Mode): KmsTargetConfig {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new ConfigError(at, 'must be an object');
  const o = item as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (ALIASES[k]) throw new ConfigError(`${at}.${k}`, `use ${ALIASES[k]}, the secrets-manager client key for it`);
    if (!FIELDS.includes(k)) throw new ConfigError(`${at}.${k}`, `unknown field (known: ${FIELDS.join(', ')})`);
  }
  const regionId = str(o.regionId, `${at}.regionId`);
  if (!regionId || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(regionId)) throw new ConfigError(`${at}.regionId`, 'must be a region id such as cn-hangzhou');
  // The Go client strips a scheme; we accept https:// and nothing else.
  const endpoint = str(o.endpoint, `${at}.endpoint`)?.replace(/^https:\/\//i, '').replace(/\/+$/, '');
  if (!endpoint) throw new ConfigError(`${at}.endpoint`, 'is required: the instance endpoint, <kst-id>.cryptoservice.kms.aliyuncs.com');
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(endpoint) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(endpoint)) {
    throw new ConfigError(`${at}.endpoint`, 'must be host[:port], such as kst-hzz65f1a2b3c4d5e6.cryptoservice.kms.aliyuncs.com');
  }

  const ignore = o.ignoreSslCerts;
  if (ignore !== undefined && typeof ignore !== 'boolean' && ignore !== 'true' && ignore !== 'false') throw new ConfigError(`${at}.ignoreSslCerts`, 'must be true or false');
  const insecure = ignore === true || ignore === 'true';
  if (insecure && mode === 'serve') throw new ConfigError(`${at}.ignoreSslCerts`, 'true is refused by serve (it turns off TLS verification): pin the instance CA with caFilePath');
  const caFilePath = str(o.caFilePath, `${at}.caFilePath`);
  if (!caFilePath && !insecure) {
    throw new ConfigError(`${at}.caFilePath`, `is required for the KMS instance ${endpoint}: download its CA certificate (PrivateKmsCA_kst-….pem) and give its path`);
  }
  let caPem: string | undefined;
  if (caFilePath) {
    caPem = readText(resolve(baseDir, caFilePath), `${at}.caFilePath`);
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${at}.caFilePath`, `${resolve(baseDir, caFilePath)} holds no PEM certificate`);
  }

  const keyPath = str(o.clientKeyFile, `${at}.clientKeyFile`);
  if (!keyPath) throw new ConfigError(`${at}.clientKeyFile`, 'is required: the ClientKey JSON file of the application access point');
  const file = resolve(baseDir, keyPath);
  const { password, passwordField } = passwordOf(o, at, baseDir, env);
  try {
    parseClientKey(readText(file, `${at}.clientKeyFile`), password.kind === 'value' ? password.value : normalizePassword(readText(password.path, passwordField)));
  } catch (e) {
    if (e instanceof ClientKeyError) throw new ConfigError(e.field === 'password' ? passwordField : `${at}.clientKeyFile`, `${file}: ${e.message}`);
    throw e;
  }
  return { id: `${regionId}/${endpoint}`, regionId, endpoint, kind: 'dedicated', protocol: 'https', caFilePath, caPem, clientKey: { file, password }, insecureSkipVerify: insecure || undefined };
}

function passwordOf(o: Record<string, unknown>, at: string, baseDir: string, env: NodeJS.ProcessEnv): { password: PasswordSource; passwordField: string } {
  const fromFile = str(o.passwordFromFilePath, `${at}.passwordFromFilePath`);
  const fromEnv = str(o.passwordFromEnvVariable, `${at}.passwordFromEnvVariable`);
  if (fromFile && fromEnv) throw new ConfigError(`${at}.passwordFromEnvVariable`, 'conflicts with passwordFromFilePath: give one');
  if (fromFile) return { password: { kind: 'file', path: resolve(baseDir, fromFile) }, passwordField: `${at}.passwordFromFilePath` };
  if (!fromEnv) throw new ConfigError(`${at}.passwordFromFilePath`, 'is required (or passwordFromEnvVariable): the file holding the ClientKey password');
  const field = `${at}.passwordFromEnvVariable`;
  const raw = env[fromEnv];
  if (raw === undefined || !raw.trim()) throw new ConfigError(field, `the environment variable ${fromEnv} is not set`);
  // Read once at startup (nothing reads the environment later). Not enumerable, so a config
  // object that is printed or serialized never shows it.
  const password = { kind: 'value' } as PasswordSource & { kind: 'value' };
  Object.defineProperty(password, 'value', { value: normalizePassword(raw), enumerable: false });
  return { password, passwordField: field };
}

function str(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(at, 'must be a string');
  return v.trim() || undefined;
}

function readText(path: string, at: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(at, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
