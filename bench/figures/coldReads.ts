/**
 * Figure (e): `reads` GetSecret calls at once for a secret no replica holds yet, spread over the
 * replicas; the emulator counts the GetSecretValue calls they cost. Through one shared Redis the
 * cluster single-flight makes it one; through per-process caches (the official clients' model)
 * it is one per process.
 */
import { GetSecretRequest } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import type { GatewayProcess } from '../../test/helpers/gatewayProcess';
import { runUnary } from '../loadgen';
import type { BenchKms } from '../material';

export interface ColdReads {
  replicas: number;
  reads: number;
  answered: number;
  errors: number;
  errorSample: string;
  kmsCalls: number;
}

export const getRequest = (name: string) => GetSecretRequest.encode(GetSecretRequest.fromPartial({ name })).finish();

export async function coldReads(kms: BenchKms, replicas: GatewayProcess[], name: string, reads: number): Promise<ColdReads> {
  const before = kms.getSecretValueCalls();
  const r = await runUnary({ targets: replicas.map((g) => `127.0.0.1:${g.port}`), request: getRequest(name), conns: replicas.length * 2, inflight: reads, requests: reads });
  return { replicas: replicas.length, reads, answered: r.count, errors: r.errors, errorSample: r.errorSample, kmsCalls: kms.getSecretValueCalls() - before };
}
