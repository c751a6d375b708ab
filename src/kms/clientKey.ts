/**
 * An application access point (AAP) ClientKey: the JSON file a dedicated KMS instance's console
 * hands out (`{"KeyId": "KAAP.…", "PrivateKeyData": "<base64 PKCS#12>"}`) and the password that
 * opens it. The key signs every instance-API request (instanceSign.ts).
 *
 * The PKCS#12 is opened by pkcs12.ts with Node's crypto alone: `tls.createSecureContext({pfx})`
 * refuses these files ("Unsupported PKCS12 PFX data") because their certificate bag is encrypted
 * with RC2-40, which OpenSSL 3 only offers in its legacy provider, and signing needs only the key.
 * (node-forge, which reads the whole file, stays a test and emulator dependency.)
 *
 * Nothing here ever puts the key, the password or the file's content into an error or a log:
 * reasons are fixed phrases.
 */
import type { KeyObject } from 'node:crypto';
import { stat, readFile } from 'node:fs/promises';
import { BackendAuthError } from '../errors';
import { Pkcs12Error, privateKeyFromPfx } from './pkcs12';
import { silentLogger, type Logger } from '../telemetry/logger';

export interface ClientKey {
  /** `x-kms-acccesskeyid`, e.g. `KAAP.<uuid>`. */
  keyId: string;
  privateKey: KeyObject;
}

/** A ClientKey file or password that cannot be used. `reason` never carries secret material. */
export class ClientKeyError extends Error {
  constructor(
    readonly field: 'clientKeyFile' | 'password',
    reason: string,
  ) {
    super(reason);
  }
  override get name(): string {
    return 'ClientKeyError';
  }
}

/**
 * The password as the v1 clients read it: surrounding whitespace and line breaks removed (the Go
 * client trims, the Python client strips CR/LF, the Java client joins lines).
 */
export function normalizePassword(text: string): string {
  return text.replace(/[\r\n]/g, '').trim();
}

/** Parses a ClientKey file's content and opens its PKCS#12 with `password`. */
export function parseClientKey(json: string, password: string): ClientKey {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new ClientKeyError('clientKeyFile', 'is not a ClientKey JSON document');
  }
  const o = (doc && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
  if (typeof o.KeyId !== 'string' || !o.KeyId.trim()) throw new ClientKeyError('clientKeyFile', 'has no KeyId');
  if (typeof o.PrivateKeyData !== 'string' || !o.PrivateKeyData.trim()) throw new ClientKeyError('clientKeyFile', 'has no PrivateKeyData');
  const der = Buffer.from(o.PrivateKeyData.replace(/\s+/g, ''), 'base64');
  let privateKey: KeyObject;
  try {
    privateKey = privateKeyFromPfx(der, password);
  } catch (e) {
    if (e instanceof Pkcs12Error && e.kind === 'wrong-password') throw new ClientKeyError('password', 'does not open the ClientKey (PKCS#12 MAC check failed)');
    if (e instanceof Pkcs12Error && e.kind === 'no-key') throw new ClientKeyError('clientKeyFile', 'PrivateKeyData holds no private key');
    throw new ClientKeyError('clientKeyFile', 'PrivateKeyData is not a PKCS#12 the password opens');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new ClientKeyError('clientKeyFile', 'PrivateKeyData holds no RSA private key');
  return { keyId: o.KeyId.trim(), privateKey };
}

export type PasswordSource = { kind: 'file'; path: string } | { kind: 'value'; value: string };

export interface ClientKeyFilesOptions {
  /** Absolute path of the ClientKey JSON file. */
  clientKeyFile: string;
  password: PasswordSource;
  /** Where a failed reload is reported (paths and reasons only). */
  logger?: Logger;
  /** Names the target in errors and logs. */
  targetId: string;
}

/**
 * The ClientKey of one target, re-read when its file or password file changes (keys are rotated
 * in the console and mounted as Kubernetes Secrets, which swap the file under a symlink). Each use
 * costs one `stat` per file; a change is seen by inode, size and mtime. A reload that fails keeps
 * the last good key (a half-written file must not break a working target) and is logged once per
 * change; with no good key at all, use fails with BackendAuthError so the pool fails over.
 */
export class ClientKeyFiles {
  private current?: ClientKey;
  private stamp = '';
  private failedStamp = '';
  private readonly logger: Logger;

  constructor(private readonly opts: ClientKeyFilesOptions) {
    this.logger = opts.logger ?? silentLogger;
  }

  /** Loads once now (startup: a bad file stops the process with the field named). */
  async load(): Promise<ClientKey> {
    const stamp = await this.readStamp();
    this.current = await this.read();
    this.stamp = stamp;
    return this.current;
  }

  async get(): Promise<ClientKey> {
    let stamp: string;
    try {
      stamp = await this.readStamp();
    } catch {
      stamp = 'unreadable';
    }
    if (stamp === this.stamp && this.current) return this.current;
    if (stamp === this.failedStamp && this.current) return this.current;
    try {
      const key = await this.read();
      this.current = key;
      this.stamp = stamp;
      this.failedStamp = '';
      this.logger.info('ClientKey loaded', { target: this.opts.targetId, keyId: key.keyId });
      return key;
    } catch (e) {
      const field = e instanceof ClientKeyError ? e.field : 'clientKeyFile';
      const reason = e instanceof ClientKeyError ? e.message : 'cannot be read';
      if (stamp !== this.failedStamp) this.logger.warn('ClientKey reload failed; keeping the previous key', { target: this.opts.targetId, field, reason, hasPrevious: !!this.current });
      this.failedStamp = stamp;
      if (this.current) return this.current;
      throw new BackendAuthError(`the ClientKey of KMS target ${this.opts.targetId} cannot be used: ${field} ${reason}`);
    }
  }

  private async readStamp(): Promise<string> {
    const paths = [this.opts.clientKeyFile, ...(this.opts.password.kind === 'file' ? [this.opts.password.path] : [])];
    const stats = await Promise.all(paths.map((p) => stat(p)));
    return stats.map((s) => `${s.ino}:${s.size}:${s.mtimeMs}`).join('|');
  }

  private async read(): Promise<ClientKey> {
    const json = await readFile(this.opts.clientKeyFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new ClientKeyError('clientKeyFile', `cannot read ${this.opts.clientKeyFile} (${e.code ?? 'error'})`);
    });
    const pw = this.opts.password;
    const password =
      pw.kind === 'value'
        ? pw.value
        : normalizePassword(
            await readFile(pw.path, 'utf8').catch((e: NodeJS.ErrnoException) => {
              throw new ClientKeyError('password', `cannot read ${pw.path} (${e.code ?? 'error'})`);
            }),
          );
    return parseClientKey(json, password);
  }
}
