/**
 * A real gRPC server with the real SecretsGatewayService (handlers + watch hub) on 127.0.0.1:0,
 * a real grpc-js client, and a watch-stream recorder. Everything is torn down with `t.teardown`.
 */
import type { ExecutionContext } from 'ava';
import type { ClientReadableStream, Metadata, Server, ServiceError } from '@grpc/grpc-js';
import type { SecretsGatewayServiceClient, WatchSecretRequest, WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { createSecretsGatewayService, type SecretsGatewayService, type SecretsGatewayServiceOptions } from '../../src/server/handlers/service';
import { RECOMMENDED_SERVER_OPTIONS } from '../../src/server/limits';
import { buildServer, createHealth } from '../../src/server/server';
import { createMemoryBus } from '../../src/watch/memoryBus';
import { createWatchHub, type WatchHub, type WatchHubOptions } from '../../src/watch/hub';
import type { SecretFeed } from '../../src/watch/reader';
import { gatewayClient } from './grpc';

export interface TestGateway {
  port: number;
  client: SecretsGatewayServiceClient;
  hub: WatchHub;
  service: SecretsGatewayService;
  server: Server;
}

export interface TestGatewayOptions {
  reader: SecretFeed;
  /** Hub options (a private in-memory bus unless `bus` is given). */
  hub?: Partial<WatchHubOptions>;
  service?: Partial<Omit<SecretsGatewayServiceOptions, 'reader' | 'watchHub'>>;
}

/** Short cadences so behaviour shows up in well under a second. */
export const FAST_HUB: Partial<WatchHubOptions> = { pollIntervalMs: 100, jitter: 0, rotationDelayMs: 20, leaseMs: 300, readTimeoutMs: 2000 };

export async function startTestGateway(t: ExecutionContext, o: TestGatewayOptions): Promise<TestGateway> {
  const hub = createWatchHub({ bus: createMemoryBus(), ...FAST_HUB, ...o.hub, reader: o.reader });
  const service = createSecretsGatewayService({ heartbeatMs: 100, ...o.service, reader: o.reader, watchHub: hub });
  const { server, port } = await buildServer({ host: '127.0.0.1', port: 0 }, service.impl, createHealth(), { channelOptions: { ...RECOMMENDED_SERVER_OPTIONS } });
  const client = gatewayClient(port);
  t.teardown(async () => {
    client.close();
    await service.endAllStreams();
    server.forceShutdown();
    await hub.close();
  });
  return { port, client, hub, service, server };
}

/** Records one WatchSecret stream: messages in order, and how it ended. */
export class WatchRecorder {
  readonly messages: WatchSecretResponse[] = [];
  error: ServiceError | undefined;
  ended = false;
  private taken = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly call: ClientReadableStream<WatchSecretResponse>) {
    call.on('data', (m: WatchSecretResponse) => {
      this.messages.push(m);
      this.wake();
    });
    call.on('error', (e: ServiceError) => {
      this.error = e;
      this.ended = true;
      this.wake();
    });
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Marks every message received so far as taken (the next `next()` returns a newer one). */
  skipReceived(): void {
    this.taken = this.messages.length;
  }

  /** The next message not yet taken by `next()`, within `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<WatchSecretResponse> {
    await this.until(() => this.messages.length > this.taken || this.ended, timeoutMs, 'a watch message');
    if (this.messages.length > this.taken) return this.messages[this.taken++]!;
    throw new Error(`stream ended (${this.error?.code}: ${this.error?.details}) while waiting for a message`);
  }

  /** The next Secret message (skipping heartbeats) whose version is `versionId` (any when omitted). */
  async nextSecret(versionId?: string, timeoutMs = 3000): Promise<WatchSecretResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m.secret && (versionId === undefined || m.secret.versionId === versionId)) return m;
    }
  }

  /** Waits for the stream to end with an error status; returns it. */
  async endStatus(timeoutMs = 3000): Promise<ServiceError> {
    await this.until(() => this.ended, timeoutMs, 'the stream to end');
    if (!this.error) throw new Error('stream ended without an error status');
    return this.error;
  }

  until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return false;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Opens a watch and records it; the stream is cancelled at teardown. */
export function openWatch(t: ExecutionContext, client: SecretsGatewayServiceClient, req: Partial<WatchSecretRequest>, metadata?: Metadata): WatchRecorder {
  const full: WatchSecretRequest = { name: '', versionStage: '', regionId: '', lastVersionId: '', ...req };
  const call = metadata ? client.watchSecret(full, metadata) : client.watchSecret(full);
  const rec = new WatchRecorder(call);
  t.teardown(() => call.cancel());
  return rec;
}

/** Polls `cond` every 10 ms until true, or fails after `timeoutMs`. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
