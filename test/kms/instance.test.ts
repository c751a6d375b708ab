/**
 * The instance-API client (ClientKey, RSA-signed, protobuf) as the pool uses it, against the
 * emulator's dedicated instance over real HTTPS with the instance CA pinned: the documented Java
 * test vector, the typed errors of the OpenAPI path, ClientKey rotation on disk, and a mixed pool
 * (instance first, shared-gateway region second) failing over and back.
 */
import { createPrivateKey } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LookupFunction } from 'node:net';
import test from 'ava';
import { AccessDeniedError, BackendAuthError, BackendUnavailableError, SecretNotFoundError, ThrottledError } from '../../src/errors';
import { ClientKeyError, ClientKeyFiles, parseClientKey } from '../../src/kms/clientKey';
import { contentSha256, signString, stringToSign } from '../../src/kms/instanceSign';
import { KmsPool } from '../../src/kms/pool';
import { createLogger } from '../../src/telemetry/logger';
import { isoDaysFromNow } from '../helpers/clock';
import { baseKmsConfig, clientKeyTarget, emulatorTargets, startEmulator } from '../helpers/kms';
import * as V from './fixtures/dkmsJavaVector';

const INSTANCE = 'kst-hzz65f1a2b3c4d5e6';
const SENTINEL = 'SENTINEL-instance-value-9f3c';
const BINARY = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: SENTINEL }] },
    { name: 'app/binary', versions: [{ versionId: 'b1', stages: ['ACSCurrent'], binaryBase64: BINARY.toString('base64') }] },
    {
      name: 'app/rds',
      type: 'Rds',
      automaticRotation: true,
      rotationInterval: '604800s',
      lastRotationDate: isoDaysFromNow(-30),
      nextRotationDate: isoDaysFromNow(7),
      extendedConfig: { SecretSubType: 'SingleUser' },
      versions: [{ versionId: 'r2', stages: ['ACSCurrent'], text: '{"AccountName":"app"}' }],
    },
  ],
};
const gsv = (emu: { counters(r?: string): Record<string, number> }, id?: string) => emu.counters(id).GetSecretValue ?? 0;

test('the documented vector: the Java SDK ClientKey (password 1234) and its PKCS#1 key sign "string to sign" to the expected Bearer values', (t) => {
  const key = parseClientKey(V.CLIENT_KEY_JSON, V.CLIENT_KEY_PASSWORD);
  t.is(key.keyId, 'key_for_unit_test');
  t.is(`Bearer ${signString(V.STRING_TO_SIGN, key.privateKey)}`, V.CLIENT_KEY_SIGNATURE);
  t.is(`Bearer ${signString(V.STRING_TO_SIGN, createPrivateKey(V.PEM_KEY))}`, V.PEM_SIGNATURE);
});

test('string to sign: method, content-sha256, content-type, date, sorted trimmed x-kms-* lines, then "/"', (t) => {
  const headers = {
    'content-sha256': contentSha256(Buffer.from('body')),
    'content-type': 'application/x-protobuf',
    date: 'Mon, 02 Jan 2006 15:04:05 GMT',
    'x-kms-signaturemethod': 'RSA_PKCS1_SHA_256',
    'x-kms-apiversion': 'dkms-gcs-0.2',
    'x-kms-acccesskeyid': ' KAAP.id ',
    'x-kms-apiname': 'GetSecretValue',
    accept: 'application/x-protobuf',
  };
  t.is(headers['content-sha256'], '230D8358DC8E8890B4C58DEEB62912EE2F20357AE92A5CC861B98E68FE31ACB5');
  t.is(
    stringToSign({ method: 'POST', headers }),
    'POST\n230D8358DC8E8890B4C58DEEB62912EE2F20357AE92A5CC861B98E68FE31ACB5\napplication/x-protobuf\nMon, 02 Jan 2006 15:04:05 GMT\n' +
      'x-kms-acccesskeyid:KAAP.id\nx-kms-apiname:GetSecretValue\nx-kms-apiversion:dkms-gcs-0.2\nx-kms-signaturemethod:RSA_PKCS1_SHA_256\n/',
  );
});

test('a wrong password or a damaged file is a ClientKeyError naming the field, with nothing of the key in it', (t) => {
  const wrong = t.throws(() => parseClientKey(V.CLIENT_KEY_JSON, '4321'), { instanceOf: ClientKeyError });
  t.is(wrong.field, 'password');
  const damaged = t.throws(() => parseClientKey(V.CLIENT_KEY_JSON.replace('MIIJ', 'MIIK'), '1234'), { instanceOf: ClientKeyError });
  t.is(damaged.field, 'clientKeyFile');
  t.is(t.throws(() => parseClientKey('{"KeyId":"x"}', '1234'), { instanceOf: ClientKeyError }).message, 'has no PrivateKeyData');
  for (const e of [wrong, damaged]) t.false(e.message.includes('1234') || e.message.includes('MII'), e.message);
});

test('over HTTPS with the instance CA pinned and the kst- name checked: text, binary and rotation metadata, as on the OpenAPI', async (t) => {
  const emu = await startEmulator(t, { seed, instances: [INSTANCE] });
  const { target } = await clientKeyTarget(t, emu);
  // The endpoint is the instance's real name; only name resolution is pointed at the emulator.
  const inst = emu.instances[INSTANCE]!;
  const lookup: LookupFunction = (host, _o, cb) => (host === inst.host ? cb(null, [{ address: '127.0.0.1', family: 4 }] as never, 4) : cb(Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' }), '', 4));
  const pool = new KmsPool({ config: baseKmsConfig({ targets: [{ ...target, endpoint: `${inst.host}:${inst.port}` }] }), lookup });

  const text = await pool.getSecretValue({ name: 'app/text' });
  t.deepEqual(text.value, { kind: 'string', text: SENTINEL });
  t.deepEqual(text.versionStages, ['ACSCurrent']);
  t.is(text.regionId, 'cn-hangzhou');
  t.deepEqual((await pool.getSecretValue({ name: 'app/binary' })).value, { kind: 'binary', bytes: BINARY });
  const rds = await pool.getSecretValue({ name: 'app/rds', fetchExtendedConfig: true });
  t.like(rds, { secretType: 'Rds', automaticRotation: true, rotationIntervalSeconds: 604800, versionId: 'r2' });
  t.is(rds.nextRotationTimeMs, Date.parse(seed.secrets[2]!.nextRotationDate!));
  t.deepEqual(JSON.parse(rds.extendedConfig!), { SecretSubType: 'SingleUser' });
  t.is(emu.requestLog().filter((e) => e.signatureVersion === 'rsa' && e.code === 'OK').length, 3);

  // The same instance without the CA: the certificate is untrusted, the call fails over to nothing.
  const untrusted = new KmsPool({ config: baseKmsConfig({ targets: [{ ...target, caPem: undefined }], retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }) });
  t.is((await t.throwsAsync(untrusted.getSecretValue({ name: 'app/text' })))!.name, 'BackendAuthError');
});

test('instance errors map to the typed errors of the OpenAPI path, retried (or not) the same way', async (t) => {
  const emu = await startEmulator(t, { seed, instances: [INSTANCE] });
  const { target, minted } = await clientKeyTarget(t, emu);
  const pool = new KmsPool({ config: baseKmsConfig({ targets: [target], retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } }) });

  await t.throwsAsync(pool.getSecretValue({ name: 'app/missing' }), { instanceOf: SecretNotFoundError });
  t.is(gsv(emu, INSTANCE), 1, 'NotFound is not retried');

  emu.faults.set(INSTANCE, { errorCode: 'Rejected.Throttling', httpStatus: 429, times: 2 });
  t.is((await pool.getSecretValue({ name: 'app/text' })).versionId, 'v1');
  t.is(gsv(emu, INSTANCE), 4, 'two throttled attempts, then success');

  emu.faults.set(INSTANCE, { errorCode: 'Rejected.Throttling', httpStatus: 429 });
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: ThrottledError });
  emu.faults.set(INSTANCE, { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503 });
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: BackendUnavailableError });
  emu.faults.set(INSTANCE, { errorCode: 'Forbidden.NoPermission', httpStatus: 403 });
  const before = gsv(emu, INSTANCE);
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: AccessDeniedError });
  t.is(gsv(emu, INSTANCE) - before, 1, 'denied is not retried');
  emu.faults.clear();

  emu.clientKeys.revoke(minted.keyId);
  const revoked = await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: BackendAuthError });
  t.regex(revoked!.message, /Unauthorized, HTTP 401/);
});

test('a ClientKey rotated on disk is picked up on the next call; a broken rewrite keeps the last good key', async (t) => {
  const emu = await startEmulator(t, { seed, instances: [INSTANCE] });
  const fx = await clientKeyTarget(t, emu);
  const lines: string[] = [];
  const files = new ClientKeyFiles({ clientKeyFile: fx.clientKeyFile, password: { kind: 'file', path: fx.passwordFile }, targetId: fx.target.id, logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }) });
  t.is((await files.load()).keyId, fx.minted.keyId);

  const next = await emu.clientKeys.mint({ instanceIds: [INSTANCE] });
  // As a Kubernetes Secret update lands: new files renamed into place.
  writeFileSync(join(fx.dir, 'new.json'), next.clientKeyJson);
  writeFileSync(join(fx.dir, 'new.txt'), next.password);
  renameSync(join(fx.dir, 'new.json'), fx.clientKeyFile);
  renameSync(join(fx.dir, 'new.txt'), fx.passwordFile);
  t.is((await files.get()).keyId, next.keyId);

  writeFileSync(fx.clientKeyFile, '{"KeyId":"half-writ');
  t.is((await files.get()).keyId, next.keyId, 'the previous key stays in use');
  t.is((await files.get()).keyId, next.keyId);
  t.is(lines.filter((l) => l.includes('ClientKey reload failed')).length, 1, 'logged once per change');
  for (const s of [next.password, fx.minted.password]) t.false(lines.join('\n').includes(s));

  const none = new ClientKeyFiles({ clientKeyFile: join(fx.dir, 'absent.json'), password: { kind: 'value', value: 'x' }, targetId: 't' });
  await t.throwsAsync(none.get(), { instanceOf: BackendAuthError });
});

test('mixed pool, instance first and a shared-gateway region second: instance down, the region serves; instance back, it serves again', async (t) => {
  const emu = await startEmulator(t, { seed, instances: [INSTANCE] });
  const { target } = await clientKeyTarget(t, emu);
  let skew = 0;
  const refused: string[] = [];
  const pool = new KmsPool({
    config: baseKmsConfig({ targets: [target, ...emulatorTargets(emu)], breaker: { failureThreshold: 2, openMs: 1000 } }),
    now: () => Date.now() + skew,
    onAttempt: (a) => a.outcome !== 'OK' && refused.push(a.outcome),
  });
  const read = async () => (await pool.getSecretValue({ name: 'app/text' })).versionId;
  t.is(await read(), 'v1');
  t.deepEqual([gsv(emu, INSTANCE), gsv(emu, 'cn-hangzhou')], [1, 0], 'the instance is preferred');

  await emu.faults.down(INSTANCE);
  for (let i = 0; i < 4; i++) t.is(await read(), 'v1');
  t.deepEqual([gsv(emu, INSTANCE), gsv(emu, 'cn-hangzhou')], [1, 4], 'every call answered by the region');
  // Refused, or reset when the pool's kept-alive socket to the instance was still open when it went down: both unreachable.
  const unreachable = () => refused.map((c) => (c === 'ECONNRESET' ? 'ECONNREFUSED' : c));
  t.deepEqual(unreachable(), ['ECONNREFUSED'], 'one refused attempt: then the failed instance ranks behind the region');

  skew += 1000; // the penalty is forgotten after a breaker open period: the instance is tried once more
  t.is(await read(), 'v1');
  t.deepEqual(unreachable(), ['ECONNREFUSED', 'ECONNREFUSED']);
  t.is(gsv(emu, 'cn-hangzhou'), 5);

  await emu.faults.up(INSTANCE);
  skew += 2000; // a second ejection in a row lasts twice the first (kms/ejection.ts)
  for (let i = 0; i < 3; i++) t.is(await read(), 'v1');
  t.deepEqual([gsv(emu, INSTANCE), gsv(emu, 'cn-hangzhou')], [4, 5], 'back: the recovered instance serves every call again');
  t.is(refused.length, 2);
});
