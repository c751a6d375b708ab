/**
 * Fault injection per region (latency, error codes with a count, QPS limit, region down/up),
 * counters and the request log, through the programmatic API and the admin HTTP endpoint.
 * Assertions are on counts and codes; the clock is injected where windows matter.
 */
import test from 'ava';
import * as K from '@alicloud/kms20160120';
import { admin, legacyClient, openApiClient, rpc, sdkError, startEmulator } from './helpers';

const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'fault-value' }] },
    { name: 'app/generic', versions: [{ versionId: 'g1', stages: ['ACSCurrent'], json: { user: 'u', password: 'p' } }] },
  ],
};
const read = (c: ReturnType<typeof openApiClient>, runtime: Record<string, unknown> = {}) => rpc(c, 'GetSecretValue', { SecretName: 'app/text' }, undefined, '2016-01-20', runtime);

test('then chains specs: 429 once, then 503 once, then the value; a then without times is refused', async (t) => {
  const emu = await startEmulator(t, { seed });
  const c = openApiClient(emu);
  emu.faults.set('cn-hangzhou', { errorCode: 'Rejected.Throttling', httpStatus: 429, times: 1, then: { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503, times: 1 } });
  t.is((await sdkError(t, read(c))).statusCode, 429);
  t.deepEqual(emu.faults.get('cn-hangzhou'), { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503, times: 1 });
  t.is((await sdkError(t, read(c))).code, 'ServiceUnavailableTemporary');
  t.is((await read(c)).SecretData, 'fault-value');
  t.deepEqual(emu.requestLog().map((r) => r.code), ['Rejected.Throttling', 'ServiceUnavailableTemporary', 'OK']);
  t.throws(() => emu.faults.set('cn-hangzhou', { errorCode: 'InternalFailure', httpStatus: 500, then: {} }), { instanceOf: RangeError, message: /then needs times/ });
});

test('an error fault with times fails exactly that many calls, then the region recovers', async (t) => {
  const emu = await startEmulator(t, { seed });
  const c = openApiClient(emu);
  emu.faults.set('cn-hangzhou', { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503, rate: 1, times: 2 });
  for (let i = 0; i < 2; i++) {
    const e = await sdkError(t, read(c));
    t.is(e.code, 'ServiceUnavailableTemporary');
    t.is(e.statusCode, 503);
    t.is(e.data!.Message, 'Service Unavailable Temporary.');
  }
  t.is((await read(c)).SecretData, 'fault-value');
  t.deepEqual(emu.faults.get('cn-hangzhou'), {});
  t.deepEqual(emu.counters(), { GetSecretValue: 3 });
  t.deepEqual(emu.requestLog().map((r) => [r.code, r.fault]), [['ServiceUnavailableTemporary', 'error'], ['ServiceUnavailableTemporary', 'error'], ['OK', undefined]]);

  emu.faults.set('cn-hangzhou', { errorCode: 'InternalFailure', httpStatus: 500, actions: ['PutSecretValue'] });
  t.is((await read(c)).VersionId, 'v1', 'the fault is limited to PutSecretValue');
  const legacy = await sdkError(t, legacyClient(emu).putSecretValue(new K.PutSecretValueRequest({ secretName: 'app/text', versionId: 'v2', secretData: 'x' })));
  t.is(legacy.code, 'InternalFailureError');
  t.throws(() => emu.faults.set('cn-hangzhou', { errorCode: 'X' }), { instanceOf: RangeError, message: /errorCode and httpStatus go together/ });
  t.throws(() => emu.faults.set('cn-hangzhou', { latencyMs: -1 }), { instanceOf: RangeError, message: /latencyMs/ });
});

test('a QPS limit answers 429 Rejected.Throttling "QPS Limit Exceeded" beyond the limit within one second', async (t) => {
  let now = Date.now();
  const emu = await startEmulator(t, { seed, clock: () => now });
  const c = openApiClient(emu);
  emu.faults.set('cn-hangzhou', { qpsLimit: 2 });
  const outcomes: string[] = [];
  for (let i = 0; i < 5; i++) {
    try {
      await read(c);
      outcomes.push('OK');
    } catch (e) {
      const err = e as { code: string; statusCode: number; data: { Message: string } };
      outcomes.push(`${err.code}/${err.statusCode}/${err.data.Message}`);
    }
  }
  t.deepEqual(outcomes, ['OK', 'OK', ...Array(3).fill('Rejected.Throttling/429/QPS Limit Exceeded')]);
  const legacy = await sdkError(t, legacyClient(emu).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' })));
  t.is(legacy.code, 'Rejected.ThrottlingError');
  now += 1000; // the window slides past the two accepted calls
  t.is((await read(c)).VersionId, 'v1');
  t.is(emu.requestLog().filter((r) => r.fault === 'throttle').length, 4);
});

test('latency delays the answer; a client that gives up makes the emulator stop waiting for it', async (t) => {
  const emu = await startEmulator(t, { seed });
  emu.faults.set('cn-hangzhou', { latencyMs: 50 });
  t.is((await read(openApiClient(emu))).SecretData, 'fault-value');
  t.is(emu.requestLog()[0]!.fault, 'latency');

  emu.faults.set('cn-hangzhou', { latencyMs: 60_000 });
  const e = await t.throwsAsync(read(openApiClient(emu), { readTimeout: 200, connectTimeout: 200 }));
  t.is(e!.name, 'RequestTimeoutError');
  // The server notices the closed connection and drops the pending timer: the request is logged as abandoned.
  for (let i = 0; i < 100 && emu.requestLog().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.like(emu.requestLog()[1], { code: 'ClientClosed', httpStatus: 0, fault: 'latency' });

  // Taking the region down ends a request that is still sleeping, and its timer with it.
  const pending = read(openApiClient(emu), { readTimeout: 30_000, connectTimeout: 30_000 }).catch((err: { code?: string }) => err.code);
  for (let i = 0; i < 100 && emu.counters().GetSecretValue! < 3; i++) await new Promise((r) => setTimeout(r, 20));
  await emu.faults.down('cn-hangzhou');
  t.is(await pending, 'ECONNRESET');
  t.like(emu.requestLog()[2], { code: 'RegionDown', httpStatus: 0 });
});

test('a region taken down refuses connections; back up it serves again; the other region is unaffected', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const hz = openApiClient(emu, 'v3', undefined, 'cn-hangzhou');
  const sh = openApiClient(emu, 'v1', undefined, 'cn-shanghai');
  await read(hz); // leaves a pooled keep-alive socket behind, which down() must close
  const port = emu.regions['cn-hangzhou']!.port;
  await emu.faults.down('cn-hangzhou');
  t.is((await sdkError(t, read(hz))).code, 'ECONNREFUSED');
  t.is((await sdkError(t, legacyClient(emu, undefined, 'cn-hangzhou').getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' })))).code, 'ECONNREFUSED');
  t.is((await read(sh)).SecretData, 'fault-value');
  await emu.faults.up('cn-hangzhou');
  t.is(emu.regions['cn-hangzhou']!.port, port, 'same port after coming back');
  t.is((await read(hz)).SecretData, 'fault-value');
  t.deepEqual(emu.counters('cn-hangzhou'), { GetSecretValue: 2 });
  t.deepEqual(emu.counters('cn-shanghai'), { GetSecretValue: 1 });
  t.deepEqual(emu.counters(), { GetSecretValue: 3 });
  emu.resetCounters();
  t.deepEqual(emu.counters(), {});
  t.is(emu.requestLog().length, 0);
});

test('the request log is a bounded ring of the newest requests', async (t) => {
  const emu = await startEmulator(t, { seed, requestLogSize: 3 });
  const c = openApiClient(emu);
  for (let i = 0; i < 5; i++) await read(c);
  t.deepEqual(emu.requestLog().map((r) => r.seq), [3, 4, 5]);
  t.deepEqual(Object.keys(emu.requestLog()[0]!).sort(), ['action', 'code', 'credential', 'httpStatus', 'regionId', 'secretName', 'seq', 'signatureVersion', 'time']);
  t.is(emu.counters().GetSecretValue, 5, 'counters are not bounded by the ring');
});

test('the admin endpoint drives faults, regions, counters and dev rotations over HTTP', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'], adminPort: 0 });
  t.regex(emu.adminUrl!, /^http:\/\/127\.0\.0\.1:\d+$/);
  const c = openApiClient(emu);

  t.deepEqual((await admin(emu, 'POST', '/admin/faults', { regionId: 'cn-hangzhou', errorCode: 'InternalFailure', httpStatus: 500, times: 1 })).json, { regions: ['cn-hangzhou'] });
  t.is((await sdkError(t, read(c))).code, 'InternalFailure');
  t.is((await read(c)).VersionId, 'v1');

  t.is((await admin(emu, 'POST', '/admin/down', { regionId: 'cn-hangzhou' })).status, 200);
  t.is((await sdkError(t, read(c))).code, 'ECONNREFUSED');
  let state = (await admin(emu, 'GET', '/admin/state')).json;
  t.false(state.regions['cn-hangzhou'].up);
  t.true(state.regions['cn-shanghai'].up);
  await admin(emu, 'POST', '/admin/up', { regionId: 'cn-hangzhou' });
  t.is((await read(c)).VersionId, 'v1');

  await admin(emu, 'POST', '/admin/faults', { qpsLimit: 5, latencyMs: 1 });
  state = (await admin(emu, 'GET', '/admin/state')).json;
  t.deepEqual(state.regions['cn-shanghai'].faults, { qpsLimit: 5, latencyMs: 1 });
  await admin(emu, 'POST', '/admin/faults/clear', {});
  state = (await admin(emu, 'GET', '/admin/state')).json;
  t.deepEqual(state.regions['cn-hangzhou'].faults, {});
  t.deepEqual(state.counters, { GetSecretValue: 3 }, 'the refused call never reached the emulator');
  t.is(state.requestLog.length, 3);
  t.deepEqual(state.secrets.find((s: { name: string }) => s.name === 'app/text').versions.map((v: { versionId: string }) => v.versionId), ['v1']);

  const rotated = (await admin(emu, 'POST', '/admin/rotate', { name: 'app/generic', versionId: 'g2' })).json;
  t.deepEqual(rotated.stages, ['ACSCurrent']);
  const after = JSON.parse((await rpc(c, 'GetSecretValue', { SecretName: 'app/generic' })).SecretData) as { user: string; password: string };
  t.is(after.user, 'u', 'only the sensitive-looking field changes');
  t.not(after.password, 'p');

  const put = (await admin(emu, 'POST', '/admin/put-secret-value', { name: 'app/text', versionId: 'v2', text: 'from-admin' })).json;
  t.deepEqual(put, { name: 'app/text', versionId: 'v2', stages: ['ACSCurrent'], createTime: put.createTime });
  t.is((await read(c)).SecretData, 'from-admin');

  await admin(emu, 'POST', '/admin/reset-counters');
  t.deepEqual((await admin(emu, 'GET', '/admin/state')).json.counters, {});

  const bad = await admin(emu, 'POST', '/admin/faults', { regionId: 'cn-hangzhou', latencyMs: 'slow' });
  t.is(bad.status, 400);
  t.regex(bad.json.error, /latencyMs/);
  t.is((await admin(emu, 'POST', '/admin/down', { regionId: 'eu-nowhere' })).status, 404);
  t.is((await admin(emu, 'GET', '/admin/nope')).status, 404);
  const missing = await admin(emu, 'POST', '/admin/rotate', { name: 'app/none' });
  t.deepEqual([missing.status, missing.json.code], [404, 'Forbidden.ResourceNotFound']);
});
