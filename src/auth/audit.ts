/**
 * The audit trail: one JSON line per authorization decision, on stdout, stderr or a file. It fails
 * closed: `write` resolves only once the line is handed to the OS, and rejects with
 * AuditUnavailableError when it cannot be (a write error, a stuck write, too many lines pending),
 * so the server answers UNAVAILABLE rather than serve what it cannot record.
 *
 * A record has a fixed set of named fields and no bag of extras, and only those fields are ever
 * serialized: no secret value or token has anywhere to go. `reason` is free text by necessity, so
 * it is clipped and anything token-shaped in it is replaced.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Writable } from 'node:stream';
import { timerMs } from '../abort';
import { AuditUnavailableError, ConfigError } from '../errors';
import type { Logger } from '../telemetry/logger';

export const AUDIT_METHODS = ['GetSecret', 'WatchSecret'] as const;
export const AUDIT_FRESHNESS = ['LOCAL_CACHE', 'SHARED_CACHE', 'KMS', 'STALE'] as const;
export const AUDIT_DECISIONS = ['allow', 'deny'] as const;
/** gRPC status code names, as grpc-js `status` spells them. */
export const AUDIT_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** One decision. Every field is named; there is deliberately no field for a value, a token or extras. */
export interface AuditRecord {
  /** When the decision was made, ISO 8601 (`new Date().toISOString()`). */
  readonly time: string;
  /** The caller's identity (SPIFFE ID, `system:serviceaccount:ns:name`, SAN/CN), or null when none. */
  readonly identity: string | null;
  /** The peer address as grpc-js reports it (`1.2.3.4:5678`). */
  readonly peer: string;
  readonly method: (typeof AUDIT_METHODS)[number];
  readonly secretName: string;
  /** The stage asked for, if any. */
  readonly versionStage?: string;
  /** The version id asked for, if any. */
  readonly versionId?: string;
  /** The version id served (allowed reads that returned a secret). */
  readonly servedVersionId?: string;
  /** Where the served value came from. */
  readonly freshness?: (typeof AUDIT_FRESHNESS)[number];
  readonly decision: (typeof AUDIT_DECISIONS)[number];
  /** The gRPC status the call ends with. */
  readonly code: (typeof AUDIT_CODES)[number];
  /** A few words on why (`no rule matches`, `token expired`); never a credential. */
  readonly reason?: string;
  /** The W3C trace id (32 lowercase hex digits) when the call carried one; anything else is dropped. */
  readonly traceId?: string;
}

/** Where records go. One sink per process; the server owns its lifetime. */
export interface AuditSink {
  /**
   * Records one decision. Resolves once the line is handed to the OS (a file's write, a stream's
   * write callback); rejects with AuditUnavailableError when it cannot be, and the call must fail.
   */
  write(record: AuditRecord): Promise<void>;
  /**
   * Reopens a file target (wire it to SIGHUP after logrotate); a no-op for streams. Never rejects:
   * a failure is logged and the next writes fail closed, each retrying the open.
   */
  reopen(): Promise<void>;
  /** Flushes what is pending (bounded by the write timeout), then closes. Later writes reject. */
  close(): Promise<void>;
}

export interface AuditSinkDeps {
  logger: Logger;
  /** @default process.stdout */
  stdout?: Writable;
  /** @default process.stderr */
  stderr?: Writable;
  /** Milliseconds, for the rotation check and log rate limit only. @default Date.now */
  now?: () => number;
}

export interface AuditSinkOptions {
  /** A write not accepted within this many ms rejects. @default 2000 */
  writeTimeoutMs?: number;
  /**
   * Lines held in memory (queued or being written) beyond which writes reject at once. A burst of
   * watch opens queues one line each in a single tick (tens of thousands when a replica takes over
   * another's streams); at ~300 bytes a line the bound is ~30 MiB. @default 100000
   */
  maxPending?: number;
  /** A file target checks that its path still names the open file at most this often (ms). @default 1000 */
  rotationCheckMs?: number;
  /** At most one failure log line per this many ms; the rest are counted. @default 10000 */
  logEveryMs?: number;
  /** Permissions of a file the sink creates. @default 0o600 */
  fileMode?: number;
}

const DEFAULTS: Required<AuditSinkOptions> = { writeTimeoutMs: 2000, maxPending: 100_000, rotationCheckMs: 1000, logEveryMs: 10_000, fileMode: 0o600 };
const MAX_FIELD_CHARS = 1024;
const MAX_REASON_CHARS = 160;
/** Long runs of base64/base64url/hex/JWT characters: no reason word looks like this; a token does. */
const TOKEN_SHAPED = /[A-Za-z0-9+/=_.~-]{32,}/g;
const TRACE_ID = /^(?!0{32}$)[0-9a-f]{32}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The JSON line (without newline) for a record: only the named fields, in a fixed order, clipped.
 * Throws TypeError on a record the types would reject (a bad enum, a non-ISO time): a bug, not data.
 */
export function formatAuditLine(r: AuditRecord): string {
  if (typeof r.time !== 'string' || !ISO_TIME.test(r.time)) throw new TypeError('audit record: time must be an ISO 8601 string');
  const out: Record<string, string | null> = {
    time: r.time,
    identity: r.identity === null ? null : text('identity', r.identity),
    peer: text('peer', r.peer),
    method: oneOf('method', r.method, AUDIT_METHODS),
    secretName: text('secretName', r.secretName),
  };
  if (r.versionStage !== undefined) out.versionStage = text('versionStage', r.versionStage);
  if (r.versionId !== undefined) out.versionId = text('versionId', r.versionId);
  if (r.servedVersionId !== undefined) out.servedVersionId = text('servedVersionId', r.servedVersionId);
  if (r.freshness !== undefined) out.freshness = oneOf('freshness', r.freshness, AUDIT_FRESHNESS);
  out.decision = oneOf('decision', r.decision, AUDIT_DECISIONS);
  out.code = oneOf('code', r.code, AUDIT_CODES);
  if (r.reason !== undefined) out.reason = text('reason', r.reason).replace(TOKEN_SHAPED, '[redacted]').slice(0, MAX_REASON_CHARS);
  if (typeof r.traceId === 'string' && TRACE_ID.test(r.traceId)) out.traceId = r.traceId;
  return JSON.stringify(out);
}

function text(field: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`audit record: ${field} must be a string`);
  return v.length > MAX_FIELD_CHARS ? `${v.slice(0, MAX_FIELD_CHARS)}…` : v;
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new TypeError(`audit record: ${field} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** Keeps records in memory (tests, dev mode). Stores what a file would get: formatted, then parsed. */
export class MemoryAuditSink implements AuditSink {
  readonly lines: string[] = [];
  readonly records: AuditRecord[] = [];
  /** While true, `write` rejects with AuditUnavailableError, as a sink that cannot write would. */
  failing = false;
  reopens = 0;
  private closed = false;

  /** @param limit records kept; older ones are dropped (dev mode runs for a long time). */
  constructor(private readonly limit = 10_000) {}

  async write(record: AuditRecord): Promise<void> {
    if (this.closed) throw new AuditUnavailableError('the audit log is closed');
    if (this.failing) throw new AuditUnavailableError('the audit log cannot be written (injected failure)');
    const line = formatAuditLine(record);
    this.lines.push(line);
    this.records.push(JSON.parse(line) as AuditRecord);
    if (this.lines.length > this.limit) {
      this.lines.shift();
      this.records.shift();
    }
  }

  async reopen(): Promise<void> {
    this.reopens++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * The sink for `SECRETS_GATEWAY_AUDIT_LOG`: `stdout`, `stderr`, or a file path, opened for append
 * now (so a bad path fails at start, with AuditUnavailableError) and reopened on `reopen()` or when
 * the path no longer names the open file (moved or removed by a rotation).
 */
export async function createAuditSink(spec: string, deps: AuditSinkDeps, options: AuditSinkOptions = {}): Promise<AuditSink> {
  const opts = { ...DEFAULTS, ...options };
  const now = deps.now ?? Date.now;
  let target: Target;
  if (spec === 'stdout') target = new StreamTarget('stdout', deps.stdout ?? process.stdout);
  else if (spec === 'stderr') target = new StreamTarget('stderr', deps.stderr ?? process.stderr);
  else if (spec.trim() === '') throw new ConfigError('SECRETS_GATEWAY_AUDIT_LOG', 'must be stdout, stderr or a file path');
  else {
    const file = new FileTarget(resolvePath(spec), opts.fileMode, opts.rotationCheckMs, now);
    try {
      await file.prepare(true);
    } catch (err) {
      throw unavailable('cannot open the audit log', err);
    }
    target = file;
  }
  return new LineSink(target, opts, deps.logger, now);
}

/** A place lines are written to, one write at a time (LineSink serializes). */
interface Target {
  /** `stdout`, `stderr` or the file path, for logs. */
  readonly label: string;
  /** Makes the target ready to write: opens or reopens a file when asked, broken or rotated. */
  prepare(reopen: boolean): Promise<void>;
  write(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  line: Buffer;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
  /** performance.now() by which it must be written, or it rejects. */
  deadline: number;
}

/** At most this much is written per batch: lines queued while a write runs go out together. */
const BATCH_BYTES = 256 * 1024;

/**
 * Queues lines, writes them in batches one at a time (so lines never interleave), bounds the wait.
 * One timer for the whole sink, armed for the oldest line waiting, bounds every line's wait (lines
 * wait in order, and all for the same time): no timer per line on the hot path.
 */
class LineSink implements AuditSink {
  private queue: Pending[] = [];
  /** The batch being written. */
  private writing: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private pumping: Promise<void> | null = null;
  private reopenWaiters: Array<() => void> = [];
  private closing: Promise<void> | null = null;
  private lastLogAt = -Infinity;
  private suppressed = 0;
  private failed = false;

  constructor(
    private readonly target: Target,
    private readonly opts: Required<AuditSinkOptions>,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  write(record: AuditRecord): Promise<void> {
    if (this.closing) return Promise.reject(new AuditUnavailableError('the audit log is closed'));
    let line: Buffer;
    try {
      line = Buffer.from(`${formatAuditLine(record)}\n`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.queue.length + this.inFlight >= this.opts.maxPending) {
      const err = new AuditUnavailableError(`the audit log has ${this.opts.maxPending} lines pending; refusing more`);
      this.report('backlog', err);
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, settled: false, resolve, reject, deadline: performance.now() + this.opts.writeTimeoutMs });
      this.arm();
      this.kick();
    });
  }

  /** Arms the one timer for the oldest line still waiting, unless it is armed. */
  private arm(): void {
    if (this.timer) return;
    const oldest = this.writing.find((p) => !p.settled) ?? this.queue.find((p) => !p.settled);
    if (!oldest) return;
    this.timer = setTimeout(() => this.expire(), timerMs(Math.max(0, oldest.deadline - performance.now()))).unref();
  }

  /** Rejects every line whose wait is over (the oldest first), then re-arms for the next. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const p of [...this.writing, ...this.queue]) {
      if (p.settled) continue;
      if (p.deadline > now) break;
      this.report('timeout', undefined);
      settle(p, new AuditUnavailableError(`the audit log did not take a record within ${this.opts.writeTimeoutMs} ms`));
    }
    this.arm();
  }

  reopen(): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      this.reopenWaiters.push(resolve);
      this.kick();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const idle = (async () => {
        while (this.pumping) await this.pumping;
      })();
      await Promise.race([idle, new Promise((r) => (timer = setTimeout(r, timerMs(this.opts.writeTimeoutMs)).unref()))]);
      clearTimeout(timer);
      for (const p of this.queue.splice(0)) settle(p, new AuditUnavailableError('the audit log is closed'));
      clearTimeout(this.timer);
      this.timer = undefined;
      for (const w of this.reopenWaiters.splice(0)) w();
      await this.target.close();
    })();
    return this.closing;
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // Work queued after the loop's last check but before this callback.
      if (this.queue.length > 0 || this.reopenWaiters.length > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 || this.reopenWaiters.length > 0) {
      const waiters = this.reopenWaiters.splice(0);
      let openErr: unknown;
      try {
        await this.target.prepare(waiters.length > 0);
      } catch (err) {
        openErr = err ?? new Error('open failed');
        this.report('open', err);
      }
      for (const w of waiters) w();
      const batch = this.takeBatch();
      if (batch.length === 0) continue;
      if (openErr !== undefined) {
        for (const p of batch) settle(p, unavailable('cannot open the audit log', openErr));
        continue;
      }
      this.inFlight = batch.length;
      this.writing = batch;
      try {
        await this.target.write(batch.length === 1 ? batch[0]!.line : Buffer.concat(batch.map((p) => p.line)));
        for (const p of batch) settle(p);
        this.recovered();
      } catch (err) {
        this.report('write', err);
        for (const p of batch) settle(p, unavailable('the audit log write failed', err));
      } finally {
        this.inFlight = 0;
        this.writing = [];
      }
    }
  }

  /** Takes the next lines to write, skipping those that already timed out while queued. */
  private takeBatch(): Pending[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && bytes < BATCH_BYTES) bytes += this.queue[n++]!.line.length;
    return this.queue.splice(0, n).filter((p) => !p.settled);
  }

  /** Logs a failure, at most once per `logEveryMs`; the rest are counted into the next line. */
  private report(failure: 'open' | 'write' | 'timeout' | 'backlog', err: unknown): void {
    this.failed = true;
    const t = this.now();
    if (t - this.lastLogAt < this.opts.logEveryMs) {
      this.suppressed++;
      return;
    }
    this.logger.error('audit log unavailable: calls fail closed until it recovers', { auditLog: this.target.label, failure, errorCode: codeOf(err), suppressed: this.suppressed });
    this.lastLogAt = t;
    this.suppressed = 0;
  }

  private recovered(): void {
    if (!this.failed) return;
    this.failed = false;
    this.logger.info('audit log writable again', { auditLog: this.target.label });
  }
}

function settle(p: Pending, err?: Error): void {
  if (p.settled) return;
  p.settled = true;
  if (err) p.reject(err);
  else p.resolve();
}

/** An error code safe to show (`ENOSPC`, `ERR_STREAM_DESTROYED`); never an error's free-text message. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : err === undefined ? undefined : 'error';
}

function unavailable(what: string, err: unknown): AuditUnavailableError {
  return new AuditUnavailableError(`${what} (${codeOf(err) ?? 'error'})`, {}, { cause: err });
}

class StreamTarget implements Target {
  private error: unknown;
  // Without a listener a stream error would crash the process; the failure is seen by the writes.
  private readonly onError = (err: unknown) => (this.error ??= err);

  constructor(
    readonly label: string,
    private readonly stream: Writable,
  ) {
    stream.on('error', this.onError);
  }

  async prepare(): Promise<void> {}

  write(data: Buffer): Promise<void> {
    if (this.stream.destroyed || this.stream.writableEnded) {
      return Promise.reject(this.error ?? Object.assign(new Error('stream closed'), { code: 'ERR_STREAM_DESTROYED' }));
    }
    return new Promise((resolve, reject) => {
      try {
        this.stream.write(data, (err) => (err ? reject(err) : resolve()));
      } catch (err) {
        reject(err);
      }
    });
  }

  async close(): Promise<void> {
    this.stream.off('error', this.onError); // the stream is not ours to end
  }
}

const NEWLINE = Buffer.from('\n');

class FileTarget implements Target {
  private fh: FileHandle | null = null;
  private ino = -1;
  private dev = -1;
  private checkedAt = -Infinity;
  /** The last write failed: reopen before the next (an EBADF or EIO handle is not worth reusing). */
  private broken = false;
  /** A write failed part-way, so the file may end in half a line: start the next write on a new line. */
  private torn = false;

  constructor(
    readonly label: string,
    private readonly mode: number,
    private readonly rotationCheckMs: number,
    private readonly now: () => number,
  ) {}

  async prepare(reopen: boolean): Promise<void> {
    if (!reopen && this.fh && !this.broken && !(await this.rotated())) return;
    await this.closeHandle();
    const fh = await open(this.label, 'a', this.mode);
    try {
      const st = await fh.stat();
      if (st.ino !== this.ino || st.dev !== this.dev) this.torn = false;
      this.ino = st.ino;
      this.dev = st.dev;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    this.fh = fh;
    this.broken = false;
    this.checkedAt = this.now();
  }

  /** True when the path was moved, removed or replaced since it was opened (checked at most every rotationCheckMs). */
  private async rotated(): Promise<boolean> {
    const t = this.now();
    if (t - this.checkedAt < this.rotationCheckMs) return false;
    this.checkedAt = t;
    try {
      const st = await stat(this.label);
      return st.ino !== this.ino || st.dev !== this.dev;
    } catch {
      return true;
    }
  }

  async write(data: Buffer): Promise<void> {
    const fh = this.fh;
    if (!fh) throw Object.assign(new Error('not open'), { code: 'EBADF' });
    const buf = this.torn ? Buffer.concat([NEWLINE, data]) : data;
    let off = 0;
    try {
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        off += bytesWritten;
      }
      this.torn = false;
    } catch (err) {
      this.broken = true;
      if (off > 0) this.torn = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.closeHandle();
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
  }
}
