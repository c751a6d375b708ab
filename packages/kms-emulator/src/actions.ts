/**
 * The KMS 2016-01-20 secret actions: request params (strings from query and/or form body) in,
 * response bodies out, with the field names and wrappers of the real API
 * (`VersionStages: {VersionStage: [...]}`, `SecretList: {Secret: [...]}`, …; docs/kms-wire.md §2.1).
 */
import { KmsApiError, invalidParameter, missing, unsupported } from './errors';
import { nameFromArn, type SecretDescription, type SecretStoreApi, type VersionInfo } from './store';

export const KMS_VERSION = '2016-01-20';
/** The emulated account, as it appears in ARNs. */
export const ACCOUNT_ID = '1234567890123456';

type Params = Readonly<Record<string, string | undefined>>;
type Body = Record<string, unknown>;

export interface ActionContext {
  regionId: string;
  requestId: string;
  store: SecretStoreApi;
}

const bool = (v: string | undefined): boolean => v === 'true';
const arn = (ctx: ActionContext, name: string) => `acs:kms:${ctx.regionId}:${ACCOUNT_ID}:secret/${name}`;
const stages = (list: string[]) => ({ VersionStage: list });

function secretName(p: Params): string {
  if (!p.SecretName) throw missing('SecretName');
  return nameFromArn(p.SecretName);
}

function intParam(p: Params, name: string, dflt: number, min: number, max: number): number {
  const raw = p[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw invalidParameter(name, `an integer from ${min} to ${max}`);
  return n;
}

function page<T>(p: Params, items: T[]): { PageNumber: number; PageSize: number; TotalCount: number; items: T[] } {
  const PageNumber = intParam(p, 'PageNumber', 1, 1, 100_000);
  const PageSize = intParam(p, 'PageSize', 10, 1, 100);
  return { PageNumber, PageSize, TotalCount: items.length, items: items.slice((PageNumber - 1) * PageSize, PageNumber * PageSize) };
}

/** Rotation fields as KMS reports them: Last only once rotated; Next and Interval only when enabled. */
function rotationFields(d: SecretDescription): Body {
  const out: Body = { AutomaticRotation: d.automaticRotation ? 'Enabled' : 'Disabled' };
  if (d.lastRotationDate) out.LastRotationDate = d.lastRotationDate;
  if (d.automaticRotation) {
    out.NextRotationDate = d.nextRotationDate;
    out.RotationInterval = d.rotationInterval;
  }
  return out;
}

function parseStages(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw) as string[];
  } catch {
    throw invalidParameter('VersionStages', 'must be a JSON array such as ["ACSCurrent"]');
  }
}

const versionEntry = (v: VersionInfo) => ({ VersionId: v.versionId, CreateTime: v.createTime, VersionStages: stages(v.stages) });

const HANDLERS: Record<string, (p: Params, ctx: ActionContext) => Body> = {
  GetSecretValue(p, ctx) {
    const name = secretName(p);
    const v = ctx.store.getSecretValue(name, { versionStage: p.VersionStage, versionId: p.VersionId });
    const d = ctx.store.describeSecret(name);
    const body: Body = {
      SecretName: v.name,
      SecretType: v.secretType,
      VersionId: v.versionId,
      CreateTime: v.createTime,
      SecretData: v.data,
      SecretDataType: v.dataType,
      VersionStages: stages(v.stages),
      ...rotationFields(d),
    };
    if (bool(p.FetchExtendedConfig) && d.type !== 'Generic' && d.extendedConfig) body.ExtendedConfig = d.extendedConfig;
    return body;
  },

  CreateSecret(p, ctx) {
    const d = ctx.store.createSecret({
      name: p.SecretName ?? '',
      versionId: p.VersionId ?? '',
      data: p.SecretData ?? '',
      dataType: (p.SecretDataType || undefined) as 'text' | 'binary' | undefined,
      type: p.SecretType || undefined,
      description: p.Description,
      extendedConfig: p.ExtendedConfig,
      automaticRotation: bool(p.EnableAutomaticRotation),
      rotationInterval: p.RotationInterval,
    });
    const body: Body = { SecretName: d.name, Arn: arn(ctx, d.name), VersionId: p.VersionId, SecretType: d.type };
    if (d.type !== 'Generic') Object.assign(body, rotationFields(d), d.extendedConfig ? { ExtendedConfig: d.extendedConfig } : {});
    return body;
  },

  PutSecretValue(p, ctx) {
    const name = secretName(p);
    const v = ctx.store.putSecretValue({
      name,
      versionId: p.VersionId ?? '',
      data: p.SecretData ?? '',
      dataType: (p.SecretDataType || undefined) as 'text' | 'binary' | undefined,
      stages: parseStages(p.VersionStages),
    });
    return { SecretName: name, VersionId: v.versionId, VersionStages: stages(v.stages) };
  },

  UpdateSecretVersionStage(p, ctx) {
    const name = secretName(p);
    if (!p.VersionStage) throw missing('VersionStage');
    ctx.store.updateSecretVersionStage(name, p.VersionStage, { removeFromVersion: p.RemoveFromVersion, moveToVersion: p.MoveToVersion });
    return { SecretName: name };
  },

  RotateSecret(p, ctx) {
    const name = secretName(p);
    if (!p.VersionId) throw missing('VersionId');
    if (ctx.store.describeSecret(name).type === 'Generic') throw unsupported('RotateSecret does not support Generic secrets; call PutSecretValue');
    const v = ctx.store.rotateSecret(name, { versionId: p.VersionId });
    return { SecretName: name, VersionId: v.versionId, Arn: arn(ctx, name) };
  },

  DeleteSecret(p, ctx) {
    const name = secretName(p);
    const windowDays = p.RecoveryWindowInDays ? Number(p.RecoveryWindowInDays) : undefined;
    const r = ctx.store.deleteSecret(name, { recoveryWindowInDays: windowDays, force: bool(p.ForceDeleteWithoutRecovery) });
    return { SecretName: name, PlannedDeleteTime: r.plannedDeleteTime };
  },

  RestoreSecret(p, ctx) {
    const name = secretName(p);
    ctx.store.restoreSecret(name);
    return { SecretName: name };
  },

  DescribeSecret(p, ctx) {
    const d = ctx.store.describeSecret(secretName(p));
    const body: Body = { Arn: arn(ctx, d.name), SecretName: d.name, SecretType: d.type, CreateTime: d.createTime, UpdateTime: d.updateTime, Description: d.description ?? '' };
    if (d.plannedDeleteTime) body.PlannedDeleteTime = d.plannedDeleteTime;
    if (d.type !== 'Generic') Object.assign(body, rotationFields(d), d.extendedConfig ? { ExtendedConfig: d.extendedConfig } : {});
    if (bool(p.FetchTags)) body.Tags = { Tag: [] };
    return body;
  },

  ListSecrets(p, ctx) {
    const { items, ...paging } = page(p, ctx.store.listSecrets());
    const Secret = items.map((d) => {
      const s: Body = { SecretName: d.name, SecretType: d.type, CreateTime: d.createTime, UpdateTime: d.updateTime };
      if (d.plannedDeleteTime) s.PlannedDeleteTime = d.plannedDeleteTime;
      if (bool(p.FetchTags)) s.Tags = { Tag: [] };
      return s;
    });
    return { ...paging, SecretList: { Secret } };
  },

  ListSecretVersionIds(p, ctx) {
    const name = secretName(p);
    const { items, ...paging } = page(p, ctx.store.listSecretVersionIds(name, { includeDeprecated: bool(p.IncludeDeprecated) }));
    return { SecretName: name, ...paging, VersionIds: { VersionId: items.map(versionEntry) } };
  },
};

/** The actions the emulator serves (also the keys of its counters). */
export const KMS_ACTIONS: ReadonlySet<string> = new Set(Object.keys(HANDLERS));

/** Runs one KMS action; throws KmsApiError for API errors. The answer carries RequestId first, as KMS does. */
export function runKmsAction(action: string, params: Params, ctx: ActionContext): Body {
  const handler = Object.hasOwn(HANDLERS, action) ? HANDLERS[action] : undefined;
  if (!handler) throw new KmsApiError('InvalidAction.NotFound', 400, 'Specified api is not found, please check your url and method.');
  return { RequestId: ctx.requestId, ...handler(params, ctx) };
}
