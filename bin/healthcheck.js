#!/usr/bin/env node
'use strict';
// The image's HEALTHCHECK: one grpc.health.v1 Check of the whole server on this container's
// loopback, with node's own http2 client (nothing downloaded, no module from the app). The same
// check as k8s/base's exec probes: over TLS when SECRETS_GATEWAY_TLS_CERT_FILE is set (no
// verification: it talks to its own loopback; no client certificate: health needs none), else
// plaintext. `ready` (default) passes on SERVING only; `live` on any answer.
//   node bin/healthcheck.js [ready|live]
const http2 = require('node:http2');

const mode = process.argv[2] || 'ready';
const port = (process.env.SECRETS_GATEWAY_LISTEN || '').split(':').pop() || '50051';
const tls = !!process.env.SECRETS_GATEWAY_TLS_CERT_FILE;
const done = (ok, why) => {
  if (!ok) console.error('health check:', why);
  process.exit(ok ? 0 : 1);
};
setTimeout(() => done(false, 'no answer within 3 s'), 3000);
const session = http2.connect(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`, tls ? { rejectUnauthorized: false, servername: 'localhost' } : {});
session.on('error', (e) => done(false, e.code || e.message));
const call = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
let body = Buffer.alloc(0);
call.on('data', (chunk) => {
  body = Buffer.concat([body, chunk]);
});
const onStatus = (h) => {
  if (h['grpc-status'] === undefined) return; // response headers; the status comes in the trailers
  if (h['grpc-status'] !== '0') return done(false, `grpc-status ${h['grpc-status']} ${h['grpc-message'] || ''}`);
  // One length-prefixed HealthCheckResponse: 5-byte gRPC prefix, then field 1 (status) = 1 SERVING.
  const status = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][body[5] === 8 ? body[6] : 0];
  done(status === 'SERVING' || mode !== 'ready', status);
};
call.on('response', onStatus);
call.on('trailers', onStatus);
call.on('error', (e) => setImmediate(done, false, e.code || e.message));
call.end(Buffer.alloc(5)); // one uncompressed, empty HealthCheckRequest (service "": the whole server)
