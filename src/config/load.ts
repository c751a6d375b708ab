import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseKeyRing } from '../cache/keyRing';
import type { RedisTarget } from '../cache/redisClient';
import { ConfigError } from '../errors';
import { credentialsConfig } from './credentials';
import { parseDkmsTargets } from './dkmsTargets';
import { parseKmsTargets } from './kmsTargets';
import type { Raw } from './parsers';
import { parseProperties } from './properties';
import { isOwnedName, SETTINGS, type Mode, type SettingName, type SettingValue } from './settings';
import type { AuthConfig, GatewayConfig, KmsTargetConfig } from './types';

export interface LoadOptions {
  mode: Mode;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where a relative config path and an implicit `secretsmanager.properties` are looked up. @default process.cwd() */
  cwd?: string;
  /** Values that win over env and file (CLI flags, tests). */
  overrides?: Partial<Record<SettingName, Raw>>;
}

/**
 * Builds the config once, from (lowest to highest) defaults, the config file, the environment
 * and overrides. Any unknown or invalid setting throws a ConfigError naming it, so the process
 * stops before binding a port.
 */
export function loadConfig(opts: LoadOptions): GatewayConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const raw: Partial<Record<SettingName, Raw>> = {};

  const explicitFile = env.SECRETS_GATEWAY_CONFIG ?? (opts.overrides?.SECRETS_GATEWAY_CONFIG as string | undefined);
  const implicitFile = resolve(cwd, 'secretsmanager.properties');
  const file = explicitFile ? resolve(cwd, explicitFile) : existsSync(implicitFile) ? implicitFile : undefined;
  if (file) Object.assign(raw, readConfigFile(file));

  for (const [name, value] of Object.entries(env)) {
    if (!isOwnedName(name) || value === undefined) continue;
    if (!(name in SETTINGS)) throw new ConfigError(name, unknownReason(name, 'environment variable'));
    raw[name as SettingName] = value;
  }
  for (const [name, value] of Object.entries(opts.overrides ?? {})) {
    if (!(name in SETTINGS)) throw new ConfigError(name, unknownReason(name, 'setting'));
    if (value !== undefined) raw[name as SettingName] = value;
  }

  const get = <K extends SettingName>(name: K): SettingValue<K> => {
    const setting = SETTINGS[name] as { parse: (r: Raw) => unknown; default?: unknown; secret?: boolean };
    const value = raw[name];
    if (value === undefined || value === '') {
      const d = setting.default;
      return (typeof d === 'function' ? d(opts.mode) : d) as SettingValue<K>;
    }
    try {
      return setting.parse(value) as SettingValue<K>;
    } catch (e) {
      throw new ConfigError(name, (e as Error).message);
    }
  };

  const targets = kmsTargetsFrom(get, file ? dirname(file) : cwd, env, opts.mode);

  const redisTarget = redisTargetFrom(get);
  if (redisTarget && opts.mode === 'serve' && !get('SECRETS_GATEWAY_ALLOW_PLAINTEXT_REDIS')) checkRedisTransport(redisTarget);
  if (opts.mode === 'serve') checkKmsTransport(targets, env);
  const allowInMemory = get('SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE');
  if (!redisTarget && opts.mode === 'serve' && !allowInMemory) {
    throw new ConfigError(
      'SECRETS_GATEWAY_REDIS_URL',
      'is required by serve (replicas share the cache through Redis); set it (or SECRETS_GATEWAY_REDIS_CLUSTER_NODES / _SENTINELS), or set SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE=true to run without a shared cache',
    );
  }
  const sealKeys = sealKeysFrom(get, file ? dirname(file) : cwd);
  if (redisTarget && !sealKeys && opts.mode === 'serve') {
    throw new ConfigError('SECRETS_GATEWAY_CACHE_SEAL_KEYS', 'is required with Redis: every value written there is sealed with it (or set SECRETS_GATEWAY_CACHE_SEAL_KEYS_FILE)');
  }
  const namingKeyId = get('SECRETS_GATEWAY_CACHE_NAMING_KEY_ID');
  if (sealKeys) parseKeyRing(sealKeys, { namingKeyId, setting: 'SECRETS_GATEWAY_CACHE_SEAL_KEYS' });
  const retryBase = get('SECRETS_GATEWAY_KMS_RETRY_BASE_MS');
  const retryCap = get('SECRETS_GATEWAY_KMS_RETRY_CAP_MS');
  if (retryCap < retryBase) throw new ConfigError('SECRETS_GATEWAY_KMS_RETRY_CAP_MS', `must be ≥ SECRETS_GATEWAY_KMS_RETRY_BASE_MS (${retryBase})`);
  const ejectBase = get('SECRETS_GATEWAY_KMS_EJECT_BASE_MS');
  const ejectMax = get('SECRETS_GATEWAY_KMS_EJECT_MAX_MS');
  if (ejectMax < ejectBase) throw new ConfigError('SECRETS_GATEWAY_KMS_EJECT_MAX_MS', `must be ≥ SECRETS_GATEWAY_KMS_EJECT_BASE_MS (${ejectBase})`);

  const auth = authConfigFrom(get, opts.mode, file ? dirname(file) : cwd);

  return {
    mode: opts.mode,
    auth,
    server: { maxConcurrentStreams: get('SECRETS_GATEWAY_MAX_CONCURRENT_STREAMS'), maxReceiveMessageBytes: get('SECRETS_GATEWAY_MAX_RECEIVE_MESSAGE_BYTES') },
    listen: get('SECRETS_GATEWAY_LISTEN'),
    admin: { listen: get('SECRETS_GATEWAY_ADMIN_LISTEN') },
    logLevel: get('SECRETS_GATEWAY_LOG_LEVEL'),
    configFile: file,
    redis: {
      target: redisTarget,
      allowInMemory,
      commandTimeoutMs: get('SECRETS_GATEWAY_REDIS_COMMAND_TIMEOUT_MS'),
      connectTimeoutMs: get('SECRETS_GATEWAY_REDIS_CONNECT_TIMEOUT_MS'),
    },
    cache: {
      forcedRefreshMinIntervalMs: get('SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS'),
      tuning: {
        keyPrefix: get('SECRETS_GATEWAY_CACHE_KEY_PREFIX'),
        ttlMs: get('SECRETS_GATEWAY_CACHE_TTL_MS'),
        refreshAheadRatio: get('SECRETS_GATEWAY_CACHE_REFRESH_AHEAD_RATIO'),
        l1MaxEntries: get('SECRETS_GATEWAY_CACHE_L1_MAX_ENTRIES'),
        l1TtlMs: get('SECRETS_GATEWAY_CACHE_L1_TTL_MS'),
        serveStaleOnTransientError: get('SECRETS_GATEWAY_CACHE_SERVE_STALE'),
        maxStaleMs: get('SECRETS_GATEWAY_CACHE_MAX_STALE_MS'),
        negativeTtlMs: get('SECRETS_GATEWAY_CACHE_NEGATIVE_TTL_MS'),
        staleIfSlowMs: get('SECRETS_GATEWAY_CACHE_STALE_IF_SLOW_MS'),
      },
      sealKeys,
      namingKeyId,
      warmUp: {
        secrets: get('SECRETS_GATEWAY_WARMUP_SECRETS'),
        concurrency: get('SECRETS_GATEWAY_WARMUP_CONCURRENCY'),
        jitterMs: get('SECRETS_GATEWAY_WARMUP_JITTER_MS'),
      },
    },
    shutdownGraceMs: get('SECRETS_GATEWAY_SHUTDOWN_GRACE_MS'),
    telemetry: {
      otlpEndpoint: get('SECRETS_GATEWAY_OTLP_ENDPOINT'),
      metricsIntervalMs: get('SECRETS_GATEWAY_OTLP_METRICS_INTERVAL_MS'),
      serviceName: get('SECRETS_GATEWAY_SERVICE_NAME'),
    },
    watch: {
      pollIntervalMs: get('SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS'),
      heartbeatMs: get('SECRETS_GATEWAY_WATCH_HEARTBEAT_MS'),
      maxStreams: get('SECRETS_GATEWAY_WATCH_MAX_STREAMS'),
      maxStreamsPerCaller: get('SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER'),
    },
    kms: {
      targets,
      credentials: credentialsConfig({
        credentials_type: get('credentials_type'),
        credentials_access_key_id: get('credentials_access_key_id'),
        credentials_access_secret: get('credentials_access_secret'),
        credentials_access_token_id: get('credentials_access_token_id'),
        credentials_access_token: get('credentials_access_token'),
        credentials_security_token: get('credentials_security_token'),
        credentials_role_arn: get('credentials_role_arn'),
        credentials_role_session_name: get('credentials_role_session_name'),
        credentials_role_name: get('credentials_role_name'),
        credentials_oidc_provider_arn: get('credentials_oidc_provider_arn'),
        credentials_oidc_token_file_path: get('credentials_oidc_token_file_path'),
        credentials_policy: get('credentials_policy'),
        credentials_duration_seconds: get('credentials_duration_seconds'),
        credentials_sts_endpoint: get('credentials_sts_endpoint'),
        credentials_sts_region_id: get('credentials_sts_region_id'),
        credentials_uri: get('credentials_uri'),
        fallback: {
          ALIBABA_CLOUD_ROLE_ARN: env.ALIBABA_CLOUD_ROLE_ARN,
          ALIBABA_CLOUD_OIDC_PROVIDER_ARN: env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
          ALIBABA_CLOUD_OIDC_TOKEN_FILE: env.ALIBABA_CLOUD_OIDC_TOKEN_FILE,
          ALIBABA_CLOUD_ROLE_SESSION_NAME: env.ALIBABA_CLOUD_ROLE_SESSION_NAME,
          ALIBABA_CLOUD_CREDENTIALS_URI: env.ALIBABA_CLOUD_CREDENTIALS_URI,
        },
      }),
      connectTimeoutMs: get('SECRETS_GATEWAY_KMS_CONNECT_TIMEOUT_MS'),
      readTimeoutMs: get('SECRETS_GATEWAY_KMS_READ_TIMEOUT_MS'),
      retry: { maxAttempts: get('SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS'), baseDelayMs: retryBase, maxDelayMs: retryCap },
      breaker: { failureThreshold: get('SECRETS_GATEWAY_KMS_BREAKER_FAILURES'), openMs: get('SECRETS_GATEWAY_KMS_BREAKER_OPEN_MS') },
      ejection: { baseMs: ejectBase, maxMs: ejectMax },
      hedgeDelayMs: get('SECRETS_GATEWAY_KMS_HEDGE_DELAY_MS'),
      budget: { qps: get('SECRETS_GATEWAY_KMS_BUDGET_QPS'), burst: get('SECRETS_GATEWAY_KMS_BUDGET_BURST'), replicas: get('SECRETS_GATEWAY_KMS_BUDGET_REPLICAS') },
    },
  };
}

type Get = <K extends SettingName>(name: K) => SettingValue<K>;

/**
 * Transport, identity and policy settings, with the combinations that cannot work refused at
 * startup: serve without TLS or without a policy (unless explicitly allowed), a policy that no
 * caller could satisfy (no identity source), half a key pair, tokens without issuer/audience.
 */
function authConfigFrom(get: Get, mode: Mode, baseDir: string): AuthConfig {
  const path = (name: SettingName) => {
    const v = get(name) as string | undefined;
    return v === undefined ? undefined : resolve(baseDir, v);
  };
  const certFile = path('SECRETS_GATEWAY_TLS_CERT_FILE');
  const keyFile = path('SECRETS_GATEWAY_TLS_KEY_FILE');
  const clientCaFile = path('SECRETS_GATEWAY_TLS_CLIENT_CA_FILE');
  const allowPlaintext = get('SECRETS_GATEWAY_ALLOW_PLAINTEXT');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(certFile ? 'SECRETS_GATEWAY_TLS_KEY_FILE' : 'SECRETS_GATEWAY_TLS_CERT_FILE', 'the certificate and its key are set together');
  }
  if (clientCaFile && !certFile) throw new ConfigError('SECRETS_GATEWAY_TLS_CLIENT_CA_FILE', 'needs SECRETS_GATEWAY_TLS_CERT_FILE and _KEY_FILE (mTLS is TLS first)');
  if (!certFile && mode === 'serve' && !allowPlaintext) {
    throw new ConfigError('SECRETS_GATEWAY_TLS_CERT_FILE', 'serve requires TLS (set SECRETS_GATEWAY_TLS_CERT_FILE and SECRETS_GATEWAY_TLS_KEY_FILE), or set SECRETS_GATEWAY_ALLOW_PLAINTEXT=true to serve plaintext gRPC');
  }

  const jwksFile = path('SECRETS_GATEWAY_AUTH_JWKS_FILE');
  const jwksUrl = get('SECRETS_GATEWAY_AUTH_JWKS_URL');
  const issuer = get('SECRETS_GATEWAY_AUTH_JWT_ISSUER');
  const audience = get('SECRETS_GATEWAY_AUTH_JWT_AUDIENCE');
  if (jwksFile && jwksUrl) throw new ConfigError('SECRETS_GATEWAY_AUTH_JWKS_URL', 'set either SECRETS_GATEWAY_AUTH_JWKS_FILE or _URL, not both');
  // Whoever can alter a plain-HTTP key set can mint any identity.
  if (jwksUrl && mode === 'serve' && !jwksUrl.startsWith('https:')) throw new ConfigError('SECRETS_GATEWAY_AUTH_JWKS_URL', 'serve requires an https:// JWKS URL');
  let jwt: AuthConfig['jwt'];
  if (jwksFile || jwksUrl) {
    if (!issuer) throw new ConfigError('SECRETS_GATEWAY_AUTH_JWT_ISSUER', 'is required with a JWKS: tokens from any other issuer are refused');
    if (!audience) throw new ConfigError('SECRETS_GATEWAY_AUTH_JWT_AUDIENCE', 'is required with a JWKS: a token minted for another audience must not work here');
    jwt = { issuer, audience, jwks: jwksFile ? { file: jwksFile } : { url: jwksUrl! } };
  } else if (issuer || audience) {
    throw new ConfigError(issuer ? 'SECRETS_GATEWAY_AUTH_JWT_ISSUER' : 'SECRETS_GATEWAY_AUTH_JWT_AUDIENCE', 'needs SECRETS_GATEWAY_AUTH_JWKS_FILE or _URL to verify tokens with');
  }
  const clientAuth = get('SECRETS_GATEWAY_TLS_CLIENT_AUTH');
  if (clientAuth === 'require' && clientCaFile && jwt) {
    throw new ConfigError('SECRETS_GATEWAY_TLS_CLIENT_AUTH', 'require accepts client certificates only, so the JWKS would never be used: set optional to accept tokens too, or drop the JWKS setting');
  }
  if (clientAuth === 'optional' && clientCaFile && !jwt) {
    throw new ConfigError('SECRETS_GATEWAY_TLS_CLIENT_AUTH', 'optional lets a caller present a token instead of a certificate: set SECRETS_GATEWAY_AUTH_JWKS_FILE or _URL');
  }

  const policyFile = path('SECRETS_GATEWAY_POLICY_FILE');
  const allowAllCallers = get('SECRETS_GATEWAY_ALLOW_ALL_CALLERS');
  if (policyFile && allowAllCallers && mode === 'serve') {
    throw new ConfigError('SECRETS_GATEWAY_ALLOW_ALL_CALLERS', 'contradicts SECRETS_GATEWAY_POLICY_FILE: unset one');
  }
  if (!policyFile && !allowAllCallers) {
    throw new ConfigError('SECRETS_GATEWAY_POLICY_FILE', 'serve requires a policy of who may read what, or SECRETS_GATEWAY_ALLOW_ALL_CALLERS=true to let every caller read every secret');
  }
  if (policyFile && !clientCaFile && !jwt) {
    throw new ConfigError('SECRETS_GATEWAY_POLICY_FILE', 'a policy needs caller identities: set SECRETS_GATEWAY_TLS_CLIENT_CA_FILE (mTLS) and/or SECRETS_GATEWAY_AUTH_JWKS_FILE or _URL (service-account tokens)');
  }
  return {
    tls: certFile && keyFile ? { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}), clientAuth: clientCaFile ? clientAuth : 'optional' } : undefined,
    allowPlaintext,
    jwt,
    policyFile,
    allowAllCallers: allowAllCallers && !policyFile,
    auditLog: get('SECRETS_GATEWAY_AUDIT_LOG'),
    reflection: get('SECRETS_GATEWAY_REFLECTION'),
    reloadIntervalMs: get('SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS'),
    limits: {
      getSecret: { ratePerSec: get('SECRETS_GATEWAY_LIMIT_GET_RPS'), burst: get('SECRETS_GATEWAY_LIMIT_GET_BURST') },
      missReads: { ratePerSec: get('SECRETS_GATEWAY_LIMIT_MISS_RPS'), burst: get('SECRETS_GATEWAY_LIMIT_MISS_BURST') },
      streamOpens: { ratePerSec: get('SECRETS_GATEWAY_LIMIT_STREAM_OPENS_RPS'), burst: get('SECRETS_GATEWAY_LIMIT_STREAM_OPENS_BURST') },
      unauthenticated: { ratePerSec: get('SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_RPS'), burst: get('SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_BURST') },
    },
  };
}

/** ClientKey instances (`cache_client_dkms_config_info`) first, then `cache_client_region_id`: one ordered pool. */
function kmsTargetsFrom(get: Get, baseDir: string, env: NodeJS.ProcessEnv, mode: Mode): KmsTargetConfig[] {
  const dkmsRaw = get('cache_client_dkms_config_info');
  const regionRaw = get('cache_client_region_id');
  const targets = [
    ...(dkmsRaw === undefined ? [] : parseDkmsTargets(dkmsRaw, baseDir, env, mode)),
    ...(regionRaw === undefined ? [] : parseKmsTargets(regionRaw, baseDir)),
  ];
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.id)) throw new ConfigError(t.clientKey ? 'cache_client_dkms_config_info' : 'cache_client_region_id', `lists ${t.id} twice (across cache_client_dkms_config_info and cache_client_region_id)`);
    seen.add(t.id);
  }
  if (targets.length === 0 && mode === 'serve') {
    throw new ConfigError('cache_client_region_id', 'at least one KMS target is required, e.g. [{"regionId":"cn-hangzhou"}] (or a ClientKey instance in cache_client_dkms_config_info)');
  }
  return targets;
}

/**
 * serve talks to Redis over TLS with AUTH: Redis holds no plaintext, but it carries the
 * coordination every replica acts on, and AUTH must not cross the network in clear.
 */
function checkRedisTransport(t: RedisTarget): void {
  const hatch = 'or set SECRETS_GATEWAY_ALLOW_PLAINTEXT_REDIS=true';
  if ('url' in t) {
    const u = new URL(t.url);
    if (u.protocol !== 'rediss:') throw new ConfigError('SECRETS_GATEWAY_REDIS_URL', `serve requires rediss:// (TLS), ${hatch}`);
    if (!u.password) throw new ConfigError('SECRETS_GATEWAY_REDIS_URL', `serve requires Redis AUTH (a password in the URL), ${hatch}`);
    return;
  }
  if (!t.tls) throw new ConfigError('SECRETS_GATEWAY_REDIS_TLS', `serve requires TLS to Redis, ${hatch}`);
  if (!t.password) throw new ConfigError('SECRETS_GATEWAY_REDIS_PASSWORD', `serve requires Redis AUTH, ${hatch}`);
}

/**
 * serve reaches KMS only over verified HTTPS: no plain HTTP target, no target whose kind
 * contradicts its endpoint (an instance endpoint needs its CA), and no process-wide switch that
 * turns certificate checks off.
 */
function checkKmsTransport(targets: KmsTargetConfig[], env: NodeJS.ProcessEnv): void {
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new ConfigError('NODE_TLS_REJECT_UNAUTHORIZED', 'is 0, which turns off TLS certificate checks for KMS and Redis: serve refuses to start with it');
  }
  for (const t of targets) {
    const setting = t.clientKey ? 'cache_client_dkms_config_info' : 'cache_client_region_id';
    if (t.protocol === 'http') throw new ConfigError(setting, `${t.id}: serve requires https to KMS (protocol "http" is for the local emulator in dev mode)`);
    const host = t.endpoint.replace(/:\d+$/, '');
    if (host.endsWith('.cryptoservice.kms.aliyuncs.com') && t.kind !== 'dedicated') {
      throw new ConfigError(setting, `${t.id}: a *.cryptoservice.kms.aliyuncs.com endpoint is a dedicated KMS instance; its kind must be "dedicated" (with its CA), not "${t.kind}"`);
    }
  }
}

/** Exactly one of URL, Cluster nodes or Sentinels picks the Redis mode. */
function redisTargetFrom(get: Get): RedisTarget | undefined {
  const url = get('SECRETS_GATEWAY_REDIS_URL');
  const cluster = get('SECRETS_GATEWAY_REDIS_CLUSTER_NODES');
  const sentinels = get('SECRETS_GATEWAY_REDIS_SENTINELS');
  const given = [url && 'SECRETS_GATEWAY_REDIS_URL', cluster && 'SECRETS_GATEWAY_REDIS_CLUSTER_NODES', sentinels && 'SECRETS_GATEWAY_REDIS_SENTINELS'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(given[1] as string, `conflicts with ${given[0]}: choose one Redis mode`);
  const password = get('SECRETS_GATEWAY_REDIS_PASSWORD');
  const tls = get('SECRETS_GATEWAY_REDIS_TLS');
  if (url) return { url };
  if (cluster) return { clusterNodes: cluster, password, tls };
  if (sentinels) {
    const name = get('SECRETS_GATEWAY_REDIS_SENTINEL_NAME');
    if (!name) throw new ConfigError('SECRETS_GATEWAY_REDIS_SENTINEL_NAME', 'is required with SECRETS_GATEWAY_REDIS_SENTINELS');
    return { sentinels, name, password, tls };
  }
  return undefined;
}

function sealKeysFrom(get: Get, baseDir: string): string | undefined {
  const inline = get('SECRETS_GATEWAY_CACHE_SEAL_KEYS');
  const path = get('SECRETS_GATEWAY_CACHE_SEAL_KEYS_FILE');
  if (inline && path) throw new ConfigError('SECRETS_GATEWAY_CACHE_SEAL_KEYS_FILE', 'conflicts with SECRETS_GATEWAY_CACHE_SEAL_KEYS: give one');
  if (!path) return inline;
  try {
    return readFileSync(resolve(baseDir, path), 'utf8').trim();
  } catch (e) {
    throw new ConfigError('SECRETS_GATEWAY_CACHE_SEAL_KEYS_FILE', `cannot read ${resolve(baseDir, path)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function readConfigFile(path: string): Partial<Record<SettingName, Raw>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('SECRETS_GATEWAY_CONFIG', `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let values: unknown;
  const ext = extname(path).toLowerCase();
  if (ext === '.properties') values = parseProperties(text);
  else if (ext === '.json' || ext === '.yaml' || ext === '.yml') {
    try {
      values = parseYaml(text);
    } catch (e) {
      throw new ConfigError('SECRETS_GATEWAY_CONFIG', `${path} is not valid ${ext.slice(1).toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
    }
  } else throw new ConfigError('SECRETS_GATEWAY_CONFIG', `${path}: use a .json, .yaml, .yml or .properties file`);
  if (values === null || values === undefined) return {};
  if (typeof values !== 'object' || Array.isArray(values)) throw new ConfigError('SECRETS_GATEWAY_CONFIG', `${path} must hold a map of settings`);
  for (const name of Object.keys(values)) {
    if (!(name in SETTINGS) || name === 'SECRETS_GATEWAY_CONFIG') throw new ConfigError(name, unknownReason(name, `key in ${path}`));
  }
  return values as Partial<Record<SettingName, Raw>>;
}

function unknownReason(name: string, what: string): string {
  const near = Object.keys(SETTINGS).find((k) => editDistance(k.toLowerCase(), name.toLowerCase()) <= 3);
  return `unknown ${what}${near ? ` (did you mean ${near}?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
