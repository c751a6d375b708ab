/**
 * Figures (f) and (g): `streams` WatchSecret streams over the replicas (opened by the Go
 * generator over `conns` HTTP/2 connections, `openRate` a second), the replicas' RSS before and after they are open and
 * idle, then one rotation in the emulator: how many streams got it, the spread from the first
 * delivery to the last, and the GetSecretValue calls from the rotation to the last delivery.
 */
import { randomUUID } from 'node:crypto';
import { WatchSecretRequest } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import type { GatewayProcess } from '../../test/helpers/gatewayProcess';
import { startWatch } from '../loadgen';
import type { BenchKms } from '../material';
import { rssKiB } from '../proc';

export interface WatchFigure {
  streams: number;
  conns: number;
  /** streams opened per second (0: all at once) */
  openRate: number;
  opened: number;
  firstMessages: number;
  openErrors: number;
  openMs: number;
  errorSample: string;
  delivered: number;
  /** first delivery → last delivery */
  spreadMs?: number;
  /** rotation in the emulator → first / last delivery (includes the wait for the next poll) */
  rotationToFirstMs?: number;
  rotationToLastMs?: number;
  kmsCalls: number;
  rssBeforeKiB: number[];
  rssAfterKiB: number[];
  rssPerStreamKiB: number;
  loadgenRssKiB: number;
}

export async function watchFigure(kms: BenchKms, replicas: GatewayProcess[], name: string, o: { streams: number; conns: number; openRate: number }): Promise<WatchFigure> {
  const versionId = `rot-${randomUUID().slice(0, 8)}`;
  const rssBeforeKiB = replicas.map((g) => rssKiB(g.pid));
  const request = WatchSecretRequest.encode(WatchSecretRequest.fromPartial({ name })).finish();
  const w = startWatch({ targets: replicas.map((g) => `127.0.0.1:${g.port}`), request, conns: o.conns, streams: o.streams, openRate: o.openRate, want: versionId });
  try {
    const ready = await w.ready;
    // Read at once: with no stream open there is nothing to deliver, and the generator exits.
    const loadgenRssKiB = (() => {
      try {
        return rssKiB(w.pid);
      } catch {
        return NaN;
      }
    })();
    await new Promise((r) => setTimeout(r, 500)); // let the replicas' allocations settle before reading RSS
    const rssAfterKiB = replicas.map((g) => rssKiB(g.pid));
    const before = kms.getSecretValueCalls();
    const rotatedAt = Date.now();
    kms.emu.store.putSecretValue({ name, versionId, data: `bench-watched-${versionId}` });
    const d = await w.delivered;
    const kmsCalls = kms.getSecretValueCalls() - before;
    const grown = rssAfterKiB.reduce((s, v, i) => s + v - rssBeforeKiB[i]!, 0);
    return {
      streams: o.streams,
      conns: o.conns,
      openRate: o.openRate,
      opened: ready.opened,
      firstMessages: ready.firstMessages,
      openErrors: ready.errors,
      openMs: ready.openMs,
      errorSample: ready.errorSample || d.errorSample,
      delivered: d.delivered,
      ...(d.firstUnixMs !== undefined && d.lastUnixMs !== undefined
        ? { spreadMs: d.lastUnixMs - d.firstUnixMs, rotationToFirstMs: d.firstUnixMs - rotatedAt, rotationToLastMs: d.lastUnixMs - rotatedAt }
        : {}),
      kmsCalls,
      rssBeforeKiB,
      rssAfterKiB,
      rssPerStreamKiB: ready.firstMessages > 0 ? grown / ready.firstMessages : NaN,
      loadgenRssKiB,
    };
  } finally {
    w.kill();
  }
}
