/**
 * Application access points (AAPs) of the emulated KMS instances: mints ClientKeys the way the
 * console hands them out (a JSON file `{KeyId, PrivateKeyData}` whose PrivateKeyData is a base64
 * PKCS#12 under a password), and keeps each AAP's certificate public key to verify requests.
 * The emulator keeps no private key and no password after minting.
 */
import { createPublicKey, generateKeyPair, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const DAY_MS = 86_400_000;
const generateKeyPairAsync = promisify(generateKeyPair);

export interface MintedClientKey {
  /** `KAAP.<uuid>`. */
  keyId: string;
  /** The ClientKey file's content. */
  clientKeyJson: string;
  /** The ClientKey password (what `passwordFromFilePath` holds). */
  password: string;
  certificatePem: string;
}

export interface ClientKeyRegistry {
  /** Mints a ClientKey and accepts it on `instanceIds` (every instance when unset). */
  mint(opts?: { instanceIds?: string[]; keyId?: string; commonName?: string }): Promise<MintedClientKey>;
  /** Accepts an existing AAP certificate or public key (PEM) under `keyId` (e.g. a ClientKey made elsewhere). */
  add(keyId: string, certificatePem: string, instanceIds?: string[]): void;
  /** Stops accepting a KeyId (the console's "delete ClientKey"). */
  revoke(keyId: string): boolean;
  /** The public key that verifies `keyId` on `instanceId`, if accepted there. */
  lookup(keyId: string, instanceId: string): KeyObject | undefined;
}

export function createClientKeyRegistry(): ClientKeyRegistry {
  const keys = new Map<string, { publicKey: KeyObject; instanceIds?: ReadonlySet<string> }>();
  const add = (keyId: string, certificatePem: string, instanceIds?: string[]) => {
    if (!keyId) throw new RangeError('clientKeys: a KeyId must be non-empty');
    keys.set(keyId, { publicKey: createPublicKey(certificatePem), instanceIds: instanceIds ? new Set(instanceIds) : undefined });
  };
  return {
    async mint(opts = {}) {
      const keyId = opts.keyId ?? `KAAP.${randomUUID()}`;
      const minted = await mintClientKey(keyId, opts.commonName ?? 'secrets-gateway-emulator-aap');
      add(keyId, minted.certificatePem, opts.instanceIds);
      return minted;
    },
    add,
    revoke: (keyId) => keys.delete(keyId),
    lookup(keyId, instanceId) {
      const k = keys.get(keyId);
      return k && (!k.instanceIds || k.instanceIds.has(instanceId)) ? k.publicKey : undefined;
    },
  };
}

/**
 * A self-signed RSA-2048 AAP certificate and its key in a PKCS#12 with a 3DES-shrouded key bag and
 * a SHA-1 MAC, like the console's (whose certificate bag is also RC2-40 encrypted; forge writes it
 * unencrypted, which every reader accepts). Validity is relative to the clock, back-dated a day.
 */
async function mintClientKey(keyId: string, commonName: string): Promise<MintedClientKey> {
  const { privateKey: keyPem } = await generateKeyPairAsync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 3650 * DAY_MS);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(key, forge.md.sha256.create());
  const password = randomBytes(18).toString('base64url');
  const p12 = forge.pkcs12.toPkcs12Asn1(key, [cert], password, { algorithm: '3des', count: 2048, generateLocalKeyId: true });
  const privateKeyData = forge.util.encode64(forge.asn1.toDer(p12).getBytes());
  return { keyId, clientKeyJson: JSON.stringify({ KeyId: keyId, PrivateKeyData: privateKeyData }), password, certificatePem: forge.pki.certificateToPem(cert) };
}
