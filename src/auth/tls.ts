/**
 * Server TLS with files that rotate under a running process (cert-manager, SPIRE, a mounted
 * Kubernetes Secret): the certificate chain, key and client CA are re-read when they change, and
 * new connections use the new pair without a restart. A new set that does not load (bad PEM, a
 * key that does not match the certificate, a half-written file) is logged and the old one kept.
 *
 * Client certificates: the handshake asks for one and verifies it against the client CA, but
 * does not fail without one (`rejectUnauthorized: false`). Each call then decides: a verified
 * certificate is an identity, anything else is no identity, and a call that needs one gets
 * UNAUTHENTICATED with a reason. That keeps gRPC health reachable by kubelet probes, which
 * present no certificate, and gives a caller with a bad certificate a status it can act on
 * instead of a handshake reset.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../errors';
import type { Logger } from '../telemetry/logger';
import { stampOf } from './watchedFile';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Client CA bundle: when set, clients are asked for a certificate. */
  clientCaFile?: string;
  /** How often the files are checked for a change. */
  reloadIntervalMs: number;
}

type Loaded = { options: SecureContextOptions; stamp: string };

/** grpc-js server credentials whose secure context follows the files. Call `close()` on shutdown. */
export class ReloadingServerCredentials extends ServerCredentials {
  private current: Loaded;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly files: TlsFiles,
    private readonly logger: Logger,
  ) {
    const first = load(files);
    if (first instanceof Error) throw new ConfigError(settingOf(first), first.message);
    super({ requestCert: files.clientCaFile !== undefined, rejectUnauthorized: false }, first.options);
    this.current = first;
    this.timer = setInterval(() => this.check(), files.reloadIntervalMs);
    this.timer.unref();
  }

  /** Re-reads the files if any changed; keeps the old pair when the new one does not load. */
  check(): void {
    let stamp: string;
    try {
      stamp = stampsOf(this.files);
    } catch (e) {
      this.logger.warn('tls: cannot stat the certificate files; keeping the current ones', { error: e as Error });
      return;
    }
    if (stamp === this.current.stamp) return;
    const next = load(this.files);
    if (next instanceof Error) {
      this.logger.error('tls: the changed certificate files do not load; keeping the current ones', { setting: settingOf(next), error: next });
      return;
    }
    this.current = next;
    this.updateSecureContextOptions(next.options);
    this.logger.info('tls: certificate files reloaded; new connections use them');
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** A failure to load, tagged with the setting that names the file. */
class TlsLoadError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

function settingOf(e: Error): string {
  return e instanceof TlsLoadError ? e.setting : 'SECRETS_GATEWAY_TLS_CERT_FILE';
}

/** The stat stamp of every file: a cheap change check that follows Kubernetes' symlink swaps. */
function stampsOf(f: TlsFiles): string {
  return [f.certFile, f.keyFile, f.clientCaFile]
    .filter((p): p is string => p !== undefined)
    .map((p) => stampOf(statSync(p)))
    .join('|');
}

function read(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsLoadError(setting, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads and validates the set; the error never carries file contents. */
function load(f: TlsFiles): Loaded | Error {
  try {
    const stamp = stampsOf(f);
    const options: SecureContextOptions = {
      cert: read(f.certFile, 'SECRETS_GATEWAY_TLS_CERT_FILE'),
      key: read(f.keyFile, 'SECRETS_GATEWAY_TLS_KEY_FILE'),
      ...(f.clientCaFile ? { ca: read(f.clientCaFile, 'SECRETS_GATEWAY_TLS_CLIENT_CA_FILE') } : {}),
    };
    try {
      createSecureContext(options); // throws on bad PEM or a key that does not match the certificate
    } catch (e) {
      // OpenSSL's reason only ("key values mismatch", "no start line"): never the PEM itself.
      throw new TlsLoadError('SECRETS_GATEWAY_TLS_KEY_FILE', `the certificate, key or client CA does not load: ${(e as Error).message.split('\n')[0]}`);
    }
    return { options, stamp };
  } catch (e) {
    return e instanceof TlsLoadError ? e : new TlsLoadError('SECRETS_GATEWAY_TLS_CERT_FILE', (e as Error).message);
  }
}
