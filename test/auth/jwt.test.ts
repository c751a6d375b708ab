import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createHmac, createPublicKey, randomUUID } from 'node:crypto';
import { base64url, CompactSign, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { JwtVerifier, type JwksSource } from '../../src/auth/jwt';
import { BackendUnavailableError, ConfigError, UnauthenticatedError } from '../../src/errors';
import { captureLogger, replaceFile, tempDir, until } from './testKit';

const ISS = 'https://kubernetes.default.svc.cluster.local';
const AUD = 'secrets-gateway';
const SUB = 'system:serviceaccount:payments:api';
/** The verifier's clock: fixed, so no case depends on the wall clock. */
const NOW_MS = Date.now();
const NOW = Math.floor(NOW_MS / 1000);

interface Key {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  jwk: JWK;
}
async function makeKey(kid: string, alg: 'RS256' | 'ES256'): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}
const jwks = (...keys: Key[]) => JSON.stringify({ keys: keys.map((k) => k.jwk) });

// Generated once per run (no top-level await in the CommonJS build).
let rsa: Key, rsa2: Key, ec: Key, other: Key;
test.before(async () => {
  [rsa, rsa2, ec, other] = await Promise.all([makeKey('rsa-1', 'RS256'), makeKey('rsa-2', 'RS256'), makeKey('ec-1', 'ES256'), makeKey('other', 'RS256')]);
});

/** Signs claims (defaults: a valid token) with `key`, under `kid` (default the key's own; null: none). */
async function sign(key: Key, claims: Record<string, unknown> = {}, kid: string | null = key.kid): Promise<string> {
  const body = { iss: ISS, aud: [AUD, 'https://kubernetes.default.svc'], sub: SUB, iat: NOW - 60, exp: NOW + 3600, ...claims };
  for (const k of Object.keys(body)) if ((body as Record<string, unknown>)[k] === undefined) delete (body as Record<string, unknown>)[k];
  return new SignJWT(body).setProtectedHeader(kid === null ? { alg: key.alg } : { alg: key.alg, kid }).sign(key.privateKey);
}

const b64 = (v: unknown) => base64url.encode(JSON.stringify(v));
const claims = { iss: ISS, aud: AUD, sub: SUB, exp: NOW + 3600 };

/** Every token a test handed to a verifier, and every error message it got back: for the sentinel check. */
const seenTokens: string[] = [];
const seenMessages: string[] = [];
const allLines: string[] = [];

function verifier(t: ExecutionContext, source: JwksSource, extra: { leewaySeconds?: number } = {}) {
  const { logger, lines } = captureLogger();
  const v = new JwtVerifier({ issuer: ISS, audience: AUD, jwks: source, logger, now: () => NOW_MS, ...extra });
  t.teardown(() => {
    v.close();
    allLines.push(...lines);
  });
  const verify = async (token: string) => {
    seenTokens.push(token);
    try {
      return await v.verify(token);
    } catch (err) {
      seenMessages.push((err as Error).message);
      throw err;
    }
  };
  return { v, verify, lines };
}

function jwksFile(t: ExecutionContext, text: string): string {
  const file = join(tempDir(t), 'jwks.json');
  writeFileSync(file, text);
  return file;
}

test('valid RS256 and ES256 tokens give the subject; leeway applies to exp and nbf', async (t) => {
  const { verify } = verifier(t, { file: jwksFile(t, jwks(rsa, rsa2, ec)) });
  t.is(await verify(await sign(rsa)), SUB);
  t.is(await verify(await sign(ec)), SUB);
  t.is(await verify(await sign(rsa2, { sub: 'system:serviceaccount:batch:worker', aud: AUD })), 'system:serviceaccount:batch:worker');
  t.is(await verify(await sign(rsa, { exp: NOW - 10 })), SUB, 'expired 10 s ago, inside the 30 s leeway');
  t.is(await verify(await sign(rsa, { nbf: NOW + 10 })), SUB, 'valid in 10 s, inside the leeway');
  // No kid: jose leaves the two RSA candidates to us; the right one verifies.
  t.is(await verify(await sign(rsa2, {}, null)), SUB);
});

const rejections: Array<{ name: string; token: () => Promise<string>; reason: string; leewaySeconds?: number }> = [
  { name: 'wrong iss', token: () => sign(rsa, { iss: 'https://evil.example' }), reason: 'wrong issuer' },
  { name: 'wrong aud', token: () => sign(rsa, { aud: ['vault', 'https://kubernetes.default.svc'] }), reason: 'wrong audience' },
  { name: 'expired', token: () => sign(rsa, { exp: NOW - 3600 }), reason: 'token expired' },
  { name: 'expired just past a zero leeway', token: () => sign(rsa, { exp: NOW - 1 }), reason: 'token expired', leewaySeconds: 0 },
  { name: 'nbf in the future', token: () => sign(ec, { nbf: NOW + 3600 }), reason: 'token not yet valid' },
  { name: 'no sub', token: () => sign(rsa, { sub: undefined }), reason: 'token has no subject' },
  { name: 'empty sub', token: () => sign(rsa, { sub: '' }), reason: 'token has no valid subject' },
  { name: 'no exp', token: () => sign(rsa, { exp: undefined }), reason: 'token has no expiry' },
  { name: 'no iss', token: () => sign(rsa, { iss: undefined }), reason: 'token has no issuer' },
  { name: 'signed by another key under a known kid', token: () => sign(other, {}, 'rsa-1'), reason: 'signature does not verify' },
  { name: 'signed by another key, no kid', token: () => sign(other, {}, null), reason: 'signature does not verify' },
  { name: 'signed by another key under its own kid', token: () => sign(other), reason: 'unknown signing key' },
  { name: 'RS256 header naming the EC key', token: () => sign(rsa, {}, 'ec-1'), reason: 'unknown signing key' },
  {
    name: 'payload changed after signing',
    token: async () => {
      const [h, , s] = (await sign(rsa)).split('.');
      return `${h}.${b64({ ...claims, sub: 'system:serviceaccount:kube-system:admin' })}.${s}`;
    },
    reason: 'signature does not verify',
  },
  { name: 'alg none', token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, reason: 'unsupported alg' },
  {
    name: 'HS256 keyed with the RSA public key PEM',
    token: async () => {
      const pem = await exportSPKI(createPublicKey({ key: rsa.jwk as never, format: 'jwk' }));
      const input = `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${b64(claims)}`;
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    },
    reason: 'unsupported alg',
  },
  {
    name: 'PS256 with a valid RSA key',
    token: () => new SignJWT(claims).setProtectedHeader({ alg: 'PS256', kid: 'rsa-1' }).sign(rsa.privateKey),
    reason: 'unsupported alg',
  },
  { name: 'not a JWT', token: async () => 'hello', reason: 'malformed token' },
  { name: 'three garbage parts', token: async () => 'a.b.c', reason: 'malformed token' },
  { name: 'empty', token: async () => '', reason: 'malformed token' },
  {
    name: 'signed payload that is not JSON',
    token: () => new CompactSign(new TextEncoder().encode('nope')).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey),
    reason: 'malformed token',
  },
  { name: 'header not JSON', token: async () => `${base64url.encode('{alg')}.${b64(claims)}.c2ln`, reason: 'malformed token' },
  { name: 'oversized', token: async () => `${b64({ alg: 'RS256' })}.${'A'.repeat(20_000)}.x`, reason: 'malformed token' },
];
for (const c of rejections) {
  test(`rejected: ${c.name} → "${c.reason}"`, async (t) => {
    const { verify } = verifier(t, { file: jwksFile(t, jwks(rsa, rsa2, ec)) }, { leewaySeconds: c.leewaySeconds });
    await t.throwsAsync(verify(await c.token()), { instanceOf: UnauthenticatedError, message: c.reason });
  });
}

test('JWKS file: a rotation is picked up by the watcher; bad new files are logged and the old set kept', async (t) => {
  const file = jwksFile(t, jwks(rsa));
  const { verify, lines } = verifier(t, { file, pollIntervalMs: 20 });
  const tokenB = await sign(ec);
  await t.throwsAsync(verify(tokenB), { message: 'unknown signing key' });

  replaceFile(file, jwks(rsa, ec));
  await until(() => lines.some((l) => l.includes('JWKS reloaded')));
  t.is(await verify(tokenB), SUB);

  const bad = ['{"keys": [', JSON.stringify({ keys: [] }), JSON.stringify({ keys: [{ ...rsa.jwk, d: 'PRIVATE-PART' }] }), JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })];
  for (const [i, text] of bad.entries()) {
    replaceFile(file, text);
    await until(() => lines.filter((l) => l.includes('JWKS reload failed')).length > i);
    t.is(await verify(tokenB), SUB, `still the old set after bad file ${i}`);
  }
  t.false(lines.some((l) => l.includes('PRIVATE-PART')));
  const reasons = lines.filter((l) => l.includes('JWKS reload failed')).map((l) => JSON.parse(l).reason);
  t.deepEqual(reasons, ['not valid JSON', 'not a JWKS: needs a non-empty "keys" array', 'keys[0]: holds private key material; mount the public key set only', 'keys[0]: kty must be RSA or EC']);
});

test('JWKS file: reload() applies a change at once and reports a bad file', async (t) => {
  const file = jwksFile(t, jwks(rsa));
  const { v, verify } = verifier(t, { file, pollIntervalMs: 3_600_000 });
  writeFileSync(file, jwks(ec));
  t.true(await v.reload());
  t.is(await verify(await sign(ec)), SUB);
  await t.throwsAsync(verify(await sign(rsa)), { message: 'unknown signing key' });
  writeFileSync(file, 'garbage');
  t.false(await v.reload());
  t.is(await verify(await sign(ec)), SUB);
});

test('JWKS file: a bad file at start is a ConfigError naming the setting, without key material', (t) => {
  const { logger } = captureLogger();
  const make = (file: string) => new JwtVerifier({ issuer: ISS, audience: AUD, jwks: { file }, logger });
  const dir = tempDir(t);
  t.throws(() => make(join(dir, 'missing.json')), { instanceOf: ConfigError, message: /^SECRETS_GATEWAY_AUTH_JWKS_FILE: .*ENOENT/ });
  const priv = jwksFile(t, JSON.stringify({ keys: [{ ...rsa.jwk, d: 'PRIVATE-PART' }] }));
  const err = t.throws(() => make(priv), { instanceOf: ConfigError, message: /private key material/ });
  t.false(err!.message.includes('PRIVATE-PART'));
  t.throws(() => make(jwksFile(t, '{"keys": "x"}')), { instanceOf: ConfigError, message: /non-empty "keys"/ });
});

/** A loopback JWKS endpoint whose key set and status the test sets, counting requests. */
async function jwksServer(t: ExecutionContext, initial: string) {
  const state = { body: initial, status: 200, requests: 0 };
  const server = http.createServer((_req, res) => {
    state.requests++;
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(state.status === 200 ? state.body : '{"error":"boom"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks` };
}

test('JWKS URL: an unknown kid re-fetches the set (a rotation) when the cooldown allows', async (t) => {
  const { state, url } = await jwksServer(t, jwks(rsa));
  const { verify } = verifier(t, { url, cooldownMs: 0 });
  t.is(await verify(await sign(rsa)), SUB);
  t.is(state.requests, 1);
  state.body = jwks(rsa, ec);
  t.is(await verify(await sign(ec)), SUB);
  t.is(state.requests, 2);
  t.is(await verify(await sign(ec)), SUB);
  t.is(state.requests, 2, 'a known kid is served from the cache');
});

test('JWKS URL: random kids cost at most one fetch per cooldown; concurrent first calls share one fetch', async (t) => {
  const { state, url } = await jwksServer(t, jwks(rsa));
  const { verify } = verifier(t, { url, cooldownMs: 3_600_000 });
  const good = await sign(rsa);
  t.deepEqual(await Promise.all(Array.from({ length: 10 }, () => verify(good))), Array(10).fill(SUB));
  t.is(state.requests, 1);
  for (let i = 0; i < 20; i++) {
    await t.throwsAsync(verify(await sign(other, {}, randomUUID())), { instanceOf: UnauthenticatedError, message: 'unknown signing key' });
  }
  t.is(state.requests, 1);
});

test('JWKS URL: a failing endpoint is UNAVAILABLE (BackendUnavailableError), not a bad token', async (t) => {
  const { state, url } = await jwksServer(t, jwks(rsa));
  state.status = 500;
  const { verify, lines } = verifier(t, { url, cooldownMs: 0 });
  const token = await sign(rsa);
  const err = await t.throwsAsync(verify(token), { instanceOf: BackendUnavailableError });
  t.false(err instanceof UnauthenticatedError);
  // Failed fetches leave no socket behind that a later fetch would wait for.
  for (let i = 0; i < 5; i++) await t.throwsAsync(verify(token), { instanceOf: BackendUnavailableError });
  t.true(lines.some((l) => l.includes('JWKS fetch failed')));
  state.status = 200;
  t.is(await verify(token), SUB, 'recovers once the endpoint answers');
});

test('JWKS URL: a bad URL is a ConfigError', (t) => {
  const { logger } = captureLogger();
  for (const url of ['not a url', 'ftp://127.0.0.1/jwks', 'file:///etc/jwks.json']) {
    t.throws(() => new JwtVerifier({ issuer: ISS, audience: AUD, jwks: { url }, logger }), { instanceOf: ConfigError, message: /^SECRETS_GATEWAY_AUTH_JWKS_URL: / });
  }
});

// Runs after every test of this file (and their teardowns), over all they collected.
test.after.always('sentinel: no error message and no log line contains a token or any part of one', (t) => {
  t.true(seenTokens.length > 30);
  const parts = seenTokens.flatMap((tok) => [tok, ...tok.split('.')]).filter((p) => p.length >= 8);
  for (const text of [...seenMessages, ...allLines]) {
    for (const p of parts) if (text.includes(p)) t.fail(`leak: ${text.slice(0, 80)}`);
  }
  t.pass();
});
