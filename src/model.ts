/**
 * The secret model shared by kms/, cache/, watch/ and server/. Times are epoch milliseconds so
 * values serialize to JSON (for the sealed Redis tier) without loss.
 */

/** The stage KMS reads when none is given. */
export const ACS_CURRENT = 'ACSCurrent';
export const ACS_PREVIOUS = 'ACSPrevious';

/** What to read: one cache entry per distinct selector (Vault #28137 mixed these up). */
export interface SecretSelector {
  /** The secret name or ARN. */
  name: string;
  /** The stage; ignored when `versionId` is set. Defaults to ACSCurrent. */
  versionStage?: string;
  /** A specific version. */
  versionId?: string;
  /** Only the KMS targets of this region. */
  regionId?: string;
  /** Ask KMS for ExtendedConfig. */
  fetchExtendedConfig?: boolean;
}

export type SecretValue = { kind: 'string'; text: string } | { kind: 'binary'; bytes: Buffer };

/** One version of a secret, as KMS returned it, normalized. */
export interface SecretVersion {
  name: string;
  versionId: string;
  versionStages: string[];
  value: SecretValue;
  secretType: string;
  createTimeMs?: number;
  automaticRotation: boolean;
  lastRotationTimeMs?: number;
  nextRotationTimeMs?: number;
  rotationIntervalSeconds?: number;
  extendedConfig?: string;
  /** The region of the KMS target that served it. */
  regionId: string;
}

/** The canonical, unambiguous cache identity of a selector. Every field is always present. */
export function selectorKey(sel: SecretSelector): string {
  const version = sel.versionId ? `id:${sel.versionId}` : `stage:${sel.versionStage || ACS_CURRENT}`;
  return JSON.stringify([sel.regionId ?? '', sel.name, version, sel.fetchExtendedConfig ? 1 : 0]);
}
