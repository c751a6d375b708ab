/**
 * The emulated instance API against hand-built requests over real HTTPS (the instance CA pinned):
 * a correctly signed request is answered from the store in protobuf; each thing the verifier must
 * catch (wrong signature, changed body, unknown KeyId, stale date, missing header) gets the error
 * code shared docs dkms-clientkey.md §3 records, as a protobuf `Error`. The real Java SDK's
 * ClientKey (RC2-40 PFX) signs requests the emulator accepts once its certificate is registered.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import test from 'ava';
import { createKmsEmulator, type KmsEmulator } from '@secrets-gateway/kms-emulator';
import { Error as ErrorMessage, GetSecretValueRequest, GetSecretValueResponse } from '../../src/gen/dkms/v1/instance_api';
import { parseClientKey } from '../../src/kms/clientKey';
import { KEY_ID_HEADER, signedHeaders, signString, stringToSign } from '../../src/kms/instanceSign';
import { isoDaysFromNow } from '../helpers/clock';
import { CLIENT_KEY_JSON, CLIENT_KEY_PASSWORD } from '../kms/fixtures/dkmsJavaVector';

const INSTANCE = 'kst-hzz65f1a2b3c4d5e6';
const VALUE = 'instance-SENTINEL-value-51a0';
const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSPrevious'], text: 'old' }, { versionId: 'v2', stages: ['ACSCurrent'], text: VALUE }] },
    {
      name: 'app/rds',
      type: 'Rds',
      automaticRotation: true,
      rotationInterval: '604800s',
      lastRotationDate: isoDaysFromNow(-3),
      nextRotationDate: isoDaysFromNow(4),
      extendedConfig: { SecretSubType: 'SingleUser' },
      versions: [{ versionId: 'r1', stages: ['ACSCurrent'], text: '{"AccountName":"a"}' }],
    },
  ],
};

async function start(t: import('ava').ExecutionContext, clock?: () => number): Promise<KmsEmulator> {
  const emu = await createKmsEmulator({ regions: ['cn-hangzhou'], instances: [INSTANCE], seed, clock });
  t.teardown(() => emu.close());
  return emu;
}

interface Raw {
  headers: Record<string, string | undefined>;
  body: Uint8Array;
  method?: string;
}

function send(emu: KmsEmulator, r: Raw): Promise<{ status: number; body: Buffer; contentType?: string }> {
  const inst = emu.instances[INSTANCE]!;
  const headers = Object.fromEntries(Object.entries(r.headers).filter((e): e is [string, string] => e[1] !== undefined));
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: inst.port, method: r.method ?? 'POST', path: '/', headers: { ...headers, 'content-length': String(r.body.length) }, ca: emu.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

const request = (name = 'app/text') => GetSecretValueRequest.encode({ secretName: name, versionStage: 'ACSCurrent', versionId: '', fetchExtendedConfig: true }).finish();

async function signed(emu: KmsEmulator, over: { now?: number } = {}) {
  const minted = await emu.clientKeys.mint({ instanceIds: [INSTANCE] });
  const key = parseClientKey(minted.clientKeyJson, minted.password);
  const body = request();
  const headers: Record<string, string | undefined> = signedHeaders({ apiName: 'GetSecretValue', keyId: key.keyId, body, host: emu.instances[INSTANCE]!.host, now: over.now ?? Date.now() }, key.privateKey);
  return { key, body, headers };
}

const errorOf = (r: { body: Buffer }) => ErrorMessage.decode(r.body);

test('a signed GetSecretValue is answered in protobuf from the shared store, rotation fields and repeated stages included', async (t) => {
  const emu = await start(t);
  const { headers, key } = await signed(emu);
  const ok = await send(emu, { headers, body: request() });
  t.is(ok.status, 200);
  t.is(ok.contentType, 'application/x-protobuf');
  const m = GetSecretValueResponse.decode(ok.body);
  t.is(m.secretData, VALUE);
  t.is(m.versionId, 'v2');
  t.deepEqual(m.versionStages, ['ACSCurrent']);
  t.truthy(m.requestId);

  const rdsBody = request('app/rds');
  const rds = await send(emu, { headers: signedHeaders({ apiName: 'GetSecretValue', keyId: key.keyId, body: rdsBody, host: emu.instances[INSTANCE]!.host, now: Date.now() }, key.privateKey), body: rdsBody });
  const r = GetSecretValueResponse.decode(rds.body);
  t.is(r.automaticRotation, 'Enabled');
  t.is(r.rotationInterval, '604800s');
  t.true(Date.parse(r.nextRotationDate) > Date.now() && Date.parse(r.lastRotationDate) < Date.now());
  t.deepEqual(JSON.parse(r.extendedConfig), { SecretSubType: 'SingleUser' });
  const log = emu.requestLog().filter((e) => e.signatureVersion === 'rsa');
  t.deepEqual(log.map((e) => [e.action, e.credential, e.code]), [['GetSecretValue', 'clientkey', 'OK'], ['GetSecretValue', 'clientkey', 'OK']]);
  t.is(emu.counters(INSTANCE).GetSecretValue, 2);
});

test('the verifier rejects a wrong signature, a changed body, an unknown KeyId and a missing header with the documented codes', async (t) => {
  const emu = await start(t);
  const { headers, body, key } = await signed(emu);

  // Wrong signature: the same request signed by a key the AAP does not hold.
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const forged = await send(emu, { headers: { ...headers, authorization: `Bearer ${signString(stringToSign({ method: 'POST', headers }), stranger)}` }, body });
  t.is(forged.status, 400);
  t.like(errorOf(forged), { errorCode: 'InvalidParam', errorMessage: 'The Param Authorization is invalid.' });

  // An x-kms-* header added after signing: every one of them is part of the string to sign.
  const added = await send(emu, { headers: { ...headers, 'x-kms-extra': 'x' }, body });
  t.like(errorOf(added), { errorCode: 'InvalidParam', errorMessage: 'The Param Authorization is invalid.' });

  // Changed body, headers untouched: the content hash no longer matches.
  const other = request('app/rds');
  const changed = await send(emu, { headers, body: other });
  t.is(changed.status, 400);
  t.like(errorOf(changed), { errorCode: 'InvalidParam', errorMessage: 'The Param Content-SHA256 is invalid.' });

  // Unknown KeyId, correctly signed otherwise.
  const unknown = signedHeaders({ apiName: 'GetSecretValue', keyId: 'KAAP.00000000-0000-0000-0000-000000000000', body, host: emu.instances[INSTANCE]!.host, now: Date.now() }, key.privateKey);
  const u = await send(emu, { headers: unknown, body });
  t.is(u.status, 401);
  t.is(errorOf(u).errorCode, 'Unauthorized');
  // A revoked ClientKey is unknown from then on.
  t.true(emu.clientKeys.revoke(key.keyId));
  t.is(errorOf(await send(emu, { headers, body })).errorCode, 'Unauthorized');

  // A missing header, each one.
  for (const name of [KEY_ID_HEADER, 'authorization', 'date', 'content-sha256', 'x-kms-apiversion']) {
    const res = await send(emu, { headers: { ...headers, [name]: undefined }, body });
    t.is(res.status, 400, name);
    t.like(errorOf(res), { errorCode: 'MissingParameter', errorMessage: `Parameter ${name} does not exist in http header or body.` }, name);
  }
  const e = errorOf(await send(emu, { headers: { ...headers, 'x-kms-apiversion': 'dkms-gcs-0.1' }, body }));
  t.is(e.errorCode, 'InvalidApiVersion');
  t.is(errorOf(await send(emu, { headers: { ...headers, authorization: 'Basic xyz' }, body })).errorMessage, 'The Param Authorization is invalid.');
  t.is(errorOf(await send(emu, { headers: { ...headers, date: 'yesterday' }, body })).errorMessage, 'The Param Date is invalid.');
  t.is(emu.requestLog().filter((x) => x.code === 'OK').length, 0, 'nothing got through');
});

test('a Date more than 15 minutes off the instance clock is RequestTimeTooSkewed; within the window it passes', async (t) => {
  let skew = 0;
  const emu = await start(t, () => Date.now() + skew);
  const { headers, body } = await signed(emu);
  skew = 16 * 60_000;
  const stale = await send(emu, { headers, body });
  t.is(stale.status, 400);
  t.is(errorOf(stale).errorCode, 'RequestTimeTooSkewed');
  skew = -16 * 60_000;
  t.is(errorOf(await send(emu, { headers, body })).errorCode, 'RequestTimeTooSkewed', 'a date from the future too');
  skew = 14 * 60_000;
  t.is((await send(emu, { headers, body })).status, 200);
});

test('injected faults answer as protobuf errors; a non-instance request on the same port is the OpenAPI', async (t) => {
  const emu = await start(t);
  const { headers, body } = await signed(emu);
  emu.faults.set(INSTANCE, { errorCode: 'Rejected.Throttling', httpStatus: 429, times: 1 });
  const throttled = await send(emu, { headers, body });
  t.is(throttled.status, 429);
  t.like(errorOf(throttled), { errorCode: 'Rejected.Throttling', statusCode: 429 });
  t.is((await send(emu, { headers, body })).status, 200, 'the fault was for one request');
  t.is(emu.counters('cn-hangzhou').GetSecretValue ?? 0, 0, 'the region endpoint saw nothing');

  const res = await fetchJson(emu);
  t.is(res.Code, 'MissingSignature', 'unsigned OpenAPI traffic gets the OpenAPI answer');
});

async function fetchJson(emu: KmsEmulator): Promise<Record<string, string>> {
  const r = await send(emu, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('Action=GetSecretValue&SecretName=app/text') });
  return JSON.parse(r.body.toString('utf8')) as Record<string, string>;
}

test('the Java SDK test ClientKey (an RC2-40 PFX from the console format) signs requests the emulator verifies once its public key is registered', async (t) => {
  const emu = await start(t);
  const key = parseClientKey(CLIENT_KEY_JSON, CLIENT_KEY_PASSWORD);
  const body = request();
  const headers = signedHeaders({ apiName: 'GetSecretValue', keyId: key.keyId, body, host: emu.instances[INSTANCE]!.host, now: Date.now() }, key.privateKey);
  t.is(errorOf(await send(emu, { headers, body })).errorCode, 'Unauthorized', 'not an AAP of this instance yet');
  emu.clientKeys.add(key.keyId, createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string, [INSTANCE]);
  const ok = await send(emu, { headers, body });
  t.is(ok.status, 200);
  t.is(GetSecretValueResponse.decode(ok.body).secretData, VALUE);
});
