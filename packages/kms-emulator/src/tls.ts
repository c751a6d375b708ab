/**
 * A private CA and server certificates for the emulator's HTTPS endpoints, like the CA a dedicated
 * KMS instance hands out. RSA keys come from Node's crypto (fast, native); node-forge builds and
 * signs the X.509 certificates. Exported for other tests that need a loopback TLS server.
 */
import { generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface TestCa {
  certPem: string;
  keyPem: string;
}

export interface ServerCert {
  certPem: string;
  keyPem: string;
}

export interface CertNames {
  /** Added to `localhost`. */
  dnsNames?: string[];
  /** Added to `127.0.0.1` and `::1`. */
  ipAddresses?: string[];
  /** @default 'localhost' */
  commonName?: string;
}

const DAY_MS = 86_400_000;

const KEY_OPTIONS = { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;
const generateKeyPairAsync = promisify(generateKeyPair);

const rsaKeyPemSync = (): string => generateKeyPairSync('rsa', KEY_OPTIONS).privateKey;
/** Off the event loop (libuv pool): two keys generate in parallel on two cores. */
const rsaKeyPemAsync = async (): Promise<string> => (await generateKeyPairAsync('rsa', KEY_OPTIONS)).privateKey;

function forgeKeys(keyPem: string): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), keyPem };
}

function newCert(publicKey: forge.pki.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: a leading 0x01 byte keeps the DER integer's sign bit clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  // Back-dated a day so a slightly slow client clock still accepts it.
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + validDays * DAY_MS);
  return cert;
}

/** Generates a self-signed CA (RSA 2048, SHA-256, 10 years). */
export function createTestCa(commonName?: string): TestCa {
  return buildCa(rsaKeyPemSync(), commonName);
}

/** `createTestCa` without blocking the event loop while the key generates. */
export async function createTestCaAsync(commonName?: string): Promise<TestCa> {
  return buildCa(await rsaKeyPemAsync(), commonName);
}

function buildCa(caKeyPem: string, commonName = 'secrets-gateway KMS emulator test CA'): TestCa {
  const { privateKey, publicKey, keyPem } = forgeKeys(caKeyPem);
  const cert = newCert(publicKey, 3650);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'secrets-gateway' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Checks that the PEM pair is a CA certificate and its key (e.g. read back from files). */
export function loadCa(certPem: string, keyPem: string): TestCa {
  const cert = forge.pki.certificateFromPem(certPem);
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const pub = cert.publicKey as forge.pki.rsa.PublicKey;
  if (pub.n.compareTo(key.n) !== 0) throw new Error('the CA key does not match the CA certificate');
  return { certPem, keyPem };
}

/** Issues a server certificate signed by `ca`, SAN IP:127.0.0.1, IP:::1, DNS:localhost plus `names`. */
export function issueServerCert(ca: TestCa, names: CertNames = {}): ServerCert {
  return buildServerCert(ca, rsaKeyPemSync(), names);
}

/** `issueServerCert` without blocking the event loop while the key generates. */
export async function issueServerCertAsync(ca: TestCa, names: CertNames = {}): Promise<ServerCert> {
  return buildServerCert(ca, await rsaKeyPemAsync(), names);
}

function buildServerCert(ca: TestCa, serverKeyPem: string, names: CertNames): ServerCert {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
  const { publicKey, keyPem } = forgeKeys(serverKeyPem);
  const cert = newCert(publicKey, 825);
  cert.setSubject([{ name: 'commonName', value: names.commonName ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  const dns = ['localhost', ...(names.dnsNames ?? [])];
  const ips = ['127.0.0.1', '::1', ...(names.ipAddresses ?? [])];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A CA (given, or generated) plus a server certificate from it, generating both keys in parallel. */
export async function createTlsMaterial(names: CertNames, ca?: TestCa): Promise<{ ca: TestCa; server: ServerCert }> {
  const [caKeyPem, serverKeyPem] = await Promise.all([ca ? undefined : rsaKeyPemAsync(), rsaKeyPemAsync()]);
  const theCa = ca ?? buildCa(caKeyPem!);
  return { ca: theCa, server: buildServerCert(theCa, serverKeyPem, names) };
}

export interface ClientCertNames {
  /** Subject CN; omitted: an empty subject (as SPIFFE X509-SVIDs usually have). */
  commonName?: string;
  /** DNS SANs, in order. */
  dnsNames?: string[];
  /** URI SANs, in order (e.g. a SPIFFE ID). */
  uris?: string[];
  /** Valid from two days ago until yesterday, for "expired certificate" tests. */
  expired?: boolean;
}

/**
 * Issues a client certificate (extKeyUsage clientAuth) signed by `ca`, with exactly the names
 * given: the auth tests' SPIFFE, DNS-SAN, CN-only and expired certificates.
 */
export async function issueClientCertAsync(ca: TestCa, names: ClientCertNames): Promise<ServerCert> {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
  const { publicKey, keyPem } = forgeKeys(await rsaKeyPemAsync());
  const cert = newCert(publicKey, 30);
  if (names.expired) {
    cert.validity.notBefore = new Date(Date.now() - 2 * DAY_MS);
    cert.validity.notAfter = new Date(Date.now() - DAY_MS);
  }
  cert.setSubject(names.commonName === undefined ? [] : [{ name: 'commonName', value: names.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [...(names.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(names.uris ?? []).map((value) => ({ type: 6, value }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
    // RFC 5280: with an empty subject the SAN extension is critical.
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames, critical: names.commonName === undefined }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
