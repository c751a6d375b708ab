/**
 * Authentication fidelity: requests signed by the real SDKs pass; tampered, replayed, stale,
 * unsigned or foreign-key requests fail with the POP gateway's codes. Tampering and replay go
 * through a loopback proxy and Node's own http client, so the SDK never knows.
 */
import test from 'ava';
import * as K from '@alicloud/kms20160120';
import { v3CanonicalRequest, v3Signature, v3StringToSign } from '@secrets-gateway/kms-emulator';
import { AK, legacyClient, openApiClient, rpc, sdkError, sendRaw, startEmulator, startProxy, type CapturedRequest } from './helpers';

const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'value-1' }] },
    { name: 'app/other', versions: [{ versionId: 'o1', stages: ['ACSCurrent'], text: 'value-2' }] },
  ],
};

/** Rewrites one query param of a captured request, keeping everything else (signature included). */
const withQuery = (r: CapturedRequest, key: string, value: string): CapturedRequest => {
  const u = new URL(r.url, 'http://x');
  u.searchParams.set(key, value);
  return { ...r, url: `${u.pathname}?${u.searchParams.toString()}` };
};

test('altering a signed param after signing is SignatureDoesNotMatch, for V1 and V3', async (t) => {
  const emu = await startEmulator(t, { seed });
  const proxy = await startProxy(t, emu.regions['cn-hangzhou']!.port, (r) => withQuery(r, 'SecretName', 'app/other'));
  const viaProxy = { ...emu, regions: { 'cn-hangzhou': { ...emu.regions['cn-hangzhou']!, endpoint: proxy.endpoint } } };

  const v1 = await sdkError(t, legacyClient(viaProxy).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' })));
  t.is(v1.code, 'SignatureDoesNotMatchError');
  t.true(v1.data!.Message.includes('SecretName%3Dapp%252Fother'), 'the server string to sign shows what it verified');

  for (const signing of ['v3', 'v1'] as const) {
    const e = await sdkError(t, rpc(openApiClient(viaProxy, signing), 'GetSecretValue', { SecretName: 'app/text' }));
    t.is(e.code, 'SignatureDoesNotMatch', signing);
    t.is(e.statusCode, 400);
    t.true(e.data!.Message.startsWith('Specified signature does not match our calculation. server string to sign is:'));
  }
  t.is(proxy.captured.length, 3);
  t.deepEqual(emu.counters(), { GetSecretValue: 3 });
  t.true(emu.requestLog().every((r) => r.code === 'SignatureDoesNotMatch'));
});

test('an altered signature, or one made with the wrong secret, is SignatureDoesNotMatch', async (t) => {
  const emu = await startEmulator(t, { seed });
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  const proxy = await startProxy(t, emu.regions['cn-hangzhou']!.port, (r) => {
    const auth = r.headers.authorization;
    if (auth) return { ...r, headers: { ...r.headers, authorization: auth.replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === 'a' ? 'b' : 'a'}`) } };
    return withQuery(r, 'Signature', flip(new URL(r.url, 'http://x').searchParams.get('Signature')!));
  });
  const viaProxy = { ...emu, regions: { 'cn-hangzhou': { ...emu.regions['cn-hangzhou']!, endpoint: proxy.endpoint } } };
  for (const signing of ['v3', 'v1'] as const) {
    t.is((await sdkError(t, rpc(openApiClient(viaProxy, signing), 'GetSecretValue', { SecretName: 'app/text' }))).code, 'SignatureDoesNotMatch');
    const wrong = openApiClient(emu, signing, { accessKeyId: AK.id, accessKeySecret: `${AK.secret}x` });
    t.is((await sdkError(t, rpc(wrong, 'GetSecretValue', { SecretName: 'app/text' }))).code, 'SignatureDoesNotMatch');
  }
});

test('V3: a body changed after signing is caught by x-acs-content-sha256', async (t) => {
  const emu = await startEmulator(t, { seed });
  const proxy = await startProxy(t, emu.regions['cn-hangzhou']!.port, (r) => ({ ...r, body: Buffer.from(r.body.toString().replace('new-value', 'evil-value')) }));
  const viaProxy = { ...emu, regions: { 'cn-hangzhou': { ...emu.regions['cn-hangzhou']!, endpoint: proxy.endpoint } } };
  const e = await sdkError(t, rpc(openApiClient(viaProxy, 'v3'), 'PutSecretValue', { SecretName: 'app/text', VersionId: 'v2' }, { SecretData: 'new-value' }));
  t.is(e.code, 'InvalidParameter.ContentSha256');
  t.is(emu.store.getSecretValue('app/text').versionId, 'v1', 'nothing was written');
  // V1 signs the form body as params: the same change breaks the signature.
  const v1 = await sdkError(t, rpc(openApiClient(viaProxy, 'v1'), 'PutSecretValue', { SecretName: 'app/text', VersionId: 'v2' }, { SecretData: 'new-value' }));
  t.is(v1.code, 'SignatureDoesNotMatch');
});

test('an unknown AccessKey is InvalidAccessKeyId.NotFound (404)', async (t) => {
  const emu = await startEmulator(t, { seed });
  const stranger = { accessKeyId: 'no-such-ak', accessKeySecret: 'x' };
  for (const signing of ['v3', 'v1'] as const) {
    const e = await sdkError(t, rpc(openApiClient(emu, signing, stranger), 'GetSecretValue', { SecretName: 'app/text' }));
    t.is(e.code, 'InvalidAccessKeyId.NotFound');
    t.is(e.statusCode, 404);
  }
  const legacy = await sdkError(t, legacyClient(emu, stranger).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' })));
  t.is(legacy.code, 'InvalidAccessKeyId.NotFoundError');
  t.true(emu.requestLog().every((r) => r.credential === 'none' && r.code === 'InvalidAccessKeyId.NotFound'));
});

test('a replayed request (same nonce) is SignatureNonceUsed, for V1 and V3', async (t) => {
  const emu = await startEmulator(t, { seed });
  const port = emu.regions['cn-hangzhou']!.port;
  const proxy = await startProxy(t, port);
  const viaProxy = { ...emu, regions: { 'cn-hangzhou': { ...emu.regions['cn-hangzhou']!, endpoint: proxy.endpoint } } };
  await legacyClient(viaProxy).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' }));
  await rpc(openApiClient(viaProxy, 'v3'), 'GetSecretValue', { SecretName: 'app/text' });
  await rpc(openApiClient(viaProxy, 'v1'), 'PutSecretValue', { SecretName: 'app/text', VersionId: 'v2' }, { SecretData: 'x' });
  t.is(proxy.captured.length, 3);
  for (const captured of proxy.captured) {
    const replay = await sendRaw(port, captured);
    t.is(replay.status, 400);
    t.is(replay.json.Code, 'SignatureNonceUsed');
  }
  t.deepEqual(emu.counters(), { GetSecretValue: 4, PutSecretValue: 2 });
});

test('a timestamp more than 15 minutes off is IllegalTimestamp; within the window it passes', async (t) => {
  let skewMs = 16 * 60_000;
  const emu = await startEmulator(t, { seed, clock: () => Date.now() + skewMs });
  for (const signing of ['v3', 'v1'] as const) {
    const e = await sdkError(t, rpc(openApiClient(emu, signing), 'GetSecretValue', { SecretName: 'app/text' }));
    t.is(e.code, 'IllegalTimestamp');
    t.is(e.statusCode, 400);
  }
  t.is((await sdkError(t, legacyClient(emu).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' })))).code, 'IllegalTimestampError');
  skewMs = -16 * 60_000; // the client is ahead of the server
  t.is((await sdkError(t, rpc(openApiClient(emu, 'v3'), 'GetSecretValue', { SecretName: 'app/text' }))).code, 'IllegalTimestamp');
  skewMs = 14 * 60_000;
  t.is((await rpc(openApiClient(emu, 'v3'), 'GetSecretValue', { SecretName: 'app/text' })).VersionId, 'v1');
});

test('a request without a signature is MissingSignature; a V3 request that does not sign its nonce is IncompleteSignature', async (t) => {
  const emu = await startEmulator(t, { seed });
  const port = emu.regions['cn-hangzhou']!.port;
  const bare = await sendRaw(port, { method: 'POST', url: '/?Action=GetSecretValue&Version=2016-01-20&SecretName=app%2Ftext', headers: {}, body: Buffer.alloc(0) });
  t.is(bare.status, 400);
  t.is(bare.json.Code, 'MissingSignature');
  t.deepEqual(Object.keys(bare.json), ['RequestId', 'HostId', 'Code', 'Message', 'Recommend']);
  t.is(bare.headers['x-acs-request-id'], bare.json.RequestId);

  // Hand-made V3 request from the exported signing functions: valid, then with the nonce left out of SignedHeaders.
  const makeV3 = (signedHeaders: string[], nonce: string) => {
    const headers: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      'x-acs-action': 'GetSecretValue',
      'x-acs-version': '2016-01-20',
      'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'x-acs-signature-nonce': nonce,
      'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    const canonical = v3CanonicalRequest({
      method: 'POST',
      pathname: '/',
      query: { SecretName: 'app/text' },
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      signedHeaders,
      payloadHash: headers['x-acs-content-sha256']!,
    });
    const signature = v3Signature(v3StringToSign(canonical), AK.secret);
    headers.authorization = `ACS3-HMAC-SHA256 Credential=${AK.id},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`;
    return { method: 'POST', url: '/?SecretName=app%2Ftext', headers, body: Buffer.alloc(0) };
  };
  const all = ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'];
  const ok = await sendRaw(port, makeV3(all, 'nonce-handmade-1'));
  t.is(ok.status, 200);
  t.is(ok.json.SecretData, 'value-1');
  const unsignedNonce = await sendRaw(port, makeV3(all.filter((h) => h !== 'x-acs-signature-nonce'), 'nonce-handmade-2'));
  t.is(unsignedNonce.json.Code, 'IncompleteSignature');
});
