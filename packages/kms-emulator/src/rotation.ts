/**
 * New values for rotation. Managed secrets keep their JSON shape with fresh credentials (RDS/Redis/
 * PolarDB `AccountPassword`, ECS `Password`, RAM `AccessKeyId`+`AccessKeySecret`), the way KMS
 * resets the password of the managed account. Generic secrets (dev-mode rotation only; the
 * RotateSecret API refuses them) get a fresh random value in the same format.
 */
import { randomBytes, randomInt } from 'node:crypto';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#%^*_+-=';
const SENSITIVE_KEY = /pass|secret|token|key/i;

/** A random password drawn from a shell-safe alphabet. */
export function randomPassword(length = 24): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function rotateManaged(type: string, current: Record<string, unknown> | undefined): Record<string, unknown> {
  const base = { ...(current ?? {}) };
  switch (type) {
    case 'RAMCredentials':
      return { ...base, AccessKeyId: `LTAI${randomBytes(10).toString('hex')}`, AccessKeySecret: randomPassword(30), GenerateTimestamp: new Date().toISOString() };
    case 'ECS':
      return { UserName: 'root', ...base, Password: randomPassword() };
    default:
      return { AccountName: 'app', ...base, AccountPassword: randomPassword() };
  }
}

function rotateGeneric(data: string, dataType: 'text' | 'binary'): string {
  if (dataType === 'binary') return randomBytes(Math.max(16, Buffer.from(data, 'base64').length)).toString('base64');
  const obj = parseObject(data);
  if (!obj) return randomPassword(Math.max(16, Math.min(data.length, 64)));
  const keys = Object.keys(obj).filter((k) => typeof obj[k] === 'string');
  const targets = keys.some((k) => SENSITIVE_KEY.test(k)) ? keys.filter((k) => SENSITIVE_KEY.test(k)) : keys;
  const out = { ...obj };
  for (const k of targets) out[k] = randomPassword();
  return JSON.stringify(out);
}

/** The value of the version a rotation creates. */
export function rotatedValue(secretType: string, data: string, dataType: 'text' | 'binary'): { data: string; dataType: 'text' | 'binary' } {
  if (secretType === 'Generic') return { data: rotateGeneric(data, dataType), dataType };
  return { data: JSON.stringify(rotateManaged(secretType, parseObject(data))), dataType: 'text' };
}
