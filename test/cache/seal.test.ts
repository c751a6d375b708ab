/**
 * Sealing (AES-256-GCM envelopes), the key ring parser, seal-key rotation without a flush, and
 * Redis key naming.
 */
import test from 'ava';
import { createCipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '../../src/errors';
import { MemoryBackend, MemoryTier, SecretStore, Sealer, keyRingFrom, newKeySpec, parseKeyRing } from '../../src/cache';
import { EntryCodec } from '../../src/cache/entryCodec';
import { encodeEntry, makeEntry } from '../../src/cache/entry';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/config';
import { KeyNamer, entryKeys } from '../../src/cache/keys';
import { selectorKey } from '../../src/model';
import { createLogger } from '../../src/telemetry/logger';
import { FakeSource, version } from '../helpers/fakeSource';

const k = () => randomBytes(32);
const spec = (id: string, key: Buffer) => `${id}:${key.toString('base64')}`;

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }) };
}

const CTX = { kind: 'v' as const, cacheKey: selectorKey({ name: 'db/pw' }) };
const PLAIN = Buffer.from('SEAL-SENTINEL-plaintext');

test('parseKeyRing: first key is primary, every key opens; errors name the setting, never the material', (t) => {
  const k1 = k();
  const k2 = k();
  const ring = parseKeyRing(`${spec('new', k2)}, ${spec('old', k1)}`);
  t.is(ring.primary.id, 'new');
  t.deepEqual(ring.ids(), ['new', 'old']);
  const bad: [string, RegExp][] = [
    ['', /comma-separated/],
    ['nocolon', /expected id:base64/],
    [`a:${k1.toString('base64')},`, /comma-separated/],
    ['a:!!!notbase64', /not valid base64/],
    [`a:${randomBytes(16).toString('base64')}`, /must be 32 bytes, got 16/],
    [`a b:${k1.toString('base64')}`, /id must be/],
    [`a:${k1.toString('base64')},a:${k2.toString('base64')}`, /appears twice/],
  ];
  for (const [input, re] of bad) {
    const err = t.throws(() => parseKeyRing(input, { setting: 'GW_SEAL_KEYS' }), { instanceOf: ConfigError });
    t.regex(err!.message, /^GW_SEAL_KEYS: /);
    t.regex(err!.message, re);
    t.false(err!.message.includes(k1.toString('base64')) || err!.message.includes(k2.toString('base64')));
  }
  t.throws(() => parseKeyRing(spec('a', k1), { namingKeyId: 'zz' }), { message: /namingKeyId "zz" is not in the ring/ });
  t.regex(newKeySpec('k9'), /^k9:[A-Za-z0-9+/]{43}=$/);
});

test('seal/open round trip; nonces are fresh; the envelope carries no plaintext', (t) => {
  const sealer = new Sealer(keyRingFrom([{ id: 'k1', material: k() }]), capture().logger);
  const a = sealer.seal(PLAIN, CTX);
  const b = sealer.seal(PLAIN, CTX);
  t.not(a, b);
  t.false(a.includes('SEAL-SENTINEL') || Buffer.from(a).includes(PLAIN));
  t.deepEqual(sealer.open(a, { kind: 'v', cacheKey: CTX.cacheKey }), { plaintext: PLAIN, keyId: 'k1' });
});

test('tampering is a logged miss, never a crash: flipped bytes, swapped AAD, kind, key id, unknown key, garbage', (t) => {
  const k1 = k();
  const { lines, logger } = capture();
  const sealer = new Sealer(keyRingFrom([{ id: 'k1', material: k1 }, { id: 'k2', material: k() }]), logger);
  const env = sealer.seal(PLAIN, CTX);
  const parts = env.split('.');
  const expect = { kind: 'v' as const, cacheKey: CTX.cacheKey };
  const flip = (s: string, i: number) => {
    const b = Buffer.from(s, 'base64url');
    b[i % b.length] ^= 0x01;
    return b.toString('base64url');
  };
  const variants: [string, string][] = [
    ['ciphertext byte', [...parts.slice(0, 4), flip(parts[4], 0)].join('.')],
    ['tag byte', [...parts.slice(0, 4), flip(parts[4], Buffer.from(parts[4], 'base64url').length - 1)].join('.')],
    ['nonce byte', [...parts.slice(0, 3), flip(parts[3], 5), parts[4]].join('.')],
    ['relabelled as the legacy format with a version and region', ['sg1', parts[1], parts[2], parts[3], Buffer.from('v2').toString('base64url'), Buffer.from('r').toString('base64url'), parts[4]].join('.')],
    ['other existing key id', [parts[0], parts[1], 'k2', ...parts.slice(3)].join('.')],
    ['unknown key id', [parts[0], parts[1], 'k404', ...parts.slice(3)].join('.')],
    ['kind swapped', [parts[0], 'n', ...parts.slice(2)].join('.')],
    ['truncated', parts.slice(0, 4).join('.')],
    ['garbage', 'not an envelope'],
  ];
  for (const [what, v] of variants) t.is(sealer.open(v, expect), null, what);
  t.is(sealer.open(env, { kind: 'v', cacheKey: selectorKey({ name: 'db/pw', versionStage: 'ACSPrevious' }) }), null, 'moved to another cache key');
  t.is(sealer.open(env, { kind: 'n', cacheKey: CTX.cacheKey }), null, 'read as a negative entry');
  // Same ring id, different material (a replica configured with the wrong key).
  t.is(new Sealer(keyRingFrom([{ id: 'k1', material: k() }]), logger).open(env, expect), null, 'wrong key material');
  t.not(new Sealer(keyRingFrom([{ id: 'k1', material: k1 }]), logger).open(env, expect), null, 'still opens with the right key');
  t.true(lines.length >= variants.length + 3);
  t.false(lines.some((l) => l.includes('SEAL-SENTINEL')));
});

test('entry codec rejects content that does not match its envelope', (t) => {
  const ring = keyRingFrom([{ id: 'k1', material: k() }]);
  const codec = new EntryCodec(new Sealer(ring, capture().logger), capture().logger);
  const key = selectorKey({ name: 's' });
  const entry = makeEntry(version('s', 'v1', 'x'), Date.now(), DEFAULT_CACHE_CONFIG);
  const sealed = codec.sealValue(key, entry);
  t.is(codec.openValue(key, sealed)?.secret.versionId, 'v1');
  t.is(codec.openValue(selectorKey({ name: 's2' }), sealed), null);
  t.is(codec.openNegative(key, sealed), null);
  t.false(sealed.split('.').includes(Buffer.from('v1').toString('base64url')), 'the version id is not in the clear');
  t.is(sealed.split('.').length, 5);
});

test('a legacy sg1 envelope (version and region in the clear and in the AAD) still opens, and a relabelled one does not', (t) => {
  const ring = keyRingFrom([{ id: 'k1', material: k() }]);
  const key = selectorKey({ name: 's' });
  const entry = makeEntry(version('s', 'v1', 'x'), Date.now(), DEFAULT_CACHE_CONFIG);
  const legacy = (versionId: string, regionId: string) => {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', ring.primary.key, nonce, { authTagLength: 16 });
    c.setAAD(Buffer.from(JSON.stringify(['sg1', 'v', 'k1', key, versionId, regionId])));
    const ct = Buffer.concat([c.update(encodeEntry(entry)), c.final(), c.getAuthTag()]);
    return ['sg1', 'v', 'k1', nonce.toString('base64url'), Buffer.from(versionId).toString('base64url'), Buffer.from(regionId).toString('base64url'), ct.toString('base64url')].join('.');
  };
  const codec = new EntryCodec(new Sealer(ring, capture().logger), capture().logger);
  t.is(codec.openValue(key, legacy('v1', 'cn-hangzhou'))?.secret.versionId, 'v1');
  t.is(codec.openValue(key, legacy('v9', 'cn-hangzhou')), null, 'bound to another version than it holds');
});

test('key-ring rotation: replicas with the new primary read old entries and write with the new key, without a flush', async (t) => {
  const oldKey = k();
  const newKey = k();
  const backend = new MemoryBackend();
  const source = new FakeSource();
  const before = parseKeyRing(spec('old', oldKey));
  // Step 2 of a rotation: new key first; names stay pinned to the old key's id, so nothing is refilled.
  const after = parseKeyRing(`${spec('new', newKey)},${spec('old', oldKey)}`, { namingKeyId: 'old' });
  const cfg = { keyPrefix: 'rot', refreshAheadRatio: 0 };
  const a = new SecretStore({ source, tier: new MemoryTier(backend, 'rot'), keyRing: before, config: cfg });
  const b = new SecretStore({ source, tier: new MemoryTier(backend, 'rot'), keyRing: after, config: cfg });
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => {}));

  await a.get({ name: 'one' });
  t.is((await b.get({ name: 'one' })).freshness.source, 'SHARED_CACHE', 'old key still opens');
  await b.get({ name: 'two' });
  const envelopes = backend.keys().filter((key) => key.endsWith(':v')).map((key) => backend.get(key)!);
  t.deepEqual(envelopes.map((e) => e.split('.')[2]).sort(), ['new', 'old'], 'new writes use the primary');
  t.is(source.calls, 2);
  // A replica that only knows the new key treats old entries as misses (and refetches), never crashes.
  const c = new SecretStore({ source, tier: new MemoryTier(backend, 'rot'), keyRing: parseKeyRing(spec('new', newKey), { namingKeyId: 'new' }), config: cfg });
  t.teardown(() => c.close());
  t.is((await c.get({ name: 'one' })).freshness.source, 'KMS');
});

test('key names: an HMAC tag per selector, no secret name inside, one hash slot per entry', (t) => {
  const namer = new KeyNamer(keyRingFrom([{ id: 'k1', material: k() }]).namingKey, 'sg');
  const name = 'prod/postgres-password';
  const sels = [{ name }, { name, versionStage: 'ACSPrevious' }, { name, versionId: 'x' }, { name, regionId: 'r' }, { name, fetchExtendedConfig: true }];
  const tags = sels.map((s) => namer.tag(selectorKey(s)));
  t.is(new Set(tags).size, sels.length);
  const keys = entryKeys('sg', tags[0]);
  for (const key of Object.values(keys)) {
    t.false(key.includes('prod') || key.includes('postgres') || key.includes('password'));
    t.is(key.match(/\{([^}]*)\}/)![1], tags[0], 'same hash tag → same Cluster slot');
  }
  // Another naming key gives other names: names cannot be guessed without the seal key ring.
  t.not(new KeyNamer(k(), 'sg').tag(selectorKey(sels[0])), tags[0]);
});
