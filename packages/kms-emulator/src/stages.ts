/**
 * Version-stage bookkeeping, as KMS does it: a stage labels at most one version; giving a version
 * ACSCurrent hands ACSPrevious to the version that held ACSCurrent, and the old ACSPrevious loses
 * its label (it stays as a deprecated version with no stages).
 */
import { invalidParameter, notFound } from './errors';

export const ACS_CURRENT = 'ACSCurrent';
export const ACS_PREVIOUS = 'ACSPrevious';
const SYSTEM_STAGES = new Set([ACS_CURRENT, ACS_PREVIOUS]);

/** The part of a stored version this module touches. */
export interface Staged {
  versionId: string;
  stages: string[];
}

const drop = (v: Staged, stage: string) => {
  v.stages = v.stages.filter((s) => s !== stage);
};
const add = (v: Staged, stage: string) => {
  if (!v.stages.includes(stage)) v.stages.push(stage);
};

/** Gives `stage` to `target`, taking it from whichever version held it (with the ACSCurrent → ACSPrevious rule). */
export function moveStage(versions: Staged[], target: Staged, stage: string): void {
  const holder = versions.find((v) => v !== target && v.stages.includes(stage));
  if (stage === ACS_CURRENT && holder) {
    for (const v of versions) drop(v, ACS_PREVIOUS);
    drop(holder, ACS_CURRENT);
    add(holder, ACS_PREVIOUS);
  } else if (holder) {
    drop(holder, stage);
  }
  if (stage === ACS_CURRENT) drop(target, ACS_PREVIOUS);
  add(target, stage);
}

/** Applies a new version's stages, ACSCurrent first so the ACSPrevious hand-over happens before explicit labels. */
export function assignStages(versions: Staged[], target: Staged, stages: readonly string[]): void {
  const ordered = [...stages].sort((a, b) => Number(b === ACS_CURRENT) - Number(a === ACS_CURRENT));
  for (const s of ordered) moveStage(versions, target, s);
}

/** Validates a VersionStages list: non-empty labels, at most 64 chars, no duplicates. */
export function checkStageList(stages: unknown, param: string): string[] {
  if (!Array.isArray(stages) || stages.length === 0) throw invalidParameter(param, 'must be a non-empty JSON array of stage labels');
  const seen = new Set<string>();
  for (const s of stages) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(s)) throw invalidParameter(param, `bad stage label ${JSON.stringify(s)}`);
    if (seen.has(s)) throw invalidParameter(param, `lists ${s} twice`);
    seen.add(s);
  }
  return [...seen];
}

/**
 * UpdateSecretVersionStage: moves or removes a label. ACSCurrent/ACSPrevious can only be moved
 * (a secret always has a current version), and RemoveFromVersion must name the version that holds it.
 */
export function updateStage(versions: Staged[], stage: string, removeFrom?: string, moveTo?: string): void {
  if (!removeFrom && !moveTo) throw invalidParameter('RemoveFromVersion', 'give RemoveFromVersion, MoveToVersion or both');
  if (SYSTEM_STAGES.has(stage) && !moveTo) throw invalidParameter('MoveToVersion', `is required for ${stage}`);
  const holder = versions.find((v) => v.stages.includes(stage));
  if (removeFrom !== undefined) {
    if (!versions.some((v) => v.versionId === removeFrom)) throw notFound();
    if (holder?.versionId !== removeFrom) throw invalidParameter('RemoveFromVersion', `stage ${stage} is not attached to version ${removeFrom}`);
  }
  if (!moveTo) {
    drop(holder!, stage);
    return;
  }
  const target = versions.find((v) => v.versionId === moveTo);
  if (!target) throw notFound();
  moveStage(versions, target, stage);
}
