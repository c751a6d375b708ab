/**
 * What the cache needs from KMS, defined here by its consumer. The KMS pool implements it
 * structurally; tests use hand-written fakes.
 */
import type { SecretSelector, SecretVersion } from '../model';

export interface SecretSource {
  /**
   * Reads one secret version. Throws the typed errors of src/errors.ts: SecretNotFoundError,
   * AccessDeniedError (never served stale, evicted), ThrottledError / BackendUnavailableError
   * (transient: a stale value may be answered), others as they come.
   */
  getSecretValue(sel: SecretSelector, opts: { signal?: AbortSignal }): Promise<SecretVersion>;
}
