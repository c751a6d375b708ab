import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAuditSink, formatAuditLine, MemoryAuditSink, type AuditRecord, type AuditSink, type AuditSinkOptions } from '../../src/auth/audit';
import { AuditUnavailableError, ConfigError } from '../../src/errors';
import { createLogger } from '../../src/telemetry/logger';

// Times in records are made relative to the run's clock; the sink's own clock is a fake.
const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  time: new Date().toISOString(),
  identity: 'spiffe://cluster.local/ns/payments/sa/api',
  peer: '127.0.0.1:40000',
  method: 'GetSecret',
  secretName: 'payments/db',
  versionStage: 'ACSCurrent',
  servedVersionId: 'v-1',
  freshness: 'SHARED_CACHE',
  decision: 'allow',
  code: 'OK',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  ...over,
});

function fakeClock(start = 5_000_000) {
  const c = { t: start, now: () => c.t, advance: (ms: number) => void (c.t += ms) };
  return c;
}

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  return { logger, lines, errors: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'error') };
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

async function sinkFor(t: ExecutionContext, spec: string, deps: Partial<Parameters<typeof createAuditSink>[1]> = {}, opts: AuditSinkOptions = {}) {
  const log = capture();
  const clock = fakeClock();
  const sink = await createAuditSink(spec, { logger: log.logger, now: clock.now, ...deps }, opts);
  t.teardown(() => sink.close());
  return { sink, clock, log };
}

/** A Writable that holds each write's callback until the test releases it (or fails it). */
class GateStream extends Writable {
  readonly chunks: string[] = [];
  private held: Array<(err?: Error | null) => void> = [];
  constructor(private readonly mode: 'hold' | 'pass' | 'fail' = 'hold') {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    if (this.mode === 'pass') cb();
    else if (this.mode === 'fail') cb(Object.assign(new Error('disk on fire'), { code: 'EIO' }));
    else this.held.push(cb);
  }
  release(): void {
    for (const cb of this.held.splice(0)) cb();
  }
}

test('a file gets one JSON line per record, with the fields, appended to what was there', async (t) => {
  const file = join(tempDir(t), 'audit.log');
  writeFileSync(file, '{"earlier":"line"}\n');
  const { sink } = await sinkFor(t, file);
  await sink.write(record());
  await sink.write(record({ identity: null, decision: 'deny', code: 'PERMISSION_DENIED', reason: 'no rule matches', servedVersionId: undefined, freshness: undefined }));
  await sink.write(record({ method: 'WatchSecret', versionStage: undefined, versionId: 'v-7' }));
  const lines = readLines(file);
  t.is(lines.length, 4);
  t.is(lines[0], '{"earlier":"line"}');
  const [allow, deny, watch] = lines.slice(1).map((l) => JSON.parse(l));
  t.deepEqual(Object.keys(allow), ['time', 'identity', 'peer', 'method', 'secretName', 'versionStage', 'servedVersionId', 'freshness', 'decision', 'code', 'traceId']);
  t.like(allow, { identity: 'spiffe://cluster.local/ns/payments/sa/api', peer: '127.0.0.1:40000', secretName: 'payments/db', servedVersionId: 'v-1', freshness: 'SHARED_CACHE', decision: 'allow', code: 'OK' });
  t.regex(allow.time, /^\d{4}-\d\d-\d\dT/);
  t.like(deny, { identity: null, decision: 'deny', code: 'PERMISSION_DENIED', reason: 'no rule matches' });
  t.false('servedVersionId' in deny);
  t.like(watch, { method: 'WatchSecret', versionId: 'v-7' });
});

test('many concurrent writes land as whole lines, none lost or interleaved', async (t) => {
  const file = join(tempDir(t), 'audit.log');
  const { sink } = await sinkFor(t, file);
  await Promise.all(Array.from({ length: 2000 }, (_, i) => sink.write(record({ secretName: `app/s${i}` }))));
  const names = readLines(file).map((l) => JSON.parse(l).secretName as string);
  t.is(names.length, 2000);
  t.is(new Set(names).size, 2000);
});

test('a moved file (logrotate without copytruncate) is noticed at the next rotation check and a new one created', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'audit.log');
  const { sink, clock } = await sinkFor(t, file, {}, { rotationCheckMs: 1000 });
  await sink.write(record({ secretName: 'before' }));
  renameSync(file, `${file}.1`);
  await sink.write(record({ secretName: 'within-check-interval' })); // checked at most every 1000 ms
  clock.advance(1000);
  await sink.write(record({ secretName: 'after' }));
  t.deepEqual(readLines(`${file}.1`).map((l) => JSON.parse(l).secretName), ['before', 'within-check-interval']);
  t.deepEqual(readLines(file).map((l) => JSON.parse(l).secretName), ['after']);
});

test('a removed file is recreated; reopen() switches at once, without waiting for the check', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'audit.log');
  const { sink, clock } = await sinkFor(t, file);
  await sink.write(record({ secretName: 'one' }));
  rmSync(file);
  clock.advance(1000);
  await sink.write(record({ secretName: 'two' }));
  t.deepEqual(readLines(file).map((l) => JSON.parse(l).secretName), ['two']);
  renameSync(file, `${file}.1`);
  await sink.reopen(); // what the caller's SIGHUP handler does
  await sink.write(record({ secretName: 'three' }));
  t.deepEqual(readLines(file).map((l) => JSON.parse(l).secretName), ['three']);
  t.deepEqual(readLines(`${file}.1`).map((l) => JSON.parse(l).secretName), ['two']);
});

test('a path that cannot be opened fails at creation, and one that stops being writable fails closed, then recovers', async (t) => {
  const dir = tempDir(t);
  await t.throwsAsync(createAuditSink(join(dir, 'missing-dir', 'audit.log'), { logger: capture().logger }), { instanceOf: AuditUnavailableError, message: /ENOENT/ });
  const file = join(dir, 'audit.log');
  const { sink, clock, log } = await sinkFor(t, file);
  await sink.write(record());
  rmSync(file);
  mkdirSync(file); // a directory where the file was: the reopen fails with EISDIR
  clock.advance(1000);
  const err = await t.throwsAsync(sink.write(record({ secretName: 'SECRET-NAME-SENTINEL' })), { instanceOf: AuditUnavailableError });
  t.regex(err!.message, /EISDIR/);
  t.false(err!.message.includes('SENTINEL'), 'the error carries no record contents');
  await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError }); // each write retries the open
  t.is(log.errors().length, 1, 'failures are logged once per logEveryMs');
  t.like(log.errors()[0], { failure: 'open', errorCode: 'EISDIR', auditLog: file });
  rmSync(file, { recursive: true });
  await sink.write(record({ secretName: 'recovered' }));
  t.deepEqual(readLines(file).map((l) => JSON.parse(l).secretName), ['recovered']);
  t.true(log.lines.some((l) => JSON.parse(l).msg === 'audit log writable again'));
});

test('a full disk (/dev/full: ENOSPC) fails closed', async (t) => {
  if (!existsSync('/dev/full')) return t.pass('no /dev/full here');
  const { sink, log } = await sinkFor(t, '/dev/full');
  const err = await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError });
  t.regex(err!.message, /ENOSPC/);
  t.like(log.errors()[0], { failure: 'write', errorCode: 'ENOSPC' });
});

test('failure logs are rate-limited and count what they suppressed', async (t) => {
  if (!existsSync('/dev/full')) return t.pass('no /dev/full here');
  const { sink, clock, log } = await sinkFor(t, '/dev/full', {}, { logEveryMs: 10_000 });
  for (let i = 0; i < 5; i++) await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError });
  t.is(log.errors().length, 1);
  clock.advance(10_000);
  await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError });
  t.is(log.errors().length, 2);
  t.is(log.errors()[1]!.suppressed, 4);
});

test('stdout and stderr: one line per record, resolved on the stream write callback', async (t) => {
  const out = new GateStream('hold');
  const err = new GateStream('pass');
  const { sink: toOut } = await sinkFor(t, 'stdout', { stdout: out, stderr: err });
  const { sink: toErr } = await sinkFor(t, 'stderr', { stdout: out, stderr: err });
  let done = false;
  const w = toOut.write(record({ secretName: 'o' })).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  t.false(done, 'not resolved before the stream took the line');
  out.release();
  await w;
  await toErr.write(record({ secretName: 'e' }));
  t.is(JSON.parse(out.chunks.join('')).secretName, 'o');
  t.is(JSON.parse(err.chunks.join('')).secretName, 'e');
  t.true(err.chunks.join('').endsWith('}\n'));
});

test('a stream whose write errors fails closed, and the stream error does not escape', async (t) => {
  const stream = new GateStream('fail');
  const { sink } = await sinkFor(t, 'stdout', { stdout: stream });
  const first = await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError });
  t.regex(first!.message, /EIO/);
  t.false(first!.message.includes('disk on fire'), 'no free text from the underlying error');
  await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError }); // destroyed stream
  await sink.close();
  t.is(stream.listenerCount('error'), 0, 'close removes the listener it added');
});

test('a write that does not complete within the bound rejects', async (t) => {
  const stream = new GateStream('hold');
  const { sink, log } = await sinkFor(t, 'stdout', { stdout: stream }, { writeTimeoutMs: 20 });
  const err = await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError });
  t.regex(err!.message, /did not take a record within 20 ms/);
  t.like(log.errors()[0], { failure: 'timeout' });
  stream.release();
});

test('more than maxPending lines waiting: new writes are refused at once; the waiting ones still land', async (t) => {
  const stream = new GateStream('hold');
  const { sink } = await sinkFor(t, 'stdout', { stdout: stream }, { maxPending: 5, writeTimeoutMs: 60_000 });
  const waiting = Array.from({ length: 5 }, (_, i) => sink.write(record({ secretName: `w${i}` })));
  await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError, message: /5 lines pending/ });
  stream.release();
  await Promise.all(waiting);
  const names = stream.chunks.join('').trim().split('\n').map((l) => JSON.parse(l).secretName);
  t.deepEqual(names, ['w0', 'w1', 'w2', 'w3', 'w4']);
  t.is(stream.chunks.length, 1, 'lines queued together go out in one write');
  const after = sink.write(record({ secretName: 'after' })); // below the bound again: accepted
  await new Promise((r) => setImmediate(r));
  stream.release();
  await t.notThrowsAsync(after);
});

test('close flushes what is queued, then refuses writes', async (t) => {
  const file = join(tempDir(t), 'audit.log');
  const { sink } = await sinkFor(t, file);
  const pending = [1, 2, 3].map((i) => sink.write(record({ secretName: `q${i}` })));
  await sink.close();
  await Promise.all(pending);
  t.is(readLines(file).length, 3);
  await t.throwsAsync(sink.write(record()), { instanceOf: AuditUnavailableError, message: /closed/ });
  await t.notThrowsAsync(sink.reopen());
  await t.notThrowsAsync(sink.close());
});

test('an empty spec is a config error naming the setting', async (t) => {
  await t.throwsAsync(createAuditSink(' ', { logger: capture().logger }), { instanceOf: ConfigError, message: /SECRETS_GATEWAY_AUDIT_LOG/ });
});

test('sentinel scan: a value or token smuggled into a record never reaches the line', async (t) => {
  const file = join(tempDir(t), 'audit.log');
  const { sink } = await sinkFor(t, file);
  const VALUE = 'VALUE-SENTINEL-d41d8cd98f00';
  const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cDphIn0.c2lnbmF0dXJlLXNlbnRpbmVs';
  // The type has no field for these: an object literal with one does not compile.
  // @ts-expect-error `value` is not an AuditRecord field
  const literal: AuditRecord = { ...record(), value: VALUE };
  // A wider object that reaches the sink anyway (spread, cast, JSON from elsewhere) loses its extras.
  const smuggled = { ...record(), value: VALUE, token: JWT, fields: { authorization: `Bearer ${JWT}` }, toJSON: () => ({ value: VALUE }) } as AuditRecord;
  await sink.write(literal);
  await sink.write(smuggled);
  await sink.write(record({ decision: 'deny', code: 'UNAUTHENTICATED', reason: `bad token ${JWT}` }));
  await sink.write(record({ traceId: `${VALUE}` })); // not a trace id: dropped
  const text = readFileSync(file, 'utf8');
  for (const s of [VALUE, JWT, ...JWT.split('.'), 'Bearer']) t.false(text.includes(s), s);
  const lines = readLines(file).map((l) => JSON.parse(l));
  t.is(lines.length, 4);
  t.is(lines[2].reason, 'bad token [redacted]');
  t.false('traceId' in lines[3]);
  for (const l of lines) t.false('value' in l || 'token' in l || 'fields' in l);
});

test('a record the types would reject is refused as a bug, not written', async (t) => {
  const file = join(tempDir(t), 'audit.log');
  const { sink } = await sinkFor(t, file);
  await t.throwsAsync(sink.write(record({ method: 'DeleteSecret' as AuditRecord['method'] })), { instanceOf: TypeError, message: /method/ });
  await t.throwsAsync(sink.write(record({ code: 'NOPE' as AuditRecord['code'] })), { instanceOf: TypeError, message: /code/ });
  await t.throwsAsync(sink.write(record({ time: 'yesterday' })), { instanceOf: TypeError, message: /time/ });
  t.throws(() => formatAuditLine(record({ secretName: 42 as unknown as string })), { instanceOf: TypeError });
  t.is(readFileSync(file, 'utf8'), '');
});

test('MemoryAuditSink keeps formatted records and fails on demand', async (t) => {
  const mem: AuditSink & MemoryAuditSink = new MemoryAuditSink(3);
  await mem.write({ ...record(), value: 'V' } as AuditRecord);
  t.false('value' in mem.records[0]!);
  mem.failing = true;
  await t.throwsAsync(mem.write(record()), { instanceOf: AuditUnavailableError });
  mem.failing = false;
  for (let i = 0; i < 5; i++) await mem.write(record({ secretName: `m${i}` }));
  t.deepEqual(
    mem.records.map((r) => r.secretName),
    ['m2', 'm3', 'm4'],
  );
  await mem.reopen();
  t.is(mem.reopens, 1);
  await mem.close();
  await t.throwsAsync(mem.write(record()), { instanceOf: AuditUnavailableError });
});
