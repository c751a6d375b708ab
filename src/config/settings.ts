/**
 * Every setting the gateway reads, in one table: its name (as written in the environment or a
 * config file), parser, default and meaning. Nothing outside `config/` reads `process.env`.
 *
 * Two families:
 * - `SECRETS_GATEWAY_*`: the gateway's own settings;
 * - `cache_client_*` and `credentials_*`: the keys the official Alibaba secret clients read, so a
 *   team migrating from them keeps its environment or `secretsmanager.properties` unchanged.
 */
import { bool, fraction, hostPort, hostPorts, httpUrl, int, json, keyPrefix, names, nonEmpty, oneOf, redisUrl, secret, str, type Parser, type RangedParser } from './parsers';

export type Mode = 'dev' | 'serve';

export interface Setting<T = unknown> {
  parse: Parser<T>;
  /** The default, per mode. `undefined` means "unset". */
  default?: T | ((mode: Mode) => T | undefined);
  /** Never echo the value in an error or log. */
  secret?: boolean;
  doc: string;
}

const s = <T>(x: Setting<T>): Setting<T> => x;

export const SETTINGS = {
  SECRETS_GATEWAY_CONFIG: s({ parse: nonEmpty, doc: 'Path to a config file (.json, .yaml, .yml or .properties) holding any of these settings by the same names. Environment values win over the file.' }),
  SECRETS_GATEWAY_LISTEN: s({
    parse: hostPort,
    default: (mode) => hostPort(mode === 'dev' ? '127.0.0.1:50051' : '0.0.0.0:50051'),
    doc: 'gRPC listen address, host:port. @default 127.0.0.1:50051 (dev), 0.0.0.0:50051 (serve)',
  }),
  SECRETS_GATEWAY_ADMIN_LISTEN: s({
    parse: hostPort,
    default: (mode) => hostPort(mode === 'dev' ? '127.0.0.1:9464' : '0.0.0.0:9464'),
    doc: 'Admin HTTP listen address, host:port, separate from gRPC and plaintext (nothing secret on it): /metrics (Prometheus text), /healthz (alive) and /readyz (can serve). In dev a busy port falls back to a free one. @default 127.0.0.1:9464 (dev), 0.0.0.0:9464 (serve)',
  }),
  SECRETS_GATEWAY_REDIS_URL: s({ parse: redisUrl, secret: true, doc: 'Shared cache, standalone Redis: redis:// or rediss:// URL (may carry a password, so it is never logged). With no Redis setting, dev mode uses an in-memory shared cache; serve refuses to start unless SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE=true.' }),
  SECRETS_GATEWAY_REDIS_CLUSTER_NODES: s({ parse: hostPorts, doc: 'Shared cache, Redis Cluster: seed nodes host:port,host:port,… (instead of SECRETS_GATEWAY_REDIS_URL).' }),
  SECRETS_GATEWAY_REDIS_SENTINELS: s({ parse: hostPorts, doc: 'Shared cache, Redis Sentinel: sentinels host:port,host:port,…; needs SECRETS_GATEWAY_REDIS_SENTINEL_NAME.' }),
  SECRETS_GATEWAY_REDIS_SENTINEL_NAME: s({ parse: nonEmpty, doc: 'The Sentinel master group name.' }),
  SECRETS_GATEWAY_REDIS_PASSWORD: s({ parse: secret, secret: true, doc: 'Password for Cluster or Sentinel mode (a URL carries its own). Never logged.' }),
  SECRETS_GATEWAY_REDIS_TLS: s({ parse: bool, default: false, doc: 'TLS for Cluster or Sentinel mode (use rediss:// for a URL). @default false' }),
  SECRETS_GATEWAY_REDIS_COMMAND_TIMEOUT_MS: s({ parse: int(10, 60_000), default: 500, doc: 'Longest wait for one Redis reply; past it the call counts against the Redis breaker. @default 500' }),
  SECRETS_GATEWAY_REDIS_CONNECT_TIMEOUT_MS: s({ parse: int(100, 60_000), default: 2_000, doc: 'Redis connect timeout. @default 2000' }),

  SECRETS_GATEWAY_CACHE_SEAL_KEYS: s({ parse: secret, secret: true, doc: 'AES-256-GCM keys that seal every value written to Redis: id:base64,id:base64 (32 bytes each), the first seals, all open, so the key rotates without a flush. Required with Redis. Generate one with `node -e "console.log(\'k1:\'+require(\'crypto\').randomBytes(32).toString(\'base64\'))"`. Never logged.' }),
  SECRETS_GATEWAY_CACHE_SEAL_KEYS_FILE: s({ parse: nonEmpty, doc: 'A file holding SECRETS_GATEWAY_CACHE_SEAL_KEYS (e.g. a mounted Kubernetes Secret).' }),
  SECRETS_GATEWAY_CACHE_NAMING_KEY_ID: s({ parse: nonEmpty, doc: 'Which seal key derives Redis key names. @default the primary; pin it while rotating seal keys so names stay put.' }),
  SECRETS_GATEWAY_CACHE_KEY_PREFIX: s({ parse: keyPrefix, default: 'sg', doc: 'Prefix of every Redis key and channel; deployments sharing one Redis need distinct prefixes. @default sg' }),
  SECRETS_GATEWAY_CACHE_TTL_MS: s({ parse: int(1_000, 86_400_000), default: 300_000, doc: 'How long a value fetched from KMS counts as fresh (jittered). @default 300000' }),
  SECRETS_GATEWAY_CACHE_REFRESH_AHEAD_RATIO: s({ parse: fraction(0, 0.95), default: 0.75, doc: 'One replica refreshes a recently read value at this fraction of its TTL, so hot secrets never expire on the request path; 0 turns it off. @default 0.75' }),
  SECRETS_GATEWAY_CACHE_L1_MAX_ENTRIES: s({ parse: int(1, 1_000_000), default: 10_000, doc: 'Entries in the in-process cache. @default 10000' }),
  SECRETS_GATEWAY_CACHE_L1_TTL_MS: s({ parse: int(0, 600_000), default: 5_000, doc: 'How long the in-process cache answers before checking the shared one. @default 5000' }),
  SECRETS_GATEWAY_CACHE_SERVE_STALE: s({ parse: bool, default: true, doc: 'Answer a cached value (source STALE) when KMS fails transiently. Never after NotFound, AccessDenied or deletion. @default true' }),
  SECRETS_GATEWAY_CACHE_MAX_STALE_MS: s({ parse: int(0, 7 * 86_400_000), default: 3_600_000, doc: 'How long past its TTL a value may be answered stale. @default 3600000' }),
  SECRETS_GATEWAY_CACHE_STALE_IF_SLOW_MS: s({ parse: int(0, 600_000), default: 1_000, doc: 'A read holding an expired value (within max-stale and its max_staleness) answers it STALE when the refresh has not finished within this long, so a slow or recovering KMS costs callers this much, not their deadline; the refresh goes on. 0: wait for the refresh. @default 1000' }),
  SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS: s({ parse: int(0, 600_000), default: 1_000, doc: 'A GetSecret max_staleness below this is raised to it, so no caller can force more than one KMS refresh of a secret (or re-check of a missing name) per interval for the whole cluster. @default 1000' }),
  SECRETS_GATEWAY_CACHE_NEGATIVE_TTL_MS: s({ parse: int(0, 3_600_000), default: 5_000, doc: 'How long a NotFound is remembered, so a bad name cannot hammer KMS; 0 turns it off. @default 5000' }),
  SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: s({
    parse: int(500, 3_600_000),
    default: (mode) => (mode === 'dev' ? 2_000 : 30_000),
    doc: 'How often the cluster (one elected replica per secret) checks each watched secret with KMS, before jitter; tightened around NextRotationDate. @default 30000 (serve), 2000 (dev)',
  }),
  SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: s({ parse: int(100, 600_000), default: (mode) => (mode === 'dev' ? 5_000 : 15_000), doc: 'Idle time on a watch stream before a Heartbeat. @default 15000 (serve), 5000 (dev)' }),
  SECRETS_GATEWAY_WATCH_MAX_STREAMS: s({ parse: int(1, 1_000_000), default: 10_000, doc: 'Open WatchSecret streams per replica; beyond it RESOURCE_EXHAUSTED. @default 10000' }),
  SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER: s({ parse: int(1, 100_000), default: 100, doc: 'Open WatchSecret streams per caller identity on one replica (the peer address only for callers without one). @default 100' }),
  SECRETS_GATEWAY_WARMUP_SECRETS: s({ parse: names, default: [] as string[], doc: 'Secret names (ACSCurrent) to load at startup, jittered and with bounded concurrency, so a rolling restart never stampedes KMS.' }),
  SECRETS_GATEWAY_WARMUP_CONCURRENCY: s({ parse: int(1, 64), default: 4, doc: 'Warm-up reads in flight at once. @default 4' }),
  SECRETS_GATEWAY_WARMUP_JITTER_MS: s({ parse: int(0, 60_000), default: 1_000, doc: 'Each warm-up read first waits a random 0..N ms. @default 1000' }),
  SECRETS_GATEWAY_ALLOW_PLAINTEXT_REDIS: s({ parse: bool, default: false, doc: 'Let serve use Redis without TLS (redis://, or SECRETS_GATEWAY_REDIS_TLS=false) or without AUTH. Values stay sealed, but coordination traffic and AUTH would cross the network in clear. @default false' }),
  SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: s({ parse: bool, default: false, doc: 'Let `serve` run without Redis: each replica then caches and calls KMS on its own. @default false' }),
  SECRETS_GATEWAY_LOG_LEVEL: s({ parse: oneOf('debug', 'info', 'warn', 'error'), default: 'info' as const, doc: 'Log level. @default info' }),
  SECRETS_GATEWAY_OTLP_ENDPOINT: s({ parse: httpUrl, doc: 'OpenTelemetry: export traces and metrics over OTLP/HTTP to this base URL (e.g. http://otel-collector:4318). Unset: telemetry is off (no-op).' }),
  SECRETS_GATEWAY_OTLP_METRICS_INTERVAL_MS: s({ parse: int(1_000, 3_600_000), default: 60_000, doc: 'How often metrics are exported. @default 60000' }),
  SECRETS_GATEWAY_SERVICE_NAME: s({ parse: nonEmpty, default: 'secrets-gateway', doc: 'service.name in traces and metrics. @default secrets-gateway' }),
  SECRETS_GATEWAY_SHUTDOWN_GRACE_MS: s({ parse: int(0, 600_000), default: 10_000, doc: 'How long shutdown waits for in-flight calls before forcing them closed. @default 10000' }),

  SECRETS_GATEWAY_TLS_CERT_FILE: s({ parse: nonEmpty, doc: 'Server certificate chain (PEM). With SECRETS_GATEWAY_TLS_KEY_FILE, gRPC is served over TLS; both files are re-read when they change (cert-manager, SPIRE) and new connections use the new pair; a new pair that does not load is logged and the old one kept. serve refuses to start without TLS unless SECRETS_GATEWAY_ALLOW_PLAINTEXT=true.' }),
  SECRETS_GATEWAY_TLS_KEY_FILE: s({ parse: nonEmpty, doc: 'Server private key (PEM) for SECRETS_GATEWAY_TLS_CERT_FILE. Never logged.' }),
  SECRETS_GATEWAY_TLS_CLIENT_CA_FILE: s({ parse: nonEmpty, doc: 'CA bundle (PEM) for client certificates (mTLS), re-read on change. A verified client certificate is the caller identity: its SPIFFE ID (URI SAN), else its first DNS SAN, else its subject CN.' }),
  SECRETS_GATEWAY_TLS_CLIENT_AUTH: s({ parse: oneOf('require', 'optional'), default: 'require' as const, doc: 'With a client CA: require (every call presents a verified client certificate) or optional (a call may instead present a Kubernetes service-account token). @default require' }),
  SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS: s({ parse: int(100, 3_600_000), default: 10_000, doc: 'How often the TLS, JWKS and policy files are checked for a change. @default 10000' }),
  SECRETS_GATEWAY_ALLOW_PLAINTEXT: s({ parse: bool, default: false, doc: 'Let serve run gRPC without TLS (it logs a warning at start). Dev mode is plaintext on loopback. @default false' }),
  SECRETS_GATEWAY_AUTH_JWKS_FILE: s({ parse: nonEmpty, doc: 'JWKS (JSON) that verifies Kubernetes projected service-account tokens sent as `authorization: Bearer <jwt>`; re-read on change. The identity is the token\'s sub (system:serviceaccount:<namespace>:<name>). RS256 and ES256 only.' }),
  SECRETS_GATEWAY_AUTH_JWKS_URL: s({ parse: httpUrl, doc: 'JWKS URL instead of a file (e.g. the API server\'s /openid/v1/jwks), fetched with a bounded cache and refreshed on an unknown kid.' }),
  SECRETS_GATEWAY_AUTH_JWT_ISSUER: s({ parse: nonEmpty, doc: 'Required iss of service-account tokens (e.g. https://kubernetes.default.svc.cluster.local).' }),
  SECRETS_GATEWAY_AUTH_JWT_AUDIENCE: s({ parse: nonEmpty, doc: 'Required aud of service-account tokens (the audience of the projected token volume, e.g. secrets-gateway).' }),
  SECRETS_GATEWAY_POLICY_FILE: s({ parse: nonEmpty, doc: 'Who may read what: a YAML or JSON file of rules {identities, secrets, stages?}; default deny; re-read on change (a bad new file is logged and the old policy kept). Checked on every GetSecret and WatchSecret before the cache is touched. serve refuses to start without it unless SECRETS_GATEWAY_ALLOW_ALL_CALLERS=true.' }),
  SECRETS_GATEWAY_ALLOW_ALL_CALLERS: s({ parse: bool, default: (mode) => mode === 'dev', doc: 'Serve every caller every secret the gateway can read (no policy). @default true in dev, false in serve' }),
  SECRETS_GATEWAY_AUDIT_LOG: s({ parse: nonEmpty, default: (mode) => (mode === 'serve' ? 'stdout' : undefined), doc: 'Audit trail, one JSON line per decision: stdout, stderr or a file path (appended, reopened on SIGHUP or when rotated away). A call whose decision cannot be recorded fails with UNAVAILABLE. @default stdout (serve), off (dev)' }),
  SECRETS_GATEWAY_REFLECTION: s({ parse: bool, default: true, doc: 'Serve gRPC server reflection (grpcurl). In serve it requires the same caller authentication as the service. @default true' }),
  SECRETS_GATEWAY_LIMIT_GET_RPS: s({ parse: int(1, 1_000_000), default: 200, doc: 'GetSecret calls per second per caller identity (token bucket); over it RESOURCE_EXHAUSTED with retry-after-ms. @default 200' }),
  SECRETS_GATEWAY_LIMIT_GET_BURST: s({ parse: int(1, 1_000_000), default: 400, doc: 'GetSecret burst per caller. @default 400' }),
  SECRETS_GATEWAY_LIMIT_MISS_RPS: s({ parse: int(1, 100_000), default: 5, doc: 'Reads per second per caller that miss this replica\'s cache and start a fill (they spend the cluster\'s KMS budget). @default 5' }),
  SECRETS_GATEWAY_LIMIT_MISS_BURST: s({ parse: int(1, 100_000), default: 50, doc: 'Cache-missing reads a caller may make in a burst (warm-up of a new pod). @default 50' }),
  SECRETS_GATEWAY_LIMIT_STREAM_OPENS_RPS: s({ parse: int(1, 100_000), default: 20, doc: 'WatchSecret streams a caller may open per second. @default 20' }),
  SECRETS_GATEWAY_LIMIT_STREAM_OPENS_BURST: s({ parse: int(1, 100_000), default: 100, doc: 'WatchSecret opens per caller in a burst. @default 100' }),
  SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_RPS: s({ parse: int(1, 100_000), default: 5, doc: 'Calls per second from one peer address that fail authentication; beyond it they get RESOURCE_EXHAUSTED and are counted instead of audited one line each (secretsgateway_authz_decisions_total{reason="rate_limited"}). Calls that authenticate are not affected. @default 5' }),
  SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_BURST: s({ parse: int(1, 100_000), default: 20, doc: 'Failed authentications per peer address in a burst. @default 20' }),
  SECRETS_GATEWAY_MAX_CONCURRENT_STREAMS: s({ parse: int(1, 1_000_000), default: 1_000, doc: 'HTTP/2 streams (calls) one connection may hold open at once (grpc.max_concurrent_streams). @default 1000' }),
  SECRETS_GATEWAY_MAX_RECEIVE_MESSAGE_BYTES: s({ parse: int(1024, 4 * 1024 * 1024), default: 64 * 1024, doc: 'Largest request message accepted. @default 65536' }),

  SECRETS_GATEWAY_KMS_CONNECT_TIMEOUT_MS: s({ parse: int(100, 60_000), default: 5_000, doc: 'KMS socket idle timeout (httpx `connectTimeout`, which stays armed after connect, so it must exceed KMS think time). @default 5000' }),
  SECRETS_GATEWAY_KMS_READ_TIMEOUT_MS: s({ parse: int(100, 60_000), default: 5_000, doc: 'KMS per-attempt total timeout. @default 5000' }),
  SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS: s({ parse: int(1, 10), default: 4, doc: 'Attempts per KMS call, first one included, across all targets. @default 4' }),
  SECRETS_GATEWAY_KMS_RETRY_BASE_MS: s({ parse: int(1, 60_000), default: 100, doc: 'Backoff base: attempt n waits a random time in [0, min(cap, base·2^n)). @default 100' }),
  SECRETS_GATEWAY_KMS_RETRY_CAP_MS: s({ parse: int(1, 300_000), default: 5_000, doc: 'Backoff cap per wait. @default 5000' }),
  SECRETS_GATEWAY_KMS_BREAKER_FAILURES: s({ parse: int(1, 1000), default: 5, doc: 'Consecutive transient failures that open a target\'s circuit breaker. @default 5' }),
  SECRETS_GATEWAY_KMS_BREAKER_OPEN_MS: s({ parse: int(100, 600_000), default: 10_000, doc: 'How long an open breaker waits before one half-open probe. @default 10000' }),
  SECRETS_GATEWAY_KMS_EJECT_BASE_MS: s({ parse: int(10, 600_000), default: 1_000, doc: 'A KMS target that cannot be reached (refused, reset, DNS, TLS handshake) is taken out of rotation at once for this long, doubling with each ejection in a row; then one probe may bring it back. @default 1000' }),
  SECRETS_GATEWAY_KMS_EJECT_MAX_MS: s({ parse: int(10, 3_600_000), default: 30_000, doc: 'Longest ejection of an unreachable KMS target; after this long back in rotation, the doubling starts over. @default 30000' }),
  SECRETS_GATEWAY_KMS_HEDGE_DELAY_MS: s({ parse: int(0, 60_000), default: 0, doc: 'If > 0, after this delay without an answer a hedged request goes to the next healthy target. @default 0 (off)' }),
  SECRETS_GATEWAY_KMS_BUDGET_QPS: s({ parse: int(1, 100_000), default: 200, doc: 'KMS request budget per target, requests per second, for the whole cluster. @default 200' }),
  SECRETS_GATEWAY_KMS_BUDGET_REPLICAS: s({ parse: int(1, 1000), default: 3, doc: 'Replicas expected to share the KMS budget: while Redis is down each replica keeps to QPS/replicas on its own, so the cluster still stays within the quota. @default 3' }),
  SECRETS_GATEWAY_KMS_BUDGET_BURST: s({ parse: int(1, 100_000), default: 50, doc: 'Token-bucket burst size per target. @default 50' }),

  cache_client_region_id: s({ parse: json, doc: 'KMS targets, in preference order: a JSON array of {"regionId", "endpoint"?, "vpc"?, "caFilePath"?, "kind"?, "protocol"?}. Without endpoint: kms.<region>.aliyuncs.com, or kms-vpc.<region>.aliyuncs.com when vpc is true. An endpoint ending in .cryptoservice.kms.aliyuncs.com (or kind "dedicated") is a KMS instance and requires caFilePath.' }),
  cache_client_dkms_config_info: s({ parse: json, doc: 'Dedicated KMS instances reached with an application access point ClientKey (the v1 clients\' key): a JSON array of {"regionId", "endpoint", "clientKeyFile", "passwordFromFilePath" | "passwordFromEnvVariable", "caFilePath", "ignoreSslCerts"?}. These targets come first in the pool, before cache_client_region_id. The ClientKey and password files are re-read when they change and never logged; ignoreSslCerts=true is refused by serve.' }),
  credentials_type: s({
    parse: oneOf('ak', 'sts', 'token', 'ram_role', 'ram_role_arn', 'ecs_ram_role', 'oidc_role_arn', 'credentials_uri', 'default'),
    doc: 'ak | sts | ram_role (= ram_role_arn) | ecs_ram_role | oidc_role_arn | credentials_uri | default. Unset: the Alibaba default credential chain (ALIBABA_CLOUD_* variables, RRSA, profile files, ECS metadata).',
  }),
  credentials_access_key_id: s({ parse: nonEmpty, doc: 'AccessKey ID (ak, sts, ram_role).' }),
  credentials_access_secret: s({ parse: secret, secret: true, doc: 'AccessKey secret (ak, sts, ram_role). Never logged.' }),
  credentials_access_token_id: s({ parse: nonEmpty, doc: 'v1 clients\' `token` type: key id.' }),
  credentials_access_token: s({ parse: secret, secret: true, doc: 'v1 clients\' `token` type: key secret. Never logged.' }),
  credentials_security_token: s({ parse: secret, secret: true, doc: 'STS SecurityToken (sts). Never logged.' }),
  credentials_role_arn: s({ parse: nonEmpty, doc: 'RAM role ARN (ram_role, oidc_role_arn).' }),
  credentials_role_session_name: s({ parse: nonEmpty, doc: 'Role session name. @default secrets-gateway' }),
  credentials_role_name: s({ parse: nonEmpty, doc: 'ECS RAM role name (ecs_ram_role); fetched from instance metadata when unset.' }),
  credentials_oidc_provider_arn: s({ parse: nonEmpty, doc: 'OIDC provider ARN (oidc_role_arn, ACK RRSA).' }),
  credentials_oidc_token_file_path: s({ parse: nonEmpty, doc: 'OIDC token file, re-read on every refresh (oidc_role_arn).' }),
  credentials_policy: s({ parse: str, doc: 'Optional session policy (JSON) for role assumption.' }),
  credentials_duration_seconds: s({ parse: int(900, 43_200), doc: 'Role session duration. @default 3600' }),
  credentials_sts_endpoint: s({ parse: nonEmpty, doc: 'STS endpoint host[:port] for role assumption. @default sts.aliyuncs.com' }),
  credentials_sts_region_id: s({ parse: nonEmpty, doc: 'STS region (sts.<region>.aliyuncs.com).' }),
  credentials_uri: s({ parse: nonEmpty, doc: 'Credentials URI returning {AccessKeyId, AccessKeySecret, SecurityToken, Expiration} (credentials_uri).' }),
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;

/**
 * A setting's default in `mode`, for the modules that accept the same tunable programmatically
 * (tests, embedders): they take it from here instead of repeating the number.
 */
export function defaultOf<K extends SettingName>(name: K, mode: Mode = 'serve'): SettingValue<K> {
  const d = (SETTINGS[name] as Setting<SettingValue<K>>).default;
  const v = typeof d === 'function' ? (d as (m: Mode) => SettingValue<K> | undefined)(mode) : d;
  if (v === undefined) throw new Error(`${name} has no default`);
  return v;
}

/** The [min, max] a numeric setting accepts, for modules that check the same bounds. */
export function rangeOf(name: SettingName): readonly [min: number, max: number] {
  const range = (SETTINGS[name].parse as Partial<RangedParser>).range;
  if (!range) throw new Error(`${name} is not a numeric setting`);
  return range;
}

/** Env names we own: an unknown name in these families is a typo and stops startup. */
export function isOwnedName(name: string): boolean {
  return name.startsWith('SECRETS_GATEWAY_') || name.startsWith('cache_client_') || name.startsWith('credentials_');
}

/** The README's configuration tables (scripts/readme-settings.ts): which table a setting is listed in. */
export type SettingGroup = 'gateway' | 'access' | 'kms';

export function settingGroup(name: SettingName): SettingGroup {
  if (name.startsWith('cache_client_') || name.startsWith('credentials_')) return 'kms';
  if (/^SECRETS_GATEWAY_(TLS_|AUTH_|LIMIT_|ALLOW_PLAINTEXT$|POLICY_FILE$|ALLOW_ALL_CALLERS$|AUDIT_LOG$|REFLECTION$|MAX_CONCURRENT_STREAMS$|MAX_RECEIVE_MESSAGE_BYTES$)/.test(name)) return 'access';
  return 'gateway';
}
