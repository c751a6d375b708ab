import { ConfigError } from '../errors';
import type { CredentialsConfig } from './types';

/** The parsed `credentials_*` settings, plus the standard variables some types fall back to. */
export interface CredentialInputs {
  credentials_type?: string;
  credentials_access_key_id?: string;
  credentials_access_secret?: string;
  credentials_access_token_id?: string;
  credentials_access_token?: string;
  credentials_security_token?: string;
  credentials_role_arn?: string;
  credentials_role_session_name?: string;
  credentials_role_name?: string;
  credentials_oidc_provider_arn?: string;
  credentials_oidc_token_file_path?: string;
  credentials_policy?: string;
  credentials_duration_seconds?: number;
  credentials_sts_endpoint?: string;
  credentials_sts_region_id?: string;
  credentials_uri?: string;
  /** Standard ALIBABA_CLOUD_* fallbacks for oidc_role_arn / credentials_uri (as the official clients do). */
  fallback: Record<string, string | undefined>;
}

const DEFAULT_SESSION = 'secrets-gateway';

function need<T>(v: T | undefined, setting: string, type: string): T {
  if (v === undefined || v === '') throw new ConfigError(setting, `is required when credentials_type=${type}`);
  return v;
}

/** Maps the official clients' credential keys onto `@alicloud/credentials` types. */
export function credentialsConfig(i: CredentialInputs): CredentialsConfig {
  const type = i.credentials_type ?? 'default';
  const role = () => ({
    roleSessionName: i.credentials_role_session_name ?? DEFAULT_SESSION,
    policy: i.credentials_policy || undefined,
    durationSeconds: i.credentials_duration_seconds,
    stsEndpoint: i.credentials_sts_endpoint,
    stsRegionId: i.credentials_sts_region_id,
  });
  switch (type) {
    case 'default':
      return { type: 'default' };
    case 'ak':
      return {
        type: 'access_key',
        accessKeyId: need(i.credentials_access_key_id, 'credentials_access_key_id', type),
        accessKeySecret: need(i.credentials_access_secret, 'credentials_access_secret', type),
      };
    case 'token':
      return {
        type: 'access_key',
        accessKeyId: need(i.credentials_access_token_id, 'credentials_access_token_id', type),
        accessKeySecret: need(i.credentials_access_token, 'credentials_access_token', type),
      };
    case 'sts':
      return {
        type: 'sts',
        accessKeyId: need(i.credentials_access_key_id, 'credentials_access_key_id', type),
        accessKeySecret: need(i.credentials_access_secret, 'credentials_access_secret', type),
        securityToken: need(i.credentials_security_token, 'credentials_security_token', type),
      };
    case 'ram_role':
    case 'ram_role_arn':
      return {
        type: 'ram_role_arn',
        accessKeyId: need(i.credentials_access_key_id, 'credentials_access_key_id', type),
        accessKeySecret: need(i.credentials_access_secret, 'credentials_access_secret', type),
        securityToken: i.credentials_security_token,
        roleArn: need(i.credentials_role_arn, 'credentials_role_arn', type),
        ...role(),
      };
    case 'ecs_ram_role':
      return { type: 'ecs_ram_role', roleName: i.credentials_role_name };
    case 'oidc_role_arn':
      return {
        type: 'oidc_role_arn',
        roleArn: need(i.credentials_role_arn ?? i.fallback.ALIBABA_CLOUD_ROLE_ARN, 'credentials_role_arn', type),
        oidcProviderArn: need(i.credentials_oidc_provider_arn ?? i.fallback.ALIBABA_CLOUD_OIDC_PROVIDER_ARN, 'credentials_oidc_provider_arn', type),
        oidcTokenFilePath: need(i.credentials_oidc_token_file_path ?? i.fallback.ALIBABA_CLOUD_OIDC_TOKEN_FILE, 'credentials_oidc_token_file_path', type),
        ...role(),
        roleSessionName: i.credentials_role_session_name ?? i.fallback.ALIBABA_CLOUD_ROLE_SESSION_NAME ?? DEFAULT_SESSION,
      };
    case 'credentials_uri':
      return { type: 'credentials_uri', uri: need(i.credentials_uri ?? i.fallback.ALIBABA_CLOUD_CREDENTIALS_URI, 'credentials_uri', type) };
    default:
      throw new ConfigError('credentials_type', `unsupported type ${JSON.stringify(type)}`);
  }
}
