/**
 * The comparison the Go generator has to win: the cheapest grpc-js client (bytes in, bytes out, no
 * (de)serialization), closed loop in this process. If it drives the baseline to fewer requests/s
 * than the Go generator does, the generator is not what limits the figures.
 */
import { credentials, makeGenericClientConstructor, type Client } from '@grpc/grpc-js';

const RAW = {
  getSecret: {
    path: '/secretsgateway.v1.SecretsGatewayService/GetSecret',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} as const;

type RawClient = Client & { getSecret(req: Buffer, cb: (e: Error | null) => void): void };

export async function grpcJsLoad(port: number, request: Uint8Array, o: { conns: number; inflight: number; durationMs: number }): Promise<{ rps: number; errors: number }> {
  const Ctor = makeGenericClientConstructor(RAW, 'Raw');
  // A local subchannel pool per client: one HTTP/2 connection each, as the Go generator opens.
  const clients = Array.from({ length: o.conns }, () => new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as RawClient);
  const req = Buffer.from(request);
  const call = (c: RawClient) => new Promise<boolean>((resolve) => c.getSecret(req, (e) => resolve(!e)));
  try {
    for (const c of clients) await call(c);
    let ok = 0;
    let errors = 0;
    const t0 = performance.now();
    const end = t0 + o.durationMs;
    await Promise.all(
      Array.from({ length: o.inflight }, async (_, i) => {
        while (performance.now() < end) {
          if (await call(clients[i % clients.length]!)) ok++;
          else errors++;
        }
      }),
    );
    return { rps: ok / ((performance.now() - t0) / 1000), errors };
  } finally {
    for (const c of clients) c.close();
  }
}
