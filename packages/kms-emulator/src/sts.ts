/**
 * Emulated STS: the sessions it issues (AssumeRole, AssumeRoleWithOIDC, the credentials-URI
 * document) and their lookup when a KMS request is signed with an STS key. Sessions are bounded:
 * expired ones are kept one extra hour (so a late caller gets `InvalidSecurityToken.Expired`
 * rather than an unknown key), then dropped; a hard cap evicts the oldest.
 */
import { randomBytes } from 'node:crypto';
import { KmsApiError, invalidParameter, missing } from './errors';
import { isoSeconds } from './time';

export const STS_VERSION = '2015-04-01';
export const STS_ACTIONS = new Set(['AssumeRole', 'AssumeRoleWithOIDC']);
const DEFAULT_SESSION_SECONDS = 3600;
const EXPIRED_GRACE_MS = 3600_000;
const MAX_SESSIONS = 10_000;

export interface StsSession {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  expiresAtMs: number;
}

export interface StsService {
  issue(durationSeconds?: number): StsSession;
  lookup(accessKeyId: string): StsSession | undefined;
  /** The body answered for AssumeRole / AssumeRoleWithOIDC (params already authenticated or anonymous). */
  handle(action: string, params: Readonly<Record<string, string>>, requestId: string): Record<string, unknown>;
  /** The credentials-URI document, the shape `@alicloud/credentials` `credentials_uri` reads. */
  credentialsDocument(): Record<string, unknown>;
  readonly size: number;
}

export function createStsService(opts: { now: () => number; sessionSeconds?: number }): StsService {
  const sessions = new Map<string, StsSession>();

  const prune = () => {
    const now = opts.now();
    for (const [id, s] of sessions) if (s.expiresAtMs + EXPIRED_GRACE_MS <= now) sessions.delete(id);
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
  };

  const issue = (durationSeconds?: number): StsSession => {
    prune();
    const seconds = opts.sessionSeconds ?? durationSeconds ?? DEFAULT_SESSION_SECONDS;
    const session: StsSession = {
      accessKeyId: `STS.${randomBytes(12).toString('hex')}`,
      accessKeySecret: randomBytes(20).toString('base64url'),
      securityToken: `CAIS${randomBytes(48).toString('base64')}`,
      // Whole seconds: the SDK parses Expiration as YYYY-MM-DDTHH:mm:ssZ.
      expiresAtMs: Math.floor((opts.now() + seconds * 1000) / 1000) * 1000,
    };
    sessions.set(session.accessKeyId, session);
    return session;
  };

  const credentialsBody = (s: StsSession) => ({
    AccessKeyId: s.accessKeyId,
    AccessKeySecret: s.accessKeySecret,
    SecurityToken: s.securityToken,
    Expiration: isoSeconds(s.expiresAtMs),
  });

  return {
    issue,
    lookup: (id) => sessions.get(id),
    handle(action, p, requestId) {
      for (const name of action === 'AssumeRoleWithOIDC' ? ['OIDCProviderArn', 'OIDCToken', 'RoleArn', 'RoleSessionName'] : ['RoleArn', 'RoleSessionName']) {
        if (!p[name]) throw missing(name);
      }
      const duration = p.DurationSeconds === undefined ? undefined : Number(p.DurationSeconds);
      if (duration !== undefined && (!Number.isInteger(duration) || duration < 900 || duration > 43_200)) {
        throw invalidParameter('DurationSeconds', 'must be an integer from 900 to 43200');
      }
      const roleArn = p.RoleArn!;
      if (!/^acs:ram::\d+:role\/.+/.test(roleArn)) throw new KmsApiError('InvalidParameter.RoleArn', 400, 'The parameter RoleArn is wrongly formed.');
      const s = issue(duration);
      const roleName = roleArn.slice(roleArn.indexOf(':role/') + 6);
      const body: Record<string, unknown> = {
        RequestId: requestId,
        AssumedRoleUser: { Arn: `${roleArn.replace(':role/', ':assumed-role/')}/${p.RoleSessionName}`, AssumedRoleId: `3${randomBytes(8).toString('hex')}:${p.RoleSessionName}` },
        Credentials: credentialsBody(s),
      };
      if (action === 'AssumeRoleWithOIDC') body.OIDCTokenInfo = { Subject: `system:serviceaccount:${roleName}`, Issuer: p.OIDCProviderArn, ClientIds: 'sts.aliyuncs.com' };
      return body;
    },
    credentialsDocument() {
      const s = issue();
      return { Code: 'Success', ...credentialsBody(s), LastUpdated: isoSeconds(opts.now()) };
    },
    get size() {
      return sessions.size;
    },
  };
}
