import type { CacheConfig } from '../cache/config';
import type { PasswordSource } from '../kms/clientKey';
import type { RedisTarget } from '../cache/redisClient';
import type { HostPort } from './parsers';
import type { Mode } from './settings';
import type { LogLevel } from '../telemetry/logger';

export type { LogLevel };

/** The one typed config object, built once at startup by `loadConfig`. */
export interface GatewayConfig {
  mode: Mode;
  listen: HostPort;
  /** The admin HTTP server: /metrics, /healthz, /readyz. */
  admin: { listen: HostPort };
  logLevel: LogLevel;
  /** Where the config file was read from, if any (for the startup log). */
  configFile?: string;
  redis: {
    /** Unset: in-memory shared tier (dev, or serve with allowInMemory). */
    target?: RedisTarget;
    allowInMemory: boolean;
    commandTimeoutMs: number;
    connectTimeoutMs: number;
  };
  cache: {
    /** The floor on a request's max_staleness. */
    forcedRefreshMinIntervalMs: number;
    /** Tunables handed to the SecretStore (the rest keep their defaults); the key prefix is always set. */
    tuning: Partial<CacheConfig> & Pick<CacheConfig, 'keyPrefix'>;
    /** The seal key ring spec (`id:base64,…`); unset only without Redis, where one is generated. */
    sealKeys?: string;
    namingKeyId?: string;
    warmUp: { secrets: string[]; concurrency: number; jitterMs: number };
  };
  kms: KmsConfig;
  watch: { pollIntervalMs: number; heartbeatMs: number; maxStreams: number; maxStreamsPerCaller: number };
  shutdownGraceMs: number;
  auth: AuthConfig;
  server: { maxConcurrentStreams: number; maxReceiveMessageBytes: number };
  telemetry: { otlpEndpoint?: string; metricsIntervalMs: number; serviceName: string };
}

/** Transport security, caller identity, policy, audit and per-caller limits (src/auth/). */
export interface AuthConfig {
  /** Unset: plaintext gRPC (dev, or serve with allowPlaintext). */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string; clientAuth: 'require' | 'optional' };
  allowPlaintext: boolean;
  /** Service-account tokens; unset: tokens are not accepted. */
  jwt?: { issuer: string; audience: string; jwks: { file: string } | { url: string } };
  /** Unset with allowAllCallers: every caller may read every secret. */
  policyFile?: string;
  allowAllCallers: boolean;
  /** stdout | stderr | a file path; unset: no audit trail (dev). */
  auditLog?: string;
  reflection: boolean;
  /** How often TLS, JWKS and policy files are checked for a change. */
  reloadIntervalMs: number;
  limits: {
    getSecret: { ratePerSec: number; burst: number };
    missReads: { ratePerSec: number; burst: number };
    streamOpens: { ratePerSec: number; burst: number };
    unauthenticated: { ratePerSec: number; burst: number };
  };
}

export type KmsTargetKind = 'shared' | 'vpc' | 'dedicated';

export interface KmsTargetConfig {
  /** Stable id for logs and metrics: `<regionId>/<endpoint>`. */
  id: string;
  regionId: string;
  /** host[:port], no scheme. */
  endpoint: string;
  kind: KmsTargetKind;
  protocol: 'https' | 'http';
  caFilePath?: string;
  /** The CA PEM, read from caFilePath at startup. */
  caPem?: string;
  /**
   * Set for a `cache_client_dkms_config_info` entry: requests go to the instance API signed with
   * this ClientKey instead of the OpenAPI with RAM credentials.
   */
  clientKey?: { file: string; password: PasswordSource };
  /** TLS verification off (`ignoreSslCerts: true`, dev only). */
  insecureSkipVerify?: boolean;
}

export type CredentialsConfig =
  | { type: 'default' }
  | { type: 'access_key'; accessKeyId: string; accessKeySecret: string }
  | { type: 'sts'; accessKeyId: string; accessKeySecret: string; securityToken: string }
  | {
      type: 'ram_role_arn';
      accessKeyId: string;
      accessKeySecret: string;
      securityToken?: string;
      roleArn: string;
      roleSessionName: string;
      policy?: string;
      durationSeconds?: number;
      stsEndpoint?: string;
      stsRegionId?: string;
    }
  | { type: 'ecs_ram_role'; roleName?: string }
  | {
      type: 'oidc_role_arn';
      roleArn: string;
      oidcProviderArn: string;
      oidcTokenFilePath: string;
      roleSessionName: string;
      policy?: string;
      durationSeconds?: number;
      stsEndpoint?: string;
      stsRegionId?: string;
    }
  | { type: 'credentials_uri'; uri: string };

export interface KmsConfig {
  /** In preference order. Empty only in dev mode, where the embedded emulator supplies them. */
  targets: KmsTargetConfig[];
  credentials: CredentialsConfig;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  breaker: { failureThreshold: number; openMs: number };
  /** Outlier ejection of a target that cannot be reached: first interval, longest interval (ms). */
  ejection: { baseMs: number; maxMs: number };
  /** 0 disables hedging. */
  hedgeDelayMs: number;
  /** Per target, for the whole cluster; `replicas` splits it while Redis (the shared bucket) is down. */
  budget: { qps: number; burst: number; replicas: number };
}
