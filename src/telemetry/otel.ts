/**
 * OpenTelemetry traces and metrics, exported over OTLP/HTTP when an endpoint is configured, and
 * metrics also read by a Prometheus exporter (served on the admin port) when asked: one meter,
 * two readers, so /metrics and OTLP show the same instruments.
 * Providers are created here and handed out (never registered globally), so tests can inject
 * in-memory exporters and nothing leaks between gateways in one process. Without an endpoint the
 * API's no-op tracer and meter are used, which cost nearly nothing on the request path.
 */
import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Telemetry {
  tracer: Tracer;
  meter: Meter;
  /** Answers a scrape in Prometheus text format (set when `prometheus` was asked for). */
  metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Flushes and stops the exporters. Idempotent. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318; traces go to /v1/traces, metrics to /v1/metrics. */
  otlpEndpoint?: string;
  serviceName?: string;
  /** How often metrics go to OTLP; required with `otlpEndpoint` (setting SECRETS_GATEWAY_OTLP_METRICS_INTERVAL_MS). */
  metricIntervalMs?: number;
  /** Also read metrics for a Prometheus scrape (`metricsHandler`); the caller serves it. */
  prometheus?: boolean;
  /** Tests: where spans go instead of OTLP. */
  spanProcessor?: SpanProcessor;
  /** Tests: how metrics are read instead of OTLP. */
  metricReader?: MetricReader;
}

const SCOPE = 'secrets-gateway';

export function startTelemetry(o: TelemetryOptions = {}): Telemetry {
  const base = o.otlpEndpoint?.replace(/\/+$/, '');
  const spanProcessor = o.spanProcessor ?? (base ? new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` })) : undefined);
  const metricReader =
    o.metricReader ??
    (base ? new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: o.metricIntervalMs }) : undefined);
  // preventServerStart: the admin server (server/admin.ts) serves it beside /healthz and /readyz.
  const prometheus = o.prometheus ? new PrometheusExporter({ preventServerStart: true }) : undefined;
  const readers = [metricReader, prometheus].filter((r): r is MetricReader => !!r);
  if (!spanProcessor && readers.length === 0) {
    return { tracer: trace.getTracerProvider().getTracer(SCOPE), meter: metrics.getMeterProvider().getMeter(SCOPE), shutdown: async () => {} };
  }
  const resource = resourceFromAttributes({ 'service.name': o.serviceName ?? 'secrets-gateway' });
  const tracerProvider = spanProcessor ? new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] }) : undefined;
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;
  let stopping: Promise<void> | undefined;
  return {
    tracer: tracerProvider?.getTracer(SCOPE) ?? trace.getTracerProvider().getTracer(SCOPE),
    meter: meterProvider?.getMeter(SCOPE) ?? metrics.getMeterProvider().getMeter(SCOPE),
    ...(prometheus ? { metricsHandler: (req: IncomingMessage, res: ServerResponse) => prometheus.getMetricsRequestHandler(req, res) } : {}),
    shutdown: () => (stopping ??= Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown()]).then(() => undefined)),
  };
}
