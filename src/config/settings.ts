/**
 * Every setting the gateway reads, in one table: its name (as written in the environment or a
 * config file), parser, default and meaning. Nothing outside `config/` reads `process.env`.
 *
 * Two families:
 * - `SECRETS_GATEWAY_*`: the gateway's own settings;
 * - `cache_client_*` and `credentials_*`: the keys the official Alibaba secret clients read, so a
 *   team migrating from them keeps its environment or `secretsmanager.properties` unchanged.
 */
import { bool, hostPort, int, json, nonEmpty, oneOf, redisUrl, secret, str, type Parser } from './parsers';

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
  SECRETS_GATEWAY_REDIS_URL: s({ parse: redisUrl, secret: true, doc: 'Shared cache: redis:// or rediss:// URL (may carry a password, so it is never logged). Unset: dev mode uses an in-memory shared cache; serve refuses to start unless SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE=true.' }),
  SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: s({ parse: bool, default: false, doc: 'Let `serve` run without Redis: each replica then caches and calls KMS on its own. @default false' }),
  SECRETS_GATEWAY_LOG_LEVEL: s({ parse: oneOf('debug', 'info', 'warn', 'error'), default: 'info' as const, doc: 'Log level. @default info' }),
  SECRETS_GATEWAY_SHUTDOWN_GRACE_MS: s({ parse: int(0, 600_000), default: 10_000, doc: 'How long shutdown waits for in-flight calls before forcing them closed. @default 10000' }),

  SECRETS_GATEWAY_KMS_CONNECT_TIMEOUT_MS: s({ parse: int(100, 60_000), default: 5_000, doc: 'KMS socket idle timeout (httpx `connectTimeout`, which stays armed after connect, so it must exceed KMS think time). @default 5000' }),
  SECRETS_GATEWAY_KMS_READ_TIMEOUT_MS: s({ parse: int(100, 60_000), default: 5_000, doc: 'KMS per-attempt total timeout. @default 5000' }),
  SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS: s({ parse: int(1, 10), default: 4, doc: 'Attempts per KMS call, first one included, across all targets. @default 4' }),
  SECRETS_GATEWAY_KMS_RETRY_BASE_MS: s({ parse: int(1, 60_000), default: 100, doc: 'Backoff base: attempt n waits a random time in [0, min(cap, base·2^n)). @default 100' }),
  SECRETS_GATEWAY_KMS_RETRY_CAP_MS: s({ parse: int(1, 300_000), default: 5_000, doc: 'Backoff cap per wait. @default 5000' }),
  SECRETS_GATEWAY_KMS_BREAKER_FAILURES: s({ parse: int(1, 1000), default: 5, doc: 'Consecutive transient failures that open a target\'s circuit breaker. @default 5' }),
  SECRETS_GATEWAY_KMS_BREAKER_OPEN_MS: s({ parse: int(100, 600_000), default: 10_000, doc: 'How long an open breaker waits before one half-open probe. @default 10000' }),
  SECRETS_GATEWAY_KMS_HEDGE_DELAY_MS: s({ parse: int(0, 60_000), default: 0, doc: 'If > 0, after this delay without an answer a hedged request goes to the next healthy target. @default 0 (off)' }),
  SECRETS_GATEWAY_KMS_BUDGET_QPS: s({ parse: int(1, 100_000), default: 200, doc: 'KMS request budget per target, requests per second, for the whole cluster. @default 200' }),
  SECRETS_GATEWAY_KMS_BUDGET_BURST: s({ parse: int(1, 100_000), default: 50, doc: 'Token-bucket burst size per target. @default 50' }),

  cache_client_region_id: s({ parse: json, doc: 'KMS targets, in preference order: a JSON array of {"regionId", "endpoint"?, "vpc"?, "caFilePath"?, "kind"?, "protocol"?}. Without endpoint: kms.<region>.aliyuncs.com, or kms-vpc.<region>.aliyuncs.com when vpc is true. An endpoint ending in .cryptoservice.kms.aliyuncs.com (or kind "dedicated") is a KMS instance and requires caFilePath.' }),
  cache_client_dkms_config_info: s({ parse: json, doc: 'Not supported: the v1 client-key protocol of dedicated KMS. Use cache_client_region_id with the instance endpoint and caFilePath (RAM auth), as the v2 clients do.' }),
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

/** Env names we own: an unknown name in these families is a typo and stops startup. */
export function isOwnedName(name: string): boolean {
  return name.startsWith('SECRETS_GATEWAY_') || name.startsWith('cache_client_') || name.startsWith('credentials_');
}
