/**
 * The emulator's own building blocks, without the network: store semantics (stages, version cap,
 * idempotency, recovery window, lazy automatic rotation), seed validation messages, the bounded
 * nonce set, and the TLS helpers.
 */
import test from 'ava';
import { createKmsEmulator, createTestCa, KmsApiError, loadCa, parseSeed, readSeedFile, SeedError } from '@secrets-gateway/kms-emulator';
import { createNonceCache } from '@secrets-gateway/kms-emulator/nonceCache';
import { createSecretStore } from '@secrets-gateway/kms-emulator/store';
import { percentEncode, v1StringToSign } from '@secrets-gateway/kms-emulator/signature';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof KmsApiError ? e.code : `not a KmsApiError: ${String(e)}`;
  }
  return undefined;
};

test('put with ACSCurrent moves ACSPrevious to the old current; the old previous becomes a deprecated version', (t) => {
  const store = createSecretStore({ now: Date.now });
  store.createSecret({ name: 's', versionId: 'v1', data: 'one' });
  store.putSecretValue({ name: 's', versionId: 'v2', data: 'two' });
  store.putSecretValue({ name: 's', versionId: 'v3', data: 'three' });
  const stages = () => Object.fromEntries(store.listSecretVersionIds('s', { includeDeprecated: true }).map((v) => [v.versionId, v.stages]));
  t.deepEqual(stages(), { v1: [], v2: ['ACSPrevious'], v3: ['ACSCurrent'] });
  // A version put with a custom stage only leaves ACSCurrent alone.
  store.putSecretValue({ name: 's', versionId: 'v4', data: 'four', stages: ['staging'] });
  t.deepEqual(stages(), { v1: [], v2: ['ACSPrevious'], v3: ['ACSCurrent'], v4: ['staging'] });
  store.putSecretValue({ name: 's', versionId: 'v5', data: 'five', stages: ['staging', 'ACSCurrent'] });
  t.deepEqual(stages(), { v1: [], v2: [], v3: ['ACSPrevious'], v4: [], v5: ['ACSCurrent', 'staging'] });
  t.is(code(() => store.putSecretValue({ name: 's', versionId: 'v6', data: 'x', stages: [] })), 'InvalidParameter');
  t.is(code(() => store.getSecretValue('s', { versionId: 'v5', versionStage: 'ACSPrevious' })), 'InvalidParameter');
  t.is(code(() => store.getSecretValue('s', { versionStage: 'nope' })), 'Forbidden.ResourceNotFound');
});

test('a Generic secret keeps at most 10 versions, dropping the oldest unlabelled one', (t) => {
  const store = createSecretStore({ now: Date.now });
  store.createSecret({ name: 's', versionId: 'v0', data: 'x' });
  for (let i = 1; i <= 12; i++) store.putSecretValue({ name: 's', versionId: `v${i}`, data: `x${i}` });
  const ids = store.listSecretVersionIds('s', { includeDeprecated: true }).map((v) => v.versionId);
  t.is(ids.length, 10);
  t.deepEqual(ids.slice(0, 2), ['v3', 'v4']);
  t.deepEqual(ids.slice(-2), ['v11', 'v12']);
});

test('the recovery window ends with the secret gone; automatic rotation happens once NextRotationDate passes', (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const store = createSecretStore({ now: () => now });
  store.createSecret({ name: 'gone', versionId: 'v1', data: 'x' });
  store.deleteSecret('gone', { recoveryWindowInDays: 7 });
  t.is(store.describeSecret('gone').plannedDeleteTime, '2026-01-08T00:00:00Z');
  t.is(code(() => store.getSecretValue('gone')), 'Rejected.ResourceInDeleteWindow');
  t.is(code(() => store.deleteSecret('gone')), 'Rejected.ResourceInDeleteWindow');
  t.is(code(() => store.deleteSecret('gone', { recoveryWindowInDays: 3 })), 'Rejected.ResourceInDeleteWindow');
  t.is(code(() => store.createSecret({ name: 'gone', versionId: 'v1', data: 'x' })), 'Rejected.ResourceExist');

  store.createSecret({
    name: 'rds',
    versionId: 'r1',
    type: 'Rds',
    data: JSON.stringify({ AccountName: 'app', AccountPassword: 'p0' }),
    extendedConfig: { SecretSubType: 'SingleUser', DBInstanceId: 'rm-1' },
    automaticRotation: true,
    rotationInterval: '1d',
  });
  t.is(store.describeSecret('rds').nextRotationDate, '2026-01-02T00:00:00Z');
  now += 7 * 86_400_000;
  t.is(code(() => store.describeSecret('gone')), 'Forbidden.ResourceNotFound');
  t.false(store.listSecrets().some((s) => s.name === 'gone'));
  const rotated = store.getSecretValue('rds');
  t.not(rotated.versionId, 'r1');
  t.not(JSON.parse(rotated.data).AccountPassword, 'p0');
  t.like(store.describeSecret('rds'), { lastRotationDate: '2026-01-08T00:00:00Z', nextRotationDate: '2026-01-09T00:00:00Z' });
  t.deepEqual(store.getSecretValue('rds', { versionStage: 'ACSPrevious' }).versionId, 'r1');

  t.is(code(() => store.createSecret({ name: 'g', versionId: 'v', data: 'x', automaticRotation: true, rotationInterval: '1d' })), 'InvalidParameter');
  t.is(code(() => store.createSecret({ name: 'r', versionId: 'v', data: 'x', type: 'Rds' })), 'InvalidParameter');
  t.is(code(() => store.createSecret({ name: 'r', versionId: 'v', data: 'x', type: 'Rds', extendedConfig: '{}', automaticRotation: true, rotationInterval: '1h' })), 'InvalidParameter');
  t.is(code(() => store.createSecret({ name: 'b', versionId: 'v', data: 'not base64!', dataType: 'binary' })), 'InvalidParameter');
  t.is(code(() => store.createSecret({ name: 'acs/x', versionId: 'v', data: 'x' })), 'InvalidParameter');
  t.is(code(() => store.putSecretValue({ name: 'rds', versionId: 'x', data: 'x' })), 'Rejected.UnsupportedOperation');
});

test('seed validation names the bad field', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ secret: [] }, /^seed\.secret: unknown field/],
    [{ secrets: [{ name: 'a', versions: [{ versionId: 'v1' }] }] }, /^secrets\[0\]\.versions\[0\]: needs exactly one of text, binaryBase64 or json/],
    [{ secrets: [{ name: 'a', versions: [{ versionId: 'v1', binaryBase64: '***' }] }] }, /^secrets\[0\]\.versions\[0\]\.binaryBase64: must be base64/],
    [{ secrets: [{ name: 'a', versions: [{ versionId: 'v1', text: 'x', stage: ['ACSCurrent'] }] }] }, /^secrets\[0\]\.versions\[0\]\.stage: unknown field/],
    [{ secrets: [{ name: 'a', nextRotationDate: 'tomorrow', versions: [{ versionId: 'v1', text: 'x' }] }] }, /^secrets\[0\]\.nextRotationDate: must be YYYY-MM-DDTHH:mm:ssZ/],
    [{ accessKeys: [{ id: 'a', secret: '' }] }, /^accessKeys\[0\]\.secret: must be a non-empty string/],
    [{ secrets: [{ name: 'a', versions: [] }] }, /^secrets\[0\]\.versions: needs at least one version/],
  ];
  for (const [doc, message] of bad) t.throws(() => parseSeed(doc), { instanceOf: SeedError, message });
  // Rules the API enforces apply to seeds too, and name the secret.
  const rule = await t.throwsAsync(createKmsEmulator({ tls: false, seed: { secrets: [{ name: 'r', type: 'Rds', versions: [{ versionId: 'v1', text: 'x' }] }] } }), { instanceOf: SeedError });
  t.regex(rule!.message, /^secrets\[0\] \(r\): .*ExtendedConfig/);
  const twice = await t.throwsAsync(createKmsEmulator({ tls: false, seed: { secrets: [{ name: 'a', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'x' }, { versionId: 'v2', stages: ['ACSCurrent'], text: 'y' }] }] } }), { instanceOf: SeedError });
  t.regex(twice!.message, /ACSCurrent is given to two versions/);
  t.throws(() => readSeedFile('/nonexistent/seed.yaml'), { instanceOf: SeedError, message: /cannot read \(ENOENT\)/ });
});

test('the demo seed loads: text, binary, JSON and an Rds secret whose next rotation is in the future', async (t) => {
  const seed = readSeedFile('packages/kms-emulator/demo-secrets.yaml');
  t.deepEqual([...seed.accessKeys.keys()], ['dev-ak']);
  const emu = await createKmsEmulator({ tls: false, seed: 'packages/kms-emulator/demo-secrets.yaml' });
  t.teardown(() => emu.close());
  const types = Object.fromEntries(emu.store.listSecrets().map((s) => [s.name, s.type]));
  t.deepEqual(types, { 'demo/db-password': 'Generic', 'demo/tls-key': 'Generic', 'demo/api-config': 'Generic', 'demo/rds-app': 'Rds' });
  t.is(emu.store.getSecretValue('demo/tls-key').dataType, 'binary');
  t.truthy(JSON.parse(emu.store.getSecretValue('demo/api-config').data).apiKey);
  const rds = emu.store.describeSecret('demo/rds-app');
  t.true(rds.automaticRotation);
  t.true(Date.parse(rds.nextRotationDate!) > Date.now());
  t.is(emu.store.getSecretValue('demo/db-password', { versionStage: 'ACSPrevious' }).versionId, 'v1');
});

test('the nonce set forgets nonces once their timestamp window has passed, and never grows past its cap', (t) => {
  let now = 1_000_000;
  const nonces = createNonceCache({ windowMs: 15 * 60_000, now: () => now, maxEntries: 100 });
  t.true(nonces.add('a', now));
  t.false(nonces.add('a', now));
  now += 15 * 60_000 + 1;
  t.true(nonces.add('b', now));
  t.is(nonces.size, 1, 'a expired');
  for (let i = 0; i < 500; i++) nonces.add(`n${i}`, now);
  t.is(nonces.size, 100);
});

test('V1 string-to-sign re-encodes decoded params, with !\'()* percent-encoded', (t) => {
  t.is(percentEncode("we!rd name(1)*'~"), 'we%21rd%20name%281%29%2A%27~');
  t.is(v1StringToSign('POST', { B: 'x y', A: '1', Signature: 'ignored' }), 'POST&%2F&A%3D1%26B%3Dx%2520y');
});

test('TLS helpers: a loaded CA must match its key; options are validated before binding', async (t) => {
  const a = createTestCa();
  const b = createTestCa();
  t.notThrows(() => loadCa(a.certPem, a.keyPem));
  t.throws(() => loadCa(a.certPem, b.keyPem), { message: /does not match/ });
  await t.throwsAsync(createKmsEmulator({ regions: [] }), { instanceOf: RangeError, message: /at least one region/ });
  await t.throwsAsync(createKmsEmulator({ regions: ['cn-hangzhou', 'cn-hangzhou'] }), { instanceOf: RangeError });
  await t.throwsAsync(createKmsEmulator({ regions: ['x'], ports: { y: 1 } }), { instanceOf: RangeError, message: /ports\.y/ });
  const emu = await createKmsEmulator({ tls: false });
  t.teardown(() => emu.close());
  t.throws(() => emu.writeCaFile('/tmp/never-written.pem'), { message: /plain HTTP/ });
  await t.throwsAsync(createKmsEmulator({ tls: false, ports: { 'cn-hangzhou': emu.regions['cn-hangzhou']!.port } }), { message: /EADDRINUSE/ });
});
