/**
 * Where the pool's attempts go when failures combine, on a fake clock: hand-written clients per
 * target follow a script of answers, and the pool's waits move the clock instead of sleeping.
 * Each test asserts which targets were called, in which order, how long the call waited, and the
 * error (and gRPC status) it ended with.
 */
import { status } from '@grpc/grpc-js';
import test from 'ava';
import type { KmsConfig, KmsTargetConfig } from '../../src/config/types';
import { AccessDeniedError, BackendUnavailableError, SecretNotFoundError, ThrottledError } from '../../src/errors';
import type { GetSecretValueResponseBody, SecretValueClient } from '../../src/kms/api';
import type { RequestBudget } from '../../src/kms/budget';
import { MAX_RETRY_HINT_MS } from '../../src/kms/classify';
import { OutlierEjection } from '../../src/kms/ejection';
import { retryAfterMs } from '../../src/kms/instanceApi';
import { KmsPool } from '../../src/kms/pool';
import { toStatus } from '../../src/server/status';
import { baseKmsConfig } from '../helpers/kms';

/** An answer a fake target gives: a value, or an error shaped like the SDK's. */
type Step = 'ok' | { code?: string; statusCode?: number; name?: string; retryAfterMs?: number };

const REFUSED: Step = { code: 'ECONNREFUSED' };
const RESET: Step = { code: 'ECONNRESET' };
const DNS: Step = { code: 'ENOTFOUND' };
const TLS: Step = { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' };
const THROTTLED: Step = { code: 'Rejected.Throttling', statusCode: 429 };
const BUSY: Step = { code: 'ServiceUnavailableTemporary', statusCode: 503 };
const INTERNAL: Step = { code: 'InternalFailure', statusCode: 500 };
const NOT_FOUND: Step = { code: 'Forbidden.ResourceNotFound', statusCode: 404 };
const DENIED: Step = { code: 'Forbidden.NoPermission', statusCode: 403 };

const BASE_MS = 100; // backoff base; random() = 0.5, so wait n is 50·2ⁿ ms until the cap
const EJECT_MS = 1000;

interface Harness {
  pool: KmsPool;
  /** Regions called, in order. */
  calls: string[];
  /** Every wait the pool made, ms. */
  waits: number[];
  /** Budget tokens taken, per target region. */
  tokens: Record<string, number>;
  now(): number;
  advance(ms: number): void;
  /** Appends answers to a target's script (an empty script answers 'ok'). */
  script(region: string, ...steps: Step[]): void;
  state(region: string): string;
}

function harness(regions: string[], over: Partial<KmsConfig> = {}, opts: { onWait?: (ms: number, now: number) => void } = {}): Harness {
  let now = 1_000_000;
  const calls: string[] = [];
  const waits: number[] = [];
  const tokens: Record<string, number> = {};
  const scripts = new Map<string, Step[]>(regions.map((r) => [r, []]));
  const targets: KmsTargetConfig[] = regions.map((r) => ({ id: r, regionId: r, endpoint: `kms.${r}.example`, kind: 'shared', protocol: 'https' }));
  const client = (t: KmsTargetConfig): SecretValueClient => ({
    getSecretValue: async (req): Promise<GetSecretValueResponseBody> => {
      calls.push(t.regionId);
      const step = scripts.get(t.regionId)!.shift() ?? 'ok';
      if (step === 'ok') {
        return { RequestId: 'r', SecretName: req.SecretName, VersionId: `${t.regionId}-v1`, SecretData: 'x', SecretDataType: 'text', VersionStages: { VersionStage: ['ACSCurrent'] }, CreateTime: '2024-01-01T00:00:00Z' };
      }
      throw Object.assign(new Error('sdk error'), step);
    },
  });
  const budget: RequestBudget = { acquire: async (id) => void (tokens[id] = (tokens[id] ?? 0) + 1) };
  const config = baseKmsConfig({
    targets,
    retry: { maxAttempts: 4, baseDelayMs: BASE_MS, maxDelayMs: 5000 },
    breaker: { failureThreshold: 3, openMs: 10_000 },
    ejection: { baseMs: EJECT_MS, maxMs: 30_000 },
    ...over,
  });
  const pool = new KmsPool({
    config,
    clients: client,
    budget,
    now: () => now,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      waits.push(ms);
      now += ms;
      opts.onWait?.(ms, now);
      signal?.throwIfAborted();
    },
  });
  return {
    pool,
    calls,
    waits,
    tokens,
    now: () => now,
    advance: (ms) => void (now += ms),
    script: (r, ...steps) => void scripts.get(r)!.push(...steps),
    state: (r) => pool.health().find((h) => h.regionId === r)!.state,
  };
}

const forever = () => new AbortController().signal;

test('the issue\'s case: B refuses, C answers 429, then 503, then the value: answered on the 4th attempt', async (t) => {
  const h = harness(['b', 'c']);
  h.script('b', REFUSED, REFUSED, REFUSED);
  h.script('c', THROTTLED, BUSY);
  const s = await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() });
  t.is(s.regionId, 'c');
  t.deepEqual(h.calls, ['b', 'c', 'c', 'c'], 'after one refusal, B gets no attempt while it is ejected');
  t.deepEqual(h.waits, [50, 100], 'C cools down 50 ms after the 429 and 100 ms after the 503 (full jitter at 0.5)');
  t.deepEqual(h.tokens, { b: 1, c: 3 }, 'every attempt, throttled ones included, took a budget token of its target');
  t.is(h.state('b'), 'ejected');
  t.is(h.state('c'), 'closed', 'throttled and busy answers are not target faults');
});

test('the same case with three targets: A and B refuse, C throttles once, then answers', async (t) => {
  const h = harness(['a', 'b', 'c']);
  h.script('a', REFUSED);
  h.script('b', DNS);
  h.script('c', THROTTLED);
  const s = await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() });
  t.is(s.regionId, 'c');
  t.deepEqual(h.calls, ['a', 'b', 'c', 'c']);
  t.deepEqual(h.waits, [50]);
});

test('every connection-level failure ejects at once: refused, reset, DNS, TLS handshake', async (t) => {
  for (const step of [REFUSED, RESET, DNS, TLS]) {
    const h = harness(['a', 'b']);
    h.script('a', step);
    t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b', JSON.stringify(step));
    t.is(h.state('a'), 'ejected');
    t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b');
    t.deepEqual(h.calls, ['a', 'b', 'b'], 'the next call skips the ejected target');
  }
});

test('ejection is separate from the breaker: many refusals never open it, and faults do not eject', async (t) => {
  const h = harness(['a', 'b']);
  for (let i = 0; i < 6; i++) {
    h.script('a', REFUSED);
    await h.pool.getSecretValue({ name: 'app/x' });
    h.advance(60_000); // past the longest ejection and the latency memory: every call tries A first again
  }
  t.deepEqual(h.calls.filter((r) => r === 'a').length, 6);
  t.is(h.pool.targets[0]!.breaker.state, 'closed', 'six refusals in a row, threshold 3: the breaker did not count them');
  const one = harness(['a'], { retry: { maxAttempts: 3, baseDelayMs: BASE_MS, maxDelayMs: 5000 } });
  one.script('a', INTERNAL, INTERNAL, INTERNAL);
  await t.throwsAsync(one.pool.getSecretValue({ name: 'app/x' }, { signal: forever() }), { instanceOf: BackendUnavailableError });
  t.is(one.state('a'), 'open', 'three 500s open the breaker');
  t.is(one.pool.targets[0]!.ejection.state, 'in', 'and never eject');
});

test('an ejected target comes back through one half-open probe after its interval; a failed probe ejects it for twice as long', async (t) => {
  const h = harness(['a']);
  h.script('a', REFUSED, REFUSED);
  const s = await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() });
  t.is(s.regionId, 'a');
  t.deepEqual(h.calls, ['a', 'a', 'a']);
  t.deepEqual(h.waits, [EJECT_MS, 2 * EJECT_MS], 'the probe after 1 s failed: ejected again for 2 s, then a probe that got through');
  t.is(h.state('a'), 'closed', 'a successful probe brings it back');
});

test('a target ejected moments ago ranks behind a healthy one until its latency evidence is forgotten', async (t) => {
  const h = harness(['a', 'b']);
  h.script('a', REFUSED);
  await h.pool.getSecretValue({ name: 'app/x' });
  h.advance(EJECT_MS);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b', 'A may be probed, but B is known good and faster');
  h.advance(10_000); // the breaker's open period: how long latency evidence counts
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'a', 'the configured order holds again');
  t.deepEqual(h.calls, ['a', 'b', 'b', 'a']);
});

test('ejection intervals double up to the max, ignore stragglers, and start over after a quiet max interval', (t) => {
  let now = 0;
  const e = new OutlierEjection({ baseMs: 1000, maxMs: 8000, now: () => now });
  const intervals: number[] = [];
  for (let i = 0; i < 6; i++) {
    t.true(e.tryAcquire(), 'in, or the probe after the interval');
    e.eject();
    e.eject(); // a straggler that was in flight when the target went out: no extra doubling
    intervals.push(e.readyAt()! - now);
    now = e.readyAt()!;
  }
  t.deepEqual(intervals, [1000, 2000, 4000, 8000, 8000, 8000]);
  t.true(e.tryAcquire());
  t.false(e.tryAcquire(), 'one probe at a time');
  t.is(e.readyAt(), null, 'while the probe is out its outcome decides');
  e.onReached();
  t.is(e.state, 'in');
  now += 8000;
  e.eject();
  t.is(e.readyAt()! - now, 1000, 'after a whole max interval in service the count starts over');
});

test('when every target is ejected the call waits for the earliest to return instead of failing at once', async (t) => {
  const h = harness(['a', 'b']);
  h.script('a', REFUSED);
  h.script('b', REFUSED);
  const s = await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() });
  t.is(s.regionId, 'a');
  t.deepEqual(h.calls, ['a', 'b', 'a']);
  t.deepEqual(h.waits, [EJECT_MS], 'one wait, until A\'s ejection ended (A went out first)');
});

test('the wait for an ejected target is bounded by the caller\'s deadline: the caller sees its own deadline', async (t) => {
  const deadline = new AbortController();
  const h = harness(['a', 'b'], {}, { onWait: () => deadline.abort(new DOMException('deadline', 'TimeoutError')) });
  h.script('a', REFUSED);
  h.script('b', REFUSED);
  const err = await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal: deadline.signal }), { any: true });
  t.is((err as Error).name, 'TimeoutError');
  t.is(toStatus(err, deadline.signal).code, status.DEADLINE_EXCEEDED);
  t.deepEqual(h.calls, ['a', 'b'], 'no attempt after the deadline');
});

test('when the gateway\'s own bound (not the caller\'s) ends the wait, the caller gets the most informative cause', async (t) => {
  const bound = new AbortController();
  const h = harness(['a', 'b'], {}, { onWait: () => bound.abort(new BackendUnavailableError('source call timed out')) });
  h.script('a', REFUSED);
  h.script('b', THROTTLED);
  const err = await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal: bound.signal }));
  t.true(err instanceof ThrottledError, err!.message);
  t.is(toStatus(err).code, status.RESOURCE_EXHAUSTED);
});

test('a call that would wait longer than the backoff cap fails at once with the cause, signal or not', async (t) => {
  for (const signal of [undefined, forever()]) {
    const h = harness(['a', 'b'], { retry: { maxAttempts: 4, baseDelayMs: BASE_MS, maxDelayMs: 500 } });
    h.script('a', REFUSED);
    h.script('b', REFUSED);
    const err = await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal }), { instanceOf: BackendUnavailableError });
    t.true(err!.message.includes('cannot reach KMS'), err!.message);
    t.deepEqual(h.waits, [], 'the 1 s ejection is past the 500 ms cap: a cached value can be answered stale now');
    // A call that starts while every target is out, and has tried none, says so.
    const next = await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal }), { instanceOf: BackendUnavailableError });
    t.true(next!.message.includes('every KMS target is ejected'), next!.message);
    t.deepEqual(h.calls, ['a', 'b']);
  }
});

test('a throttled target\'s retry hint is honoured (capped), and the cool-down is shared by the next call', async (t) => {
  const h = harness(['a']);
  h.script('a', { ...THROTTLED, retryAfterMs: 3000 });
  await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() });
  t.deepEqual(h.waits, [3000], 'the hint (3000 ms) beat the jittered backoff (50 ms)');
  h.script('a', { ...THROTTLED, retryAfterMs: 10 * MAX_RETRY_HINT_MS });
  await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() }), { instanceOf: ThrottledError }, 'a cool-down past the backoff cap is not waited for');
  t.is(h.pool.targets[0]!.coolUntil, h.now() + MAX_RETRY_HINT_MS, 'the hint was capped');
  await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() }), { instanceOf: BackendUnavailableError });
  t.deepEqual(h.calls, ['a', 'a', 'a'], 'the next call honoured the shared cool-down: nothing sent');
  h.advance(MAX_RETRY_HINT_MS);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'a');
});

test('a throttled target never counts as a fault: the breaker stays closed however long it throttles', async (t) => {
  const h = harness(['a'], { retry: { maxAttempts: 6, baseDelayMs: BASE_MS, maxDelayMs: 5000 } });
  h.script('a', THROTTLED, THROTTLED, BUSY, THROTTLED, BUSY, THROTTLED);
  const err = await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() }), { instanceOf: ThrottledError });
  t.is(toStatus(err).code, status.RESOURCE_EXHAUSTED);
  t.is(h.state('a'), 'closed');
  t.deepEqual(h.waits, [50, 100, 200, 400, 800], 'jittered backoff grows with each throttled answer in a row');
  t.deepEqual(h.tokens, { a: 6 });
});

test('a throttled target is not waited for while another may take the attempt now', async (t) => {
  const h = harness(['a', 'b']);
  h.script('a', THROTTLED);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b');
  t.deepEqual(h.waits, []);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b', 'A is still cooling down');
  h.advance(50);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'a', 'and first again once it has');
});

test('a 5xx fails over at once; the faulty target gets this call again only after a backoff', async (t) => {
  const h = harness(['a', 'b']);
  h.script('a', INTERNAL);
  t.is((await h.pool.getSecretValue({ name: 'app/x' })).regionId, 'b');
  t.deepEqual(h.waits, []);
  const one = harness(['a']);
  one.script('a', INTERNAL, INTERNAL);
  t.is((await one.pool.getSecretValue({ name: 'app/x' }, { signal: forever() })).regionId, 'a');
  t.deepEqual(one.waits, [50, 100]);
});

/** The error of a call, as the caller sees it: its type and gRPC status. */
async function outcome(h: Harness): Promise<{ type: string; code: status; message: string }> {
  const err = (await h.pool.getSecretValue({ name: 'app/x' }, { signal: forever() }).then(() => undefined, (e: Error) => e))!;
  return { type: err.name, code: toStatus(err).code, message: err.message };
}

const informative: { name: string; a: Step[]; b: Step[]; type: string; code: status; attempts?: number }[] = [
  { name: 'refused + throttled: RESOURCE_EXHAUSTED, not "unreachable"', a: [REFUSED, REFUSED], b: [THROTTLED, THROTTLED, THROTTLED, THROTTLED], type: 'ThrottledError', code: status.RESOURCE_EXHAUSTED },
  { name: 'throttled + refused (throttling first): still RESOURCE_EXHAUSTED', a: [THROTTLED, THROTTLED, THROTTLED, THROTTLED], b: [REFUSED, REFUSED, REFUSED], type: 'ThrottledError', code: status.RESOURCE_EXHAUSTED },
  { name: 'refused + not found: NOT_FOUND at once', a: [REFUSED], b: [NOT_FOUND], type: 'SecretNotFoundError', code: status.NOT_FOUND, attempts: 2 },
  { name: 'throttled + denied: PERMISSION_DENIED at once', a: [THROTTLED], b: [DENIED], type: 'AccessDeniedError', code: status.PERMISSION_DENIED, attempts: 2 },
  { name: 'refused + busy: UNAVAILABLE naming the busy answer', a: [REFUSED, REFUSED], b: [BUSY, BUSY, BUSY, BUSY], type: 'BackendUnavailableError', code: status.UNAVAILABLE },
  { name: 'refused + 500: UNAVAILABLE naming the 500', a: [REFUSED, REFUSED], b: [INTERNAL, INTERNAL, INTERNAL, INTERNAL], type: 'BackendUnavailableError', code: status.UNAVAILABLE },
];

for (const c of informative) {
  test(`the most informative cause wins: ${c.name}`, async (t) => {
    const h = harness(['a', 'b']);
    h.script('a', ...c.a);
    h.script('b', ...c.b);
    const o = await outcome(h);
    t.is(o.type, c.type, o.message);
    t.is(o.code, c.code);
    t.false(o.message.includes('cannot reach'), o.message);
    if (c.attempts) t.is(h.calls.length, c.attempts);
  });
}

test('only unreachable targets: UNAVAILABLE "cannot reach KMS", after waiting for each to come back once', async (t) => {
  const h = harness(['a', 'b']);
  h.script('a', REFUSED, REFUSED);
  h.script('b', REFUSED, REFUSED);
  const o = await outcome(h);
  t.is(o.code, status.UNAVAILABLE);
  t.true(o.message.includes('cannot reach KMS (ECONNREFUSED)'), o.message);
  t.deepEqual(h.calls, ['a', 'b', 'a', 'b'], 'the attempt budget bounds the waiting too');
});

test('a definitive answer ends the call at once, whatever else happened', async (t) => {
  for (const [step, type] of [[NOT_FOUND, SecretNotFoundError], [DENIED, AccessDeniedError]] as const) {
    const h = harness(['a', 'b', 'c']);
    h.script('a', THROTTLED);
    h.script('b', REFUSED);
    h.script('c', step);
    await t.throwsAsync(h.pool.getSecretValue({ name: 'app/x' }), { instanceOf: type });
    t.deepEqual(h.calls, ['a', 'b', 'c']);
  }
});

test('Retry-After: delay-seconds and HTTP dates become ms; junk is ignored', (t) => {
  const now = Date.UTC(2030, 0, 1);
  t.is(retryAfterMs('2', now), 2000);
  t.is(retryAfterMs('0.5', now), 500);
  t.is(retryAfterMs(new Date(now + 3000).toUTCString(), now), 3000);
  t.is(retryAfterMs(new Date(now - 3000).toUTCString(), now), 0);
  t.is(retryAfterMs('soon', now), undefined);
  t.is(retryAfterMs(undefined, now), undefined);
});
