/**
 * OpenTelemetry traces and metrics, exported over OTLP/HTTP when an endpoint is configured.
 * Providers are created here and handed out (never registered globally), so tests can inject
 * in-memory exporters and nothing leaks between gateways in one process. Without an endpoint the
 * API's no-op tracer and meter are used, which cost nearly nothing on the request path.
 */
import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Telemetry {
  tracer: Tracer;
  meter: Meter;
  /** Flushes and stops the exporters. Idempotent. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318; traces go to /v1/traces, metrics to /v1/metrics. */
  otlpEndpoint?: string;
  serviceName?: string;
  metricIntervalMs?: number;
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
    (base ? new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: o.metricIntervalMs ?? 60_000 }) : undefined);
  if (!spanProcessor && !metricReader) {
    return { tracer: trace.getTracerProvider().getTracer(SCOPE), meter: metrics.getMeterProvider().getMeter(SCOPE), shutdown: async () => {} };
  }
  const resource = resourceFromAttributes({ 'service.name': o.serviceName ?? 'secrets-gateway' });
  const tracerProvider = spanProcessor ? new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] }) : undefined;
  const meterProvider = metricReader ? new MeterProvider({ resource, readers: [metricReader] }) : undefined;
  let stopping: Promise<void> | undefined;
  return {
    tracer: tracerProvider?.getTracer(SCOPE) ?? trace.getTracerProvider().getTracer(SCOPE),
    meter: meterProvider?.getMeter(SCOPE) ?? metrics.getMeterProvider().getMeter(SCOPE),
    shutdown: () => (stopping ??= Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown()]).then(() => undefined)),
  };
}
