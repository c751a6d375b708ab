/**
 * GetSecret answers from pre-encoded bytes: the real cache (memory shared tier, a fake KMS and a
 * hand-moved clock) behind the real service, read by a client that keeps the raw response bytes.
 * Each answer must be byte-identical to what ts-proto encodes for the same answer, whatever its
 * shape, and only answers that reused an entry's bytes are counted.
 */
import test, { type ExecutionContext } from 'ava';
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { BackendUnavailableError } from '../../src/errors';
import { GetSecretResponse, SecretsGatewayServiceService, type GetSecretRequest } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import type { SecretSelector, SecretVersion } from '../../src/model';
import { toGetSecretResponse } from '../../src/server/toProto';
import type { FreshnessSource } from '../../src/watch/reader';
import { Clock, makeStore, tierEnv } from '../cache/harness';
import { FakeSource, version, type Answer } from '../helpers/fakeSource';
import { startTestGateway } from '../helpers/watchGateway';

const TTL = { ttlMs: 10_000, ttlJitterRatio: 0, l1TtlMs: 1_000, maxStaleMs: 60_000, refreshAheadRatio: 0 };

type RawClient = { getSecret(req: GetSecretRequest, md: Metadata, cb: (e: ServiceError | null, b?: Buffer) => void): void; close(): void };

/** A client that hands back the response bytes as they came off the wire. */
function rawClient(t: ExecutionContext, port: number): RawClient {
  const Ctor = makeGenericClientConstructor({ getSecret: { ...SecretsGatewayServiceService.getSecret, responseDeserialize: (b: Buffer) => b } }, 'Raw');
  const c = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as RawClient;
  t.teardown(() => c.close());
  return c;
}

function rawGet(c: RawClient, sel: SecretSelector): Promise<Buffer> {
  const req: GetSecretRequest = { name: sel.name, versionStage: sel.versionStage ?? '', versionId: sel.versionId ?? '', regionId: '', fetchExtendedConfig: false };
  return new Promise((resolve, reject) => c.getSecret(req, new Metadata(), (e, b) => (e ? reject(e) : resolve(b!))));
}

async function setup(t: ExecutionContext, respond: (sel: SecretSelector, n: number) => Answer) {
  const clock = new Clock();
  const source = new FakeSource({ respond });
  const { store } = makeStore(t, await tierEnv('memory'), source, { clock, config: TTL });
  const gw = await startTestGateway(t, { reader: store });
  return { clock, source, store, gw, client: rawClient(t, gw.port) };
}

/** What ts-proto encodes for this answer. */
const tsProto = (secret: SecretVersion, source: FreshnessSource, checkedAtMs: number) => Buffer.from(GetSecretResponse.encode(toGetSecretResponse({ secret, freshness: { source, checkedAtMs } })).finish());

const SHAPES: { name: string; sel: SecretSelector; secret: (sel: SecretSelector, n: number) => SecretVersion }[] = [
  { name: 'a string value by the default stage', sel: { name: 'app/db' }, secret: (s, n) => version(s.name, `v${n}`, `text-${n}`, { createTimeMs: 1_000_000 + n, extendedConfig: '{"k":1}' }) },
  {
    name: 'a binary value by a named stage',
    sel: { name: 'app/cert', versionStage: 'ACSPrevious' },
    secret: (s, n) => ({ ...version(s.name, `v${n}`, ''), value: { kind: 'binary', bytes: Buffer.from([0, 1, 2, 255, n]) }, versionStages: ['ACSPrevious'], secretType: 'Generic' }),
  },
  {
    name: 'a version id selector with rotation fields',
    sel: { name: 'app/key', versionId: 'v-7' },
    secret: (s) => version(s.name, 'v-7', 'seven', { automaticRotation: true, rotationIntervalSeconds: 3600, lastRotationTimeMs: 5_000, nextRotationTimeMs: 9_000_000_000, versionStages: [] }),
  },
];

for (const shape of SHAPES) {
  test(`pre-encoded answers are ts-proto's bytes for each source: ${shape.name}`, async (t) => {
    let failing = false;
    const { clock, store, gw, client } = await setup(t, (sel, n) => (failing ? new BackendUnavailableError('KMS down') : shape.secret(sel, n)));
    const expected = shape.secret(shape.sel, 1);
    const checkedAt = clock.ms;
    const steps: { source: FreshnessSource; reused: boolean; before?: () => void }[] = [
      { source: 'KMS', reused: false },
      { source: 'LOCAL_CACHE', reused: true }, // the entry's Secret bytes, a new Freshness spliced on
      { source: 'LOCAL_CACHE', reused: true }, // the whole buffer
      { source: 'SHARED_CACHE', reused: false, before: () => clock.advance(TTL.l1TtlMs + 1) }, // L1 lapsed: a new entry, read from the shared tier
      { source: 'LOCAL_CACHE', reused: true },
      { source: 'STALE', reused: false, before: () => ((failing = true), clock.advance(TTL.ttlMs)) }, // the shared tier's copy (decoded again), served stale
    ];
    let counted = gw.service.preencodedAnswers();
    for (const step of steps) {
      step.before?.();
      const bytes = await rawGet(client, shape.sel);
      t.deepEqual(bytes, tsProto(expected, step.source, checkedAt), `${step.source}: byte-identical to ts-proto`);
      const decoded = GetSecretResponse.decode(bytes); // and what the generated decoder reads back is that answer
      t.is(decoded.secret?.versionId, expected.versionId);
      t.deepEqual(decoded.secret?.stringValue ?? Buffer.from(decoded.secret!.binaryValue!), expected.value.kind === 'string' ? expected.value.text : expected.value.bytes);
      t.deepEqual(decoded.freshness, toGetSecretResponse({ secret: expected, freshness: { source: step.source, checkedAtMs: checkedAt } }).freshness);
      const now = gw.service.preencodedAnswers();
      t.is(now - counted, step.reused ? 1 : 0, `${step.source}: counted only when bytes were reused`);
      counted = now;
    }
    t.is(store.stats().l1Size, 1);
  });
}

test('after a rotation the answer is the new version’s bytes, never the old one’s', async (t) => {
  const { clock, source, client, gw } = await setup(t, (sel, n) => version(sel.name, `v${n}`, `secret-text-${n}`));
  const sel = { name: 'rotating/one' };
  await rawGet(client, sel);
  const old = await rawGet(client, sel);
  t.true(old.includes('secret-text-1'));
  clock.advance(TTL.ttlMs + 1); // expired: the next read asks KMS, which now holds v2
  const checkedAt = clock.ms;
  for (const source of ['KMS', 'LOCAL_CACHE', 'LOCAL_CACHE'] as const) {
    const bytes = await rawGet(client, sel);
    t.deepEqual(bytes, tsProto(version(sel.name, 'v2', 'secret-text-2'), source, checkedAt));
    t.false(bytes.includes('secret-text-1'), 'no byte of the old version');
  }
  t.is(source.calls, 2);
  t.is(gw.service.preencodedAnswers(), 3, 'one hit on v1, two on v2');
});

test('misses are not counted; every L1 hit is', async (t) => {
  const { client, gw, source } = await setup(t, (sel, n) => version(sel.name, `v${n}`, 'x'));
  for (let i = 0; i < 5; i++) await rawGet(client, { name: `miss/${i}` });
  t.is(source.calls, 5);
  t.is(gw.service.preencodedAnswers(), 0);
  for (let i = 0; i < 5; i++) await rawGet(client, { name: `miss/${i}` });
  t.is(gw.service.preencodedAnswers(), 5);
  t.is(source.calls, 5);
});
