/** The caller gate: one identity per call, and the policy judged on the name KMS will resolve. */
import test from 'ava';
import { Metadata } from '@grpc/grpc-js';
import { CallerGate, policyName, type GateCall } from '../../src/auth/gate';
import { parsePolicy } from '../../src/auth/policy';
import { UnauthenticatedError } from '../../src/errors';

const policy = parsePolicy(`rules:
  - identities: ["system:serviceaccount:team:*"]
    secrets: ["*/db-readonly"]
`);
const gate = new CallerGate({
  acceptCertificates: true,
  requireCertificate: false,
  tokens: { verifyToken: async (t) => ({ identity: `system:serviceaccount:team:${t}` }) },
  policy: { current: policy },
});
const call = (token?: string, cert?: Record<string, unknown>): GateCall => {
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return { metadata, getPeer: () => '10.0.0.1:5000', getAuthContext: () => (cert ? { transportSecurityType: 'ssl', sslPeerCertificate: cert as never } : {}) };
};

test('an ARN is judged by its name: "*/db-readonly" does not grant the top-level db-readonly through its ARN', async (t) => {
  const caller = await gate.authenticate(call('api'));
  t.true(gate.allowed(caller, { name: 'payments/db-readonly' }));
  t.false(gate.allowed(caller, { name: 'db-readonly' }));
  t.false(gate.allowed(caller, { name: 'acs:kms:cn-hangzhou:1234567890123456:secret/db-readonly' }), 'the ARN of the top-level secret');
  t.true(gate.allowed(caller, { name: 'acs:kms:cn-hangzhou:1234567890123456:secret/payments/db-readonly' }));
  t.is(policyName('acs:kms:cn-hangzhou:1:secret/a/b'), 'a/b');
  t.is(policyName('a/b'), 'a/b');
});

test('certificate identities cannot pose as service accounts or SPIFFE IDs; both kinds at once are refused', async (t) => {
  const cn = (CN: string) => ({ subject: { CN }, subjectaltname: undefined, raw: Buffer.from('x') });
  for (const bad of ['system:serviceaccount:team:api', 'SYSTEM:serviceaccount:team:api', 'spiffe://cluster.local/ns/team/sa/api', 'a/b']) {
    await t.throwsAsync(gate.authenticate(call(undefined, cn(bad))), { instanceOf: UnauthenticatedError }, bad);
  }
  t.like(await gate.authenticate(call(undefined, cn('reporting'))), { identity: 'reporting', via: 'x509' });
  await t.throwsAsync(gate.authenticate(call('api', cn('reporting'))), { instanceOf: UnauthenticatedError, message: /both/ });
  t.like(await gate.authenticate(call(undefined, { subject: {}, subjectaltname: 'URI:spiffe://cluster.local/ns/team/sa/api', raw: Buffer.from('x') })), { identity: 'spiffe://cluster.local/ns/team/sa/api' }, 'a SPIFFE ID from a URI SAN is fine');
  await t.throwsAsync(gate.authenticate(call()), { instanceOf: UnauthenticatedError, message: /no credentials/ });
});

test('a certificate is judged once per fingerprint, but the caller is per call: two connections, two certificates, never confused', async (t) => {
  const g = new CallerGate({ acceptCertificates: true, requireCertificate: false, policy: { current: policy } });
  const certA = { subject: {}, subjectaltname: 'URI:spiffe://cluster.local/ns/a/sa/api', raw: Buffer.from('a'), fingerprint256: 'AA:01', valid_to: 'Jan  1 00:00:00 2100 GMT' };
  const certB = { subject: {}, subjectaltname: 'DNS:b.internal', raw: Buffer.from('b'), fingerprint256: 'BB:02' };
  const bad = { subject: { CN: 'system:serviceaccount:team:api' }, raw: Buffer.from('c'), fingerprint256: 'CC:03' };
  const on = (peer: string, cert: Record<string, unknown>): GateCall => ({ ...call(undefined, cert), getPeer: () => peer });
  for (let round = 0; round < 3; round++) {
    const a = g.identify(on('10.0.0.1:1', certA));
    const b = g.identify(on('10.0.0.2:2', certB));
    const a2 = g.identify(on('10.0.0.3:3', certA)); // the same certificate on another connection
    t.like(a, { identity: 'spiffe://cluster.local/ns/a/sa/api', via: 'x509', peer: '10.0.0.1:1', expiresAtMs: Date.parse(certA.valid_to) });
    t.like(b, { identity: 'b.internal', via: 'x509', peer: '10.0.0.2:2' });
    t.false('expiresAtMs' in (b as object), 'no notAfter, no expiry: not borrowed from another certificate');
    t.like(a2, { identity: 'spiffe://cluster.local/ns/a/sa/api', peer: '10.0.0.3:3' });
    t.throws(() => g.identify(on('10.0.0.4:4', bad)), { instanceOf: UnauthenticatedError, message: /system:/ }, 'a refused certificate stays refused');
  }
  await t.throwsAsync(g.authenticate(on('10.0.0.4:4', bad)), { instanceOf: UnauthenticatedError }, 'authenticate rejects what identify throws');
});

test('over real mTLS connections a certificate is read once per connection, and two connections keep their own callers', async (t) => {
  const grpc = await import('@grpc/grpc-js');
  const { createTlsMaterial, issueClientCertAsync } = await import('@secrets-gateway/kms-emulator/tls');
  const { ca, server } = await createTlsMaterial({});
  const ids = ['spiffe://cluster.local/ns/a/sa/one', 'spiffe://cluster.local/ns/b/sa/two'];
  const clients = await Promise.all(ids.map((uri) => issueClientCertAsync(ca, { uris: [uri] })));
  const g = new CallerGate({ acceptCertificates: true, requireCertificate: true, policy: { current: policy } });
  const seen: string[] = [];
  const srv = new grpc.Server();
  const echo = { path: '/t.T/Who', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  srv.addService({ Who: echo } as never, {
    Who: (call: GateCall, cb: (e: null, r: Buffer) => void) => {
      const c = g.identify(call) as { identity: string };
      seen.push(c.identity);
      cb(null, Buffer.from(c.identity));
    },
  } as never);
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(server.certPem), private_key: Buffer.from(server.keyPem) }], true);
  const port = await new Promise<number>((resolve, reject) => srv.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => srv.forceShutdown());
  const Client = grpc.makeGenericClientConstructor({ Who: echo } as never, 'T');
  const conns = clients.map((c) => new Client(`localhost:${port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(c.keyPem), Buffer.from(c.certPem))) as unknown as { Who(r: Buffer, cb: (e: Error | null, r?: Buffer) => void): void; close(): void });
  t.teardown(() => conns.forEach((c) => c.close()));
  const who = (i: number) => new Promise<string>((resolve, reject) => conns[i]!.Who(Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r!.toString()))));
  for (let round = 0; round < 3; round++) t.deepEqual([await who(0), await who(1)], ids);
  t.is(seen.length, 6);
  t.is(g.certificateReuses, 4, 'each connection read its certificate on its first call only (grpc-js internals still reach the socket)');
});
