/**
 * Traces and metrics: a SERVER span per RPC with the status code the client saw, request, cache and
 * KMS metrics with bounded labels, and nothing secret in any of them. Then the real OTLP/HTTP
 * export, to a loopback "collector".
 */
import { createServer } from 'node:http';
import { Metadata, status } from '@grpc/grpc-js';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import test from 'ava';
import { startTelemetry } from '../../src/telemetry/otel';
import { startDevGateway, TEXT } from '../helpers/conformance';
import { gatewayClient } from '../helpers/grpc';
import { silentLogger } from '../../src/telemetry/logger';
import type { SecretsGatewayServiceClient as GatewayClientish } from '../../src/gen/secretsgateway/v1/secrets_gateway';

const VALUES = ['s3cr3t-passw0rd', 'old-passw0rd', 'dev-secret-not-for-production'];

async function exercise(client: GatewayClientish) {
  const get = (name: string) =>
    new Promise<number>((resolve) =>
      client.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new Metadata(), (e) => resolve(e?.code ?? status.OK)),
    );
  const codes = [await get(TEXT), await get(TEXT), await get('demo/nope'), await get('bad name!')];
  const stream = client.watchSecret({ name: TEXT, versionStage: '', regionId: '', lastVersionId: '' }, new Metadata());
  await new Promise((resolve) => stream.once('data', resolve));
  stream.on('error', () => undefined);
  stream.cancel();
  await new Promise((r) => setTimeout(r, 100));
  return codes;
}

test('spans and metrics record each RPC with its status, cache source and KMS outcome, and hold no secret', async (t) => {
  const spans = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const telemetry = startTelemetry({ spanProcessor: new SimpleSpanProcessor(spans), metricReader: reader });
  const dev = await startDevGateway(t, {}, silentLogger, { telemetry });
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());

  t.deepEqual(await exercise(client), [status.OK, status.OK, status.NOT_FOUND, status.INVALID_ARGUMENT]);
  await reader.forceFlush();

  const finished = spans.getFinishedSpans();
  const gets = finished.filter((s) => s.name === 'secretsgateway.v1.SecretsGatewayService/GetSecret');
  t.deepEqual(gets.map((s) => s.attributes['rpc.grpc.status_code']), [status.OK, status.OK, status.NOT_FOUND, status.INVALID_ARGUMENT]);
  t.deepEqual(gets.map((s) => s.attributes['secretsgateway.cache.source']), ['KMS', 'LOCAL_CACHE', undefined, undefined]);
  t.is(gets[0]!.attributes['secretsgateway.secret.name'], TEXT);
  t.is(gets[3]!.attributes['secretsgateway.secret.name'], undefined, 'an invalid name (caller input) is not recorded');
  const watch = finished.find((s) => s.name.endsWith('/WatchSecret'));
  t.is(watch?.attributes['rpc.grpc.status_code'], status.CANCELLED);

  const points = (name: string) =>
    metricExporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.flatMap((sm) => sm.metrics)
      .filter((m) => m.descriptor.name === name)
      .flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]);
  const requests = points('secretsgateway.rpc.requests').map((p) => [p.attributes['rpc.method'], p.attributes['rpc.grpc.status_code'], p.value]);
  t.deepEqual(requests.sort(), [['GetSecret', 0, 2], ['GetSecret', 3, 1], ['GetSecret', 5, 1], ['WatchSecret', 1, 1]].sort() as unknown[]);
  t.deepEqual(points('secretsgateway.cache.answers').map((p) => [p.attributes.source, p.value]).sort(), [['KMS', 1], ['LOCAL_CACHE', 1]]);
  const kms = points('secretsgateway.kms.attempts').map((p) => [p.attributes['kms.outcome'], p.value]).sort();
  t.deepEqual(kms, [['Forbidden.ResourceNotFound', 1], ['OK', 1]]);
  t.deepEqual(points('secretsgateway.watch.streams').map((p) => p.value), [0], 'the stream count returns to 0');

  const everything = JSON.stringify({ spans: finished.map((s) => ({ n: s.name, a: s.attributes, st: s.status, ev: s.events })), metrics: metricExporter.getMetrics() });
  for (const v of VALUES) t.false(everything.includes(v), `telemetry holds ${v.slice(0, 4)}…`);
  for (const p of ['secretsgateway.rpc.requests', 'secretsgateway.cache.answers', 'secretsgateway.kms.attempts']) {
    for (const d of points(p)) t.false(JSON.stringify(d.attributes).includes('demo/'), `no secret name in ${p} labels`);
  }
});

test('SECRETS_GATEWAY_OTLP_ENDPOINT exports traces and metrics over OTLP/HTTP, flushed at shutdown', async (t) => {
  const received: { path: string; body: Buffer }[] = [];
  const collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  t.teardown(() => collector.close());
  const port = (collector.address() as { port: number }).port;
  const dev = await startDevGateway(t, { SECRETS_GATEWAY_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  const client = gatewayClient(dev.gateway.port);
  await exercise(client);
  client.close();
  await dev.close();

  const traces = received.filter((r) => r.path === '/v1/traces');
  const metrics = received.filter((r) => r.path === '/v1/metrics');
  t.true(traces.length > 0 && metrics.length > 0, JSON.stringify(received.map((r) => r.path)));
  const all = Buffer.concat(received.map((r) => r.body)).toString('latin1');
  t.true(all.includes('secretsgateway.v1.SecretsGatewayService/GetSecret'));
  t.true(all.includes('secretsgateway.rpc.requests'));
  for (const v of VALUES) t.false(all.includes(v), `export holds ${v.slice(0, 4)}…`);
});

test('a client traceparent makes the server span part of the client trace', async (t) => {
  const spans = new InMemorySpanExporter();
  const telemetry = startTelemetry({ spanProcessor: new SimpleSpanProcessor(spans) });
  const dev = await startDevGateway(t, {}, silentLogger, { telemetry });
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentId = '00f067aa0ba902b7';
  const md = new Metadata();
  md.set('traceparent', `00-${traceId}-${parentId}-01`);
  await new Promise((resolve) => client.getSecret({ name: TEXT, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, md, resolve));
  const span = spans.getFinishedSpans().find((s) => s.name.endsWith('/GetSecret'))!;
  t.is(span.spanContext().traceId, traceId);
  t.is(span.parentSpanContext?.spanId, parentId);
});
