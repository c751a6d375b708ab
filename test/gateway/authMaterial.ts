/**
 * Test material for the end-to-end auth tests, made at test time: a CA and a server certificate
 * for localhost, client certificates (SPIFFE URI SAN, DNS SAN, CN only, expired, another CA's), a
 * JWKS with its signing key, and service-account tokens (good, wrong iss, wrong aud, expired,
 * alg none, another key's). Files land in `dir`; the gateway reads them like mounted Secrets.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { createTlsMaterial, issueClientCertAsync, type ServerCert, type TestCa } from '@secrets-gateway/kms-emulator/tls';

export const ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const AUDIENCE = 'secrets-gateway';
export const SPIFFE_API = 'spiffe://cluster.local/ns/payments/sa/api';
export const SA_WORKER = 'system:serviceaccount:payments:worker';
export const SA_OTHER = 'system:serviceaccount:shop:web';

export interface AuthMaterial {
  dir: string;
  ca: TestCa;
  server: ServerCert;
  files: { cert: string; key: string; clientCa: string; jwks: string; policy: string };
  clients: Record<'spiffe' | 'dns' | 'cn' | 'expired' | 'otherCa' | 'posing', ServerCert>;
  tokens: Record<'worker' | 'other' | 'wrongIss' | 'wrongAud' | 'expired' | 'algNone' | 'otherKey', string>;
  /** Signs a token for `sub` with the JWKS key (valid iss/aud, expires in 10 minutes). */
  token(sub: string): Promise<string>;
}

export const POLICY = `rules:
  - identities: ["${SPIFFE_API}", "system:serviceaccount:payments:*"]
    secrets: ["payments/*"]
  - identities: ["billing.internal"]
    secrets: ["billing/**"]
    stages: ["ACSCurrent"]
`;

export async function makeAuthMaterial(dir: string): Promise<AuthMaterial> {
  const { ca, server } = await createTlsMaterial({});
  const { ca: otherCa } = await createTlsMaterial({});
  const [spiffe, dns, cn, expired, otherCaClient, posing] = await Promise.all([
    issueClientCertAsync(ca, { uris: [SPIFFE_API] }),
    issueClientCertAsync(ca, { dnsNames: ['billing.internal'] }),
    issueClientCertAsync(ca, { commonName: 'reporting' }),
    issueClientCertAsync(ca, { uris: [SPIFFE_API], expired: true }),
    issueClientCertAsync(otherCa, { uris: [SPIFFE_API] }),
    // A CA-signed certificate whose CN claims a service account's token identity.
    issueClientCertAsync(ca, { commonName: SA_WORKER }),
  ]);
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const files = {
    cert: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
    clientCa: join(dir, 'ca.crt'),
    jwks: join(dir, 'jwks.json'),
    policy: join(dir, 'policy.yaml'),
  };
  writeFileSync(files.cert, server.certPem);
  writeFileSync(files.key, server.keyPem);
  writeFileSync(files.clientCa, ca.certPem);
  writeFileSync(files.jwks, JSON.stringify({ keys: [jwk] }));
  writeFileSync(files.policy, POLICY);

  const sign = (key: KeyLike, claims: { sub: string; iss?: string; aud?: string; expSecondsFromNow?: number }, kid = 'k1') =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(claims.sub)
      .setIssuer(claims.iss ?? ISSUER)
      .setAudience(claims.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.expSecondsFromNow ?? 600))
      .sign(key);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const nowS = Math.floor(Date.now() / 1000);
  const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: SA_WORKER, iss: ISSUER, aud: AUDIENCE, iat: nowS, exp: nowS + 600 })}.`;
  return {
    dir,
    ca,
    server,
    files,
    clients: { spiffe, dns, cn, expired, otherCa: otherCaClient, posing },
    tokens: {
      worker: await sign(privateKey, { sub: SA_WORKER }),
      other: await sign(privateKey, { sub: SA_OTHER }),
      wrongIss: await sign(privateKey, { sub: SA_WORKER, iss: 'https://evil.example' }),
      wrongAud: await sign(privateKey, { sub: SA_WORKER, aud: 'someone-else' }),
      expired: await sign(privateKey, { sub: SA_WORKER, expSecondsFromNow: -3600 }),
      algNone,
      otherKey: await sign(other.privateKey, { sub: SA_WORKER }),
    },
    token: (sub) => sign(privateKey, { sub }),
  };
}

/** The same material with its files copied to `dir`, for a test that rewrites them. */
export function copyAuthMaterial(m: AuthMaterial, dir: string): AuthMaterial {
  const files = Object.fromEntries(Object.entries(m.files).map(([k, f]) => [k, join(dir, f.slice(m.dir.length + 1))])) as AuthMaterial['files'];
  for (const k of Object.keys(files) as (keyof AuthMaterial['files'])[]) copyFileSync(m.files[k], files[k]);
  return { ...m, dir, files };
}
