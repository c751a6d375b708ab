/**
 * Builds the `@alicloud/credentials` provider for the configured credential type. STS-style
 * providers (RamRoleArn, OIDC/RRSA, ECS role, credentials URI) cache their session and refresh it
 * 15 minutes before expiry, keeping the old session while a refresh fails.
 */
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import type { CredentialsConfig } from '../config/types';

type CredentialModel = Awaited<ReturnType<Credential['getCredential']>>;

/** What openapi-client calls on `config.credential`. */
export interface CredentialProvider {
  getCredential(): Promise<CredentialModel>;
  getAccessKeyId(): Promise<string>;
  getAccessKeySecret(): Promise<string>;
  getSecurityToken(): Promise<string>;
  getBearerToken(): string;
  getType(): string;
}

export function buildCredential(c: CredentialsConfig): CredentialProvider {
  switch (c.type) {
    case 'default':
      return new RecreatingCredential(() => new Credential());
    case 'access_key':
      return new Credential(new CredentialConfig({ type: 'access_key', accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret }));
    case 'sts':
      return new Credential(new CredentialConfig({ type: 'sts', accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken }));
    case 'ram_role_arn':
      return new Credential(
        new CredentialConfig({
          type: 'ram_role_arn',
          accessKeyId: c.accessKeyId,
          accessKeySecret: c.accessKeySecret,
          securityToken: c.securityToken,
          roleArn: c.roleArn,
          roleSessionName: c.roleSessionName,
          policy: c.policy,
          roleSessionExpiration: c.durationSeconds,
          stsEndpoint: c.stsEndpoint,
          stsRegionId: c.stsRegionId,
        }),
      );
    case 'ecs_ram_role':
      return new Credential(new CredentialConfig({ type: 'ecs_ram_role', roleName: c.roleName }));
    case 'oidc_role_arn':
      return new Credential(
        new CredentialConfig({
          type: 'oidc_role_arn',
          roleArn: c.roleArn,
          oidcProviderArn: c.oidcProviderArn,
          oidcTokenFilePath: c.oidcTokenFilePath,
          roleSessionName: c.roleSessionName,
          policy: c.policy,
          roleSessionExpiration: c.durationSeconds,
          stsEndpoint: c.stsEndpoint,
          stsRegionId: c.stsRegionId,
        }),
      );
    case 'credentials_uri':
      return new Credential(new CredentialConfig({ type: 'credentials_uri', credentialsURI: c.uri }));
  }
}

/**
 * The default chain remembers the last provider it tried even when every provider failed, and
 * from then on retries only that one (kms-wire.md §4.2). After a total failure we build a new
 * chain, so credentials that appear later (a mounted token, a fixed env) are found.
 */
class RecreatingCredential implements CredentialProvider {
  private inner: Credential;
  constructor(private readonly make: () => Credential) {
    this.inner = make();
  }
  private async guard<T>(f: (c: Credential) => Promise<T>): Promise<T> {
    try {
      return await f(this.inner);
    } catch (e) {
      this.inner = this.make();
      throw e;
    }
  }
  getCredential() {
    return this.guard((c) => c.getCredential());
  }
  getAccessKeyId() {
    return this.guard((c) => c.getAccessKeyId());
  }
  getAccessKeySecret() {
    return this.guard((c) => c.getAccessKeySecret());
  }
  getSecurityToken() {
    return this.guard((c) => c.getSecurityToken());
  }
  getBearerToken() {
    return this.inner.getBearerToken();
  }
  getType() {
    return this.inner.getType();
  }
}
