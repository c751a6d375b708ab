/** Rendering of secrets for the CLI: JSON for machines, value-on-stdout + metadata-on-stderr for people. */
import { Freshness_Source, type Freshness, type Secret } from '../gen/secretsgateway/v1/secrets_gateway';

export function secretJson(s: Secret, f?: Freshness): Record<string, unknown> {
  return {
    name: s.name,
    versionId: s.versionId,
    versionStages: s.versionStages,
    ...(s.binaryValue !== undefined ? { valueBase64: Buffer.from(s.binaryValue).toString('base64') } : { value: s.stringValue ?? '' }),
    secretType: s.secretType,
    createTime: s.createTime?.toISOString(),
    automaticRotation: s.automaticRotation,
    lastRotationTime: s.lastRotationTime?.toISOString(),
    nextRotationTime: s.nextRotationTime?.toISOString(),
    rotationIntervalSeconds: s.rotationInterval?.seconds,
    extendedConfig: s.extendedConfig || undefined,
    regionId: s.regionId,
    freshness: f && { source: Freshness_Source[f.source].replace('SOURCE_', ''), checkedAt: f.checkedAt?.toISOString() },
  };
}

/** One line for stderr describing a version without its value. */
export function describe(s: Secret, f?: Freshness): string {
  const parts: (string | false | undefined)[] = [`${s.name} version ${s.versionId}`, `[${s.versionStages.join(', ')}]`, s.regionId && `region ${s.regionId}`];
  if (f) parts.push(`from ${Freshness_Source[f.source].replace('SOURCE_', '').toLowerCase()}`, f.checkedAt && `checked ${f.checkedAt.toISOString()}`);
  if (s.binaryValue !== undefined) parts.push('(binary, printed as base64)');
  return parts.filter(Boolean).join(' ');
}

/** The value as printed on stdout: text as is, binary as base64. */
export function valueText(s: Secret): string {
  return s.binaryValue !== undefined ? Buffer.from(s.binaryValue).toString('base64') : (s.stringValue ?? '');
}
