/**
 * The one telemetry wrapper around the RPC handlers: a SERVER span per call (per stream for
 * WatchSecret) and the request metrics, with the status code the client saw. Spans carry the
 * method, status code, cache source and the secret *name*; never a value. Status messages are not
 * copied into spans: the code is enough, and details may quote caller input.
 */
import { status, type handleServerStreamingCall, type handleUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Metadata } from '@grpc/grpc-js';
import { Freshness_Source, type GetSecretRequest, type WatchSecretRequest, type WatchSecretResponse } from '../gen/secretsgateway/v1/secrets_gateway';
import { EncodedAnswer, type GetSecretAnswer } from './answerWire';
import type { GatewayInstruments } from '../telemetry/instruments';
import { SERVICE_NAME } from './server';

export interface ServerTelemetry {
  tracer: Tracer;
  instruments: GatewayInstruments;
}

/** W3C trace context from the call's metadata, so the span joins the client's trace. */
const propagator = new W3CTraceContextPropagator();
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (m) => Object.keys(m.getMap()),
  get: (m, key) => {
    const v = m.get(key);
    return v.length ? v.map(String) : undefined;
  },
};

/**
 * The secret name a handler has validated, per call. Spans carry only this: a name read straight
 * from the request (e.g. of a call refused before validation, during shutdown or for lack of
 * credentials) is arbitrary caller input.
 */
const VALIDATED_NAME = Symbol('secretsgateway.validatedName');
type Noted = { [VALIDATED_NAME]?: string };

/** A property on the call itself (a WeakMap entry per call cost more than the rest of a cached answer's bookkeeping). */
export function noteValidatedName(call: object, name: string): void {
  (call as Noted)[VALIDATED_NAME] = name;
}

const validatedName = (call: object): string | undefined => (call as Noted)[VALIDATED_NAME];

function begin(tel: ServerTelemetry, method: string, nameOf: () => string | undefined, metadata?: Metadata): { span: Span; end(code: number): void } {
  const parent = metadata ? propagator.extract(context.active(), metadata, metadataGetter) : context.active();
  const span = tel.tracer.startSpan(
    `${SERVICE_NAME}/${method}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': SERVICE_NAME, 'rpc.method': method } },
    parent,
  );
  const started = performance.now();
  let ended = false;
  return {
    span,
    end(code) {
      if (ended) return;
      ended = true;
      const name = nameOf();
      if (name) span.setAttribute('secretsgateway.secret.name', name);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: status[code] });
      tel.instruments.requests.add(1, { 'rpc.method': method, 'rpc.grpc.status_code': code });
      tel.instruments.duration.record(performance.now() - started, { 'rpc.method': method });
      span.end();
    },
  };
}

export function instrumentGetSecret(tel: ServerTelemetry, handler: handleUnaryCall<GetSecretRequest, GetSecretAnswer>): handleUnaryCall<GetSecretRequest, GetSecretAnswer> {
  return (call, callback) => {
    const t = begin(tel, 'GetSecret', () => validatedName(call), call.metadata);
    handler(call, (err, res, ...rest) => {
      const source = res instanceof EncodedAnswer ? res.source : res?.freshness ? Freshness_Source[res.freshness.source].replace('SOURCE_', '') : undefined;
      if (source) {
        t.span.setAttribute('secretsgateway.cache.source', source);
        tel.instruments.cacheAnswers.add(1, { source });
      }
      t.end(err ? ((err as Partial<ServiceError>).code ?? status.UNKNOWN) : status.OK);
      callback(err, res, ...rest);
    });
  };
}

export function instrumentWatchSecret(tel: ServerTelemetry, handler: handleServerStreamingCall<WatchSecretRequest, WatchSecretResponse>): handleServerStreamingCall<WatchSecretRequest, WatchSecretResponse> {
  return (call) => {
    const t = begin(tel, 'WatchSecret', () => validatedName(call), call.metadata);
    tel.instruments.watchStreams.add(1);
    let open = true;
    const end = (code: number) => {
      if (!open) return;
      open = false;
      tel.instruments.watchStreams.add(-1);
      t.end(code);
    };
    // grpc-js turns an emitted 'error' into the stream's status; listening does not change that.
    call.once('error', (e: Partial<ServiceError>) => end(e.code ?? status.UNKNOWN));
    call.once('finish', () => end(status.OK));
    call.once('cancelled', () => end(status.CANCELLED));
    handler(call);
  };
}
