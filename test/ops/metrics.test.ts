/**
 * /metrics, scripted: a dev gateway (the real KMS pool against the emulator) serves a known
 * sequence of calls and the Prometheus text it exposes must show exactly those counts.
 */
import test from 'ava';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { GetSecretRequest, WatchSecretRequest, type GetSecretResponse, type WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { rotate, startDevGateway, TEXT } from '../helpers/conformance';
import { gatewayClient } from '../helpers/grpc';
import { metricValue, scrape } from '../helpers/admin';

const ENV = { SECRETS_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0' };

test('N concurrent reads of a cold secret: one KMS call, N-1 coalesced reads, N answers from KMS, then LOCAL_CACHE', async (t) => {
  const N = 8;
  const dev = await startDevGateway(t, ENV);
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());
  // The one KMS call takes long enough that every read arrives while it is in flight.
  for (const r of Object.keys(dev.emulator.regions)) dev.emulator.faults.set(r, { latencyMs: 1500, actions: ['GetSecretValue'] });
  const get = () => new Promise<GetSecretResponse>((resolve, reject) => client.getSecret(GetSecretRequest.fromPartial({ name: TEXT }), (e, r) => (e ? reject(e) : resolve(r!))));
  await Promise.all(Array.from({ length: N }, get));
  dev.emulator.faults.clear();
  await get();

  const text = await scrape(dev.gateway.adminPort);
  t.is(metricValue(text, 'secretsgateway_kms_attempts_total', { kms_outcome: 'OK', kms_action: 'GetSecretValue' }), 1);
  t.is(metricValue(text, 'secretsgateway_kms_attempts_total'), 1, 'no failed attempt either');
  t.is(metricValue(text, 'secretsgateway_cache_coalesced_reads_total'), N - 1);
  t.is(metricValue(text, 'secretsgateway_cache_answers_total', { source: 'KMS' }), N);
  t.is(metricValue(text, 'secretsgateway_cache_answers_total', { source: 'LOCAL_CACHE' }), 1);
  t.is(metricValue(text, 'secretsgateway_cache_answers_total', { source: 'STALE' }), 0);
  // The fill's answer is encoded once: the N-1 coalesced reads and the L1 hit send those bytes.
  t.is(metricValue(text, 'secretsgateway_rpc_preencoded_answers_total'), N);
  t.is(metricValue(text, 'secretsgateway_authz_decisions_total', { decision: 'allow', reason: 'ok' }), N + 1);
  t.is(metricValue(text, 'secretsgateway_rpc_requests_total', { rpc_method: 'GetSecret', rpc_grpc_status_code: '0' }), N + 1);
  for (const target of Object.values(dev.emulator.regions)) t.is(metricValue(text, 'secretsgateway_kms_breaker_state', { kms_target: `${target.regionId}/${target.endpoint}` }), 0);
  t.is(metricValue(text, 'secretsgateway_ready'), 1);
  t.false(text.includes('value-of') || text.includes('demo/'), 'no secret name or value in any label');
});

test('a watch sees one rotation: one stream open, one push latency observation, then zero streams', async (t) => {
  const dev = await startDevGateway(t, ENV);
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());
  const stream: ClientReadableStream<WatchSecretResponse> = client.watchSecret(WatchSecretRequest.fromPartial({ name: TEXT }));
  const secrets: string[] = [];
  const rotated = new Promise<void>((resolve, reject) => {
    stream.on('data', (m: WatchSecretResponse) => {
      if (!m.secret) return;
      secrets.push(m.secret.versionId);
      if (secrets.length === 1) void rotate(dev, TEXT).catch(reject);
      if (secrets.length === 2) resolve();
    });
    stream.on('error', (e: { code?: number }) => (e.code === 1 ? undefined : reject(e)));
  });
  await rotated;
  let text = await scrape(dev.gateway.adminPort);
  t.is(metricValue(text, 'secretsgateway_watch_streams'), 1);
  t.is(metricValue(text, 'secretsgateway_watch_push_latency_count'), 1);
  t.is(metricValue(text, 'secretsgateway_watch_rotations_detected_total'), 1);
  t.is(metricValue(text, 'secretsgateway_watch_polling_keys', { mode: 'leased' }), 1);
  stream.cancel();
  for (let i = 0; i < 100 && metricValue(text, 'secretsgateway_watch_streams') !== 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    text = await scrape(dev.gateway.adminPort);
  }
  t.is(metricValue(text, 'secretsgateway_watch_streams'), 0);
});
