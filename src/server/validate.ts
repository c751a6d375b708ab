/**
 * Request validation: every field checked against KMS's own rules before anything else runs, so a
 * malformed request costs no cache lookup and no KMS call. A bad field is an InvalidArgumentError
 * naming the proto field; the message shows at most a short, escaped preview of the bad input.
 */
import { InvalidArgumentError } from '../errors';
import type { Duration } from '../gen/google/protobuf/duration';
import type { GetSecretRequest, WatchSecretRequest } from '../gen/secretsgateway/v1/secrets_gateway';
import { ACS_CURRENT, type SecretSelector } from '../model';

/** KMS secret names: 1–192 of letters, digits and `_ / + = . @ -`. */
const NAME_RE = /^[A-Za-z0-9_/+=.@-]{1,192}$/;
/** `acs:kms:<region>:<account-id>:secret/<name>`. */
const ARN_RE = /^acs:kms:([a-z0-9-]{1,63}):(\d{1,32}):secret\/(.+)$/;
/** Version stages (ACSCurrent, ACSPrevious, custom) and version ids. */
const VERSION_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const REGION_RE = /^[a-z0-9-]{1,63}$/;
const MAX_STALENESS_MS = 86_400_000;
const PREVIEW_CHARS = 24;

/** A short, JSON-escaped preview of untrusted input for error messages (never the whole value). */
export function preview(s: string): string {
  const cut = [...s].slice(0, PREVIEW_CHARS).join('');
  // JSON escapes quotes, backslashes and control characters; \u-escape the rest of non-ASCII too.
  const esc = JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut.length < s.length ? `${esc}… (${s.length} chars)` : esc;
}

function bad(field: string, rule: string, got: string): never {
  throw new InvalidArgumentError(field, `${rule} (got ${preview(got)})`);
}

/** Validates a secret name or ARN; returns the region named by an ARN, if any. */
function checkName(name: string): { arnRegion?: string } {
  if (name === '') throw new InvalidArgumentError('name', 'is required');
  const arn = ARN_RE.exec(name);
  if (arn) {
    if (!NAME_RE.test(arn[3]!)) bad('name', 'the ARN must end in secret/<name>, the name being 1–192 characters of letters, digits and _ / + = . @ -', name);
    return { arnRegion: arn[1] };
  }
  if (!NAME_RE.test(name)) bad('name', 'must be 1–192 characters of letters, digits and _ / + = . @ -, or an ARN acs:kms:<region>:<account-id>:secret/<name>', name);
  return {};
}

function checkOptional(field: string, value: string, re: RegExp, rule: string): string | undefined {
  if (value === '') return undefined;
  if (!re.test(value)) bad(field, rule, value);
  return value;
}

/**
 * The region scope of a request. An ARN names its region, and only that region's targets hold the
 * secret: asking another region would answer NotFound, which evicts the entry cluster-wide.
 */
function checkRegion(regionId: string, arnRegion: string | undefined): string | undefined {
  const region = checkOptional('region_id', regionId, REGION_RE, 'must be 1–63 characters of a-z, 0-9 and -');
  if (region && arnRegion && region !== arnRegion) bad('region_id', `must match the region of the ARN in name (${arnRegion})`, region);
  return region ?? arnRegion;
}

/** Stages and version ids share one rule (VERSION_RE). */
const idRule = 'must be 1–64 characters of letters, digits and _ - .';

/** Converts a protobuf Duration to ms, enforcing 0 ≤ d ≤ 1 day and the Duration sign rules. */
function stalenessMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  const { seconds, nanos } = d;
  if (!Number.isInteger(seconds) || !Number.isInteger(nanos) || nanos <= -1e9 || nanos >= 1e9) {
    throw new InvalidArgumentError('max_staleness', 'is not a valid Duration');
  }
  if (seconds < 0 || nanos < 0) throw new InvalidArgumentError('max_staleness', 'must not be negative');
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  if (ms > MAX_STALENESS_MS) throw new InvalidArgumentError('max_staleness', 'must be at most 1 day (86400s)');
  return ms;
}

export interface ValidGetSecret {
  sel: SecretSelector;
  maxStalenessMs?: number;
}

export function validateGetSecret(req: GetSecretRequest): ValidGetSecret {
  const { arnRegion } = checkName(req.name);
  const versionStage = checkOptional('version_stage', req.versionStage, VERSION_RE, idRule);
  const versionId = checkOptional('version_id', req.versionId, VERSION_RE, idRule);
  const regionId = checkRegion(req.regionId, arnRegion);
  const maxStalenessMs = stalenessMs(req.maxStaleness);
  const sel: SecretSelector = { name: req.name };
  // The proto says the stage is ignored when a version id is given.
  if (versionId) sel.versionId = versionId;
  else sel.versionStage = versionStage ?? ACS_CURRENT;
  if (regionId) sel.regionId = regionId;
  if (req.fetchExtendedConfig) sel.fetchExtendedConfig = true;
  return maxStalenessMs === undefined ? { sel } : { sel, maxStalenessMs };
}

export interface ValidWatchSecret {
  sel: SecretSelector;
  lastVersionId?: string;
}

export function validateWatchSecret(req: WatchSecretRequest): ValidWatchSecret {
  const { arnRegion } = checkName(req.name);
  const versionStage = checkOptional('version_stage', req.versionStage, VERSION_RE, idRule);
  const regionId = checkRegion(req.regionId, arnRegion);
  const lastVersionId = checkOptional('last_version_id', req.lastVersionId, VERSION_RE, idRule);
  const sel: SecretSelector = { name: req.name, versionStage: versionStage ?? ACS_CURRENT };
  if (regionId) sel.regionId = regionId;
  return lastVersionId === undefined ? { sel } : { sel, lastVersionId };
}
