import test from 'ava';
import { backoffCeilingMs, backoffDelayMs } from '../../src/kms/backoff';
import { CircuitBreaker } from '../../src/breaker';
import { classify, redactUrls } from '../../src/kms/classify';
import { toSecretVersion } from '../../src/kms/convert';
import { healthOrder, KmsTarget } from '../../src/kms/target';
import { LocalTokenBucket } from '../../src/kms/budget';
import {
  AccessDeniedError,
  BackendAuthError,
  BackendUnavailableError,
  SecretNotFoundError,
  ThrottledError,
} from '../../src/errors';

const policy = { baseDelayMs: 100, maxDelayMs: 5000 };

test('backoff windows are milliseconds that double from base and stop at the cap', (t) => {
  t.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeilingMs(n, policy)), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
});

test('backoff never overflows: huge and odd retry numbers stay within [0, cap]', (t) => {
  for (const n of [31, 32, 63, 64, 1023, 1024, 1e6, Number.MAX_SAFE_INTEGER, Infinity]) {
    const c = backoffCeilingMs(n, policy);
    t.is(c, 5000, `n=${n}`);
    t.true(Number.isFinite(backoffDelayMs(n, policy, () => 0.999999)));
  }
  t.is(backoffCeilingMs(-1, policy), 0);
  t.is(backoffCeilingMs(NaN, policy), 0);
  t.is(backoffCeilingMs(3, { baseDelayMs: Number.MAX_VALUE, maxDelayMs: 7 }), 7);
});

test('full jitter draws from [0, window): 0 at random()=0, just under the window near 1', (t) => {
  t.is(backoffDelayMs(3, policy, () => 0), 0);
  t.is(backoffDelayMs(3, policy, () => 0.9999), 799);
});

test('breaker: consecutive failures open it, one half-open probe, success closes, failure reopens', (t) => {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now });
  b.onFailure();
  b.onFailure();
  t.is(b.state, 'closed');
  b.onSuccess(); // resets the count: failures must be consecutive
  b.onFailure();
  b.onFailure();
  t.is(b.state, 'closed');
  b.onFailure();
  t.is(b.state, 'open');
  t.false(b.tryAcquire());
  now = 1000;
  t.is(b.state, 'half-open');
  t.true(b.tryAcquire());
  t.false(b.tryAcquire(), 'only one probe at a time');
  b.onFailure();
  t.is(b.state, 'open');
  now = 2000;
  t.true(b.tryAcquire());
  b.onSuccess();
  t.is(b.state, 'closed');
  t.true(b.tryAcquire());
});

const TOKEN = 'CAESsentinelSecurityToken';
const sdkError = (o: object) => Object.assign(new Error(`x POST http://kms/?AccessKeyId=AK&SecurityToken=${TOKEN}&Signature=abc failed.`), o);

const cases: { name: string; err: object; type: Function; retryable: boolean }[] = [
  { name: 'NotFound', err: { code: 'Forbidden.ResourceNotFound', statusCode: 404, data: { Code: 'Forbidden.ResourceNotFound', RequestId: 'R1' } }, type: SecretNotFoundError, retryable: false },
  { name: 'pending deletion', err: { code: 'Rejected.ResourceInDeleteWindow', statusCode: 409 }, type: SecretNotFoundError, retryable: false },
  { name: 'NoPermission', err: { code: 'Forbidden.NoPermission', statusCode: 403 }, type: AccessDeniedError, retryable: false },
  { name: 'throttling', err: { code: 'Rejected.Throttling', statusCode: 429 }, type: ThrottledError, retryable: true },
  { name: 'bare 429', err: { statusCode: 429 }, type: ThrottledError, retryable: true },
  { name: 'ServiceUnavailableTemporary', err: { code: 'ServiceUnavailableTemporary', statusCode: 503 }, type: BackendUnavailableError, retryable: true },
  { name: 'InternalFailure', err: { code: 'InternalFailure', statusCode: 500 }, type: BackendUnavailableError, retryable: true },
  { name: 'bare 502', err: { statusCode: 502 }, type: BackendUnavailableError, retryable: true },
  { name: 'ECONNREFUSED', err: { code: 'ECONNREFUSED' }, type: BackendUnavailableError, retryable: true },
  { name: 'ECONNRESET', err: { code: 'ECONNRESET' }, type: BackendUnavailableError, retryable: true },
  { name: 'read timeout', err: { name: 'RequestTimeoutError' }, type: BackendUnavailableError, retryable: true },
  { name: 'LB html body', err: { name: 'SyntaxError' }, type: BackendUnavailableError, retryable: true },
  { name: 'signature mismatch', err: { code: 'SignatureDoesNotMatch', statusCode: 400, data: { Code: 'SignatureDoesNotMatch', Message: `server string to sign is:...SecurityToken%3D${TOKEN}` } }, type: BackendAuthError, retryable: false },
  { name: 'unknown AK', err: { code: 'InvalidAccessKeyId.NotFound', statusCode: 404 }, type: BackendAuthError, retryable: false },
  { name: 'nonce reused', err: { code: 'SignatureNonceUsed', statusCode: 400 }, type: BackendAuthError, retryable: false },
  { name: 'TLS untrusted (fails over)', err: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, type: BackendAuthError, retryable: true },
  { name: 'TLS self-signed (fails over)', err: { code: 'SELF_SIGNED_CERT_IN_CHAIN' }, type: BackendAuthError, retryable: true },
];

for (const c of cases) {
  test(`classify: ${c.name}`, (t) => {
    const r = classify(sdkError(c.err), 'KMS GetSecretValue s', 'cn-hangzhou');
    t.true(r.error instanceof c.type, r.error.name);
    t.is(r.retryable, c.retryable);
    t.false(r.error.message.includes(TOKEN), 'the message never carries the SDK message, URL or KMS Message');
    t.false(r.error.message.includes('Signature='));
  });
}

test('redactUrls strips query strings that carry AccessKeyId, Signature and SecurityToken', (t) => {
  const s = redactUrls(`socket hang upPOST https://kms.cn-hangzhou.aliyuncs.com/?AccessKeyId=AK&SecurityToken=${TOKEN}&Signature=x failed.`);
  t.false(s.includes(TOKEN));
  t.true(s.includes('https://kms.cn-hangzhou.aliyuncs.com/?[redacted]'));
});

test('conversion keeps text, binary, rotation fields and extended config', (t) => {
  const base = { RequestId: 'r', SecretName: 's', VersionId: 'v2', VersionStages: { VersionStage: ['ACSCurrent'] }, CreateTime: '2024-02-21T15:39:26Z' };
  const text = toSecretVersion({ ...base, SecretData: 'p@ss', SecretDataType: 'text', SecretType: 'Rds', AutomaticRotation: 'Enabled', RotationInterval: '604800s', NextRotationDate: '2024-07-12T08:22:03Z', ExtendedConfig: '{"a":1}' }, 'cn-hangzhou');
  t.deepEqual(text.value, { kind: 'string', text: 'p@ss' });
  t.is(text.rotationIntervalSeconds, 604800);
  t.is(text.nextRotationTimeMs, Date.UTC(2024, 6, 12, 8, 22, 3));
  t.true(text.automaticRotation);
  t.is(text.extendedConfig, '{"a":1}');
  const bin = toSecretVersion({ ...base, SecretData: Buffer.from([0, 1, 254, 255]).toString('base64'), SecretDataType: 'binary' }, 'r');
  t.deepEqual(bin.value, { kind: 'binary', bytes: Buffer.from([0, 1, 254, 255]) });
  t.throws(() => toSecretVersion({ RequestId: 'r' }, 'r'), { instanceOf: BackendUnavailableError });
});

test('local token bucket: burst, then refill at qps, then ThrottledError when the signal ends the wait', async (t) => {
  let now = 0;
  const b = new LocalTokenBucket({ qps: 10, burst: 2, now: () => now });
  t.is(b.tryTake('a'), 0);
  t.is(b.tryTake('a'), 0);
  t.is(b.tryTake('a'), 100, 'next token in 100 ms at 10 qps');
  t.is(b.tryTake('b'), 0, 'buckets are per target');
  now += 100;
  t.is(b.tryTake('a'), 0);
  const ac = new AbortController();
  ac.abort();
  await t.throwsAsync(b.acquire('a', ac.signal), { instanceOf: ThrottledError });
});

test('health order keeps the configured order until latency says otherwise; breaker state comes first', (t) => {
  const mk = (i: number, ewmaMs: number, samples: number) => {
    const target = new KmsTarget({ id: `t${i}`, regionId: `r${i}`, endpoint: 'x', kind: 'shared', protocol: 'https' }, {} as never, { failureThreshold: 1, openMs: 1000 }, i);
    Object.assign(target, { ewmaMs, samples, lastSampleAt: Date.now() });
    return target;
  };
  const ids = (ts: KmsTarget[]) => healthOrder(ts).map((x) => x.id);
  t.deepEqual(ids([mk(0, 300, 1), mk(1, 0, 0)]), ['t0', 't1'], 'an untried target does not overtake on a first slow sample');
  t.deepEqual(ids([mk(0, 30, 5), mk(1, 20, 5)]), ['t0', 't1'], 'noise does not reorder');
  t.deepEqual(ids([mk(0, 1200, 5), mk(1, 20, 5)]), ['t1', 't0'], 'a clearly slower target sinks');
  const open = mk(0, 10, 5);
  open.breaker.onFailure();
  t.deepEqual(ids([open, mk(1, 500, 5)]), ['t1', 't0'], 'an open breaker sinks whatever its latency');
});
