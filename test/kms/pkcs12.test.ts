/**
 * kms/pkcs12.ts: the ClientKey's PKCS#12 opened with Node's crypto alone. The Java SDK's console-
 * format vector (RC2-40 certificate bag, 3DES key bag) is in instance.test.ts; here files written
 * by another implementation (node-forge, test-only) with each key-bag cipher a console might use.
 */
import test from 'ava';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { Pkcs12Error, pkcs12Kdf, privateKeyFromPfx } from '../../src/kms/pkcs12';

const { privateKey: pem } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;

function pfx(password: string, algorithm: '3des' | 'aes128' | 'aes256', withCert = true): Buffer {
  const certs: forge.pki.Certificate[] = [];
  if (withCert) {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(0);
    cert.validity.notAfter = new Date(0);
    cert.setSubject([{ name: 'commonName', value: 'aap' }]);
    cert.setIssuer([{ name: 'commonName', value: 'aap' }]);
    cert.sign(forgeKey, forge.md.sha256.create());
    certs.push(cert);
  }
  return Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(forgeKey, certs, password, { algorithm, count: 2048 })).getBytes(), 'binary');
}
const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'pem' });

for (const algorithm of ['3des', 'aes128', 'aes256'] as const) {
  test(`a ${algorithm} shrouded key bag opens to the same RSA key`, (t) => {
    // ASCII: for PBES2 forge takes the password as Latin-1 bytes where OpenSSL (and RFC 8018) use UTF-8.
    const password = algorithm === '3des' ? 'pässwörd 1' : 'password 1';
    const key = privateKeyFromPfx(pfx(password, algorithm), password);
    t.is(key.asymmetricKeyType, 'rsa');
    t.is(spki(key), spki(pem));
  });
}

test('a wrong password fails the MAC check; a damaged file is malformed', (t) => {
  const der = pfx('right', '3des');
  t.is(t.throws(() => privateKeyFromPfx(der, 'wrong'), { instanceOf: Pkcs12Error })!.kind, 'wrong-password');
  t.is(t.throws(() => privateKeyFromPfx(der.subarray(0, der.length - 40), 'right'), { instanceOf: Pkcs12Error })!.kind, 'malformed');
  t.is(t.throws(() => privateKeyFromPfx(Buffer.from('not der'), 'right'), { instanceOf: Pkcs12Error })!.kind, 'malformed');
});

test('the RFC 7292 B.2 KDF agrees with node-forge for MAC keys', (t) => {
  const salt = Buffer.from('0123456789abcdef', 'hex');
  for (const [password, iterations] of [['', 1], ['1234', 2048], ['a longer password than one 64-byte block, to wrap the fill........', 3]] as const) {
    const ours = pkcs12Kdf('sha1', 20, 64, 3, Buffer.from(password + '\0', 'utf16le').swap16(), salt, iterations, 20);
    const theirs = Buffer.from(forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), 3, iterations, 20).getBytes(), 'binary');
    t.deepEqual(ours, theirs, `password of ${password.length} chars, ${iterations} iterations`);
  }
});
