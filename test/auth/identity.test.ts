import test from 'ava';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
import { identityFromCertificate, parseSubjectAltName } from '../../src/auth/identity';
import { createTlsMaterial, issueClientCertAsync, type ClientCertNames, type ServerCert, type TestCa } from '@secrets-gateway/kms-emulator/tls';
import { UnauthenticatedError } from '../../src/errors';

/** A PeerCertificate-shaped object with just the fields identity.ts reads. */
const cert = (fields: { subjectaltname?: string; CN?: string | string[] }): PeerCertificate =>
  ({ subject: fields.CN === undefined ? {} : { CN: fields.CN }, subjectaltname: fields.subjectaltname, raw: Buffer.from('x') }) as unknown as PeerCertificate;

test('parseSubjectAltName reads Node’s format, plain and JSON-quoted values', (t) => {
  t.deepEqual(parseSubjectAltName('DNS:a.example, URI:spiffe://td/x, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'), [
    { type: 'DNS', value: 'a.example' },
    { type: 'URI', value: 'spiffe://td/x' },
    { type: 'IP Address', value: '127.0.0.1' },
    { type: 'IP Address', value: '0:0:0:0:0:0:0:1' },
  ]);
  t.deepEqual(parseSubjectAltName('URI:"spiffe://td/a,b", DNS:"x\\"y", email:a@b'), [
    { type: 'URI', value: 'spiffe://td/a,b' },
    { type: 'DNS', value: 'x"y' },
    { type: 'email', value: 'a@b' },
  ]);
  // A comma inside a quoted value cannot forge a second entry.
  t.deepEqual(parseSubjectAltName('DNS:"evil, URI:spiffe://td/admin"'), [{ type: 'DNS', value: 'evil, URI:spiffe://td/admin' }]);
  t.deepEqual(parseSubjectAltName('othername:XmppAddr:a@b'), [{ type: 'othername', value: 'XmppAddr:a@b' }]);
  for (const bad of ['DNS', 'URI:"unterminated', 'DNS:a,DNS:b', 'DNS:"a"x', 'DNS:"\\q"']) {
    t.throws(() => parseSubjectAltName(bad), { instanceOf: UnauthenticatedError }, bad);
  }
});

const cases: Array<{ name: string; cert: PeerCertificate | undefined; want?: string; throws?: RegExp }> = [
  { name: 'no certificate', cert: undefined, want: undefined },
  { name: 'Node’s {} for none presented', cert: {} as PeerCertificate, want: undefined },
  { name: 'SPIFFE wins over DNS and CN', cert: cert({ subjectaltname: 'DNS:api.payments, URI:spiffe://cluster.local/ns/payments/sa/api', CN: 'cn' }), want: 'spiffe://cluster.local/ns/payments/sa/api' },
  { name: 'first DNS SAN, lower-cased', cert: cert({ subjectaltname: 'IP Address:10.0.0.1, DNS:API.Payments.svc, DNS:b.example', CN: 'cn' }), want: 'api.payments.svc' },
  { name: 'a non-SPIFFE URI is ignored', cert: cert({ subjectaltname: 'URI:https://x.example/, DNS:d.example' }), want: 'd.example' },
  { name: 'CN only', cert: cert({ CN: 'legacy-client' }), want: 'legacy-client' },
  { name: 'no usable name', cert: cert({ subjectaltname: 'IP Address:10.0.0.1' }), want: undefined },
  { name: 'two SPIFFE IDs', cert: cert({ subjectaltname: 'URI:spiffe://td/a, URI:spiffe://td/b' }), throws: /more than one SPIFFE ID/ },
  { name: 'upper-case trust domain', cert: cert({ subjectaltname: 'URI:spiffe://TD/a' }), throws: /invalid SPIFFE ID/ },
  { name: 'dot segment', cert: cert({ subjectaltname: 'URI:spiffe://td/a/../b' }), throws: /invalid SPIFFE ID/ },
  { name: 'trailing slash', cert: cert({ subjectaltname: 'URI:spiffe://td/a/' }), throws: /invalid SPIFFE ID/ },
  { name: 'query', cert: cert({ subjectaltname: 'URI:spiffe://td/a?x=1' }), throws: /invalid SPIFFE ID/ },
  { name: 'comma (quoted by Node)', cert: cert({ subjectaltname: 'URI:"spiffe://td/a,b"' }), throws: /invalid SPIFFE ID/ },
  { name: 'two CNs', cert: cert({ CN: ['a', 'b'] }), throws: /more than one subject CN/ },
  { name: 'forged entry inside a quoted DNS name', cert: cert({ subjectaltname: 'DNS:"evil, URI:spiffe://td/admin"' }), throws: /invalid DNS name/ },
  { name: 'wildcard DNS name', cert: cert({ subjectaltname: 'DNS:*.example.com' }), throws: /invalid DNS name/ },
];
for (const c of cases) {
  test(`identityFromCertificate: ${c.name}`, (t) => {
    if (c.throws) t.throws(() => identityFromCertificate(c.cert), { instanceOf: UnauthenticatedError, message: c.throws });
    else t.is(identityFromCertificate(c.cert), c.want);
  });
}

/** The client certificate as a real TLS server sees it after a loopback handshake. */
async function peerCertificateOf(ca: TestCa, server: ServerCert, client: ServerCert): Promise<{ cert: PeerCertificate; authorized: boolean }> {
  const srv = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false });
  const seen = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const sock = tls.connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: 'localhost', ca: [ca.certPem], key: client.keyPem, cert: client.certPem });
  try {
    const [s] = await seen;
    const out = { cert: s.getPeerCertificate(), authorized: s.authorized };
    s.destroy();
    return out;
  } finally {
    sock.destroy();
    srv.close();
  }
}

test('identities from real client certificates over a loopback TLS handshake', async (t) => {
  const { ca, server } = await createTlsMaterial({});
  const kinds: Array<[ClientCertNames, string | RegExp]> = [
    [{ uris: ['spiffe://cluster.local/ns/payments/sa/api'], dnsNames: ['api.payments.svc'] }, 'spiffe://cluster.local/ns/payments/sa/api'],
    [{ dnsNames: ['Worker.Batch.svc', 'other.example'], commonName: 'ignored' }, 'worker.batch.svc'],
    [{ commonName: 'legacy-client' }, 'legacy-client'],
    [{ uris: ['spiffe://td/a', 'spiffe://td/b'] }, /more than one SPIFFE ID/],
    [{ uris: ['spiffe://td/a,URI:spiffe://td/admin'] }, /invalid SPIFFE ID/],
  ];
  const certs = await Promise.all(kinds.map(([names]) => issueClientCertAsync(ca, names)));
  for (const [i, [names, want]] of kinds.entries()) {
    const { cert: peer, authorized } = await peerCertificateOf(ca, server, certs[i]!);
    t.true(authorized, JSON.stringify(names));
    if (typeof want === 'string') t.is(identityFromCertificate(peer), want, JSON.stringify(names));
    else t.throws(() => identityFromCertificate(peer), { instanceOf: UnauthenticatedError, message: want }, JSON.stringify(names));
  }
});

test('an expired client certificate does not verify (the TLS layer rejects it before identity)', async (t) => {
  const { ca, server } = await createTlsMaterial({});
  const expired = await issueClientCertAsync(ca, { uris: ['spiffe://td/old'], expired: true });
  const { authorized } = await peerCertificateOf(ca, server, expired);
  t.false(authorized);
});
