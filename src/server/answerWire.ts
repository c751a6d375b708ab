/**
 * GetSecret answers as encoded protobuf, kept next to the cached entry that answered, so an L1 hit
 * encodes nothing: the handler hands grpc-js an `EncodedAnswer` and the service definition's
 * serializer sends its bytes as they are.
 *
 * The bytes are exactly what ts-proto's `GetSecretResponse.encode` writes, because they are made by
 * it: field 1 (the Secret) encoded once per entry, field 2 (the Freshness) per answer shape, and
 * protobuf fields written one after the other are the concatenation of each written alone. Each
 * entry keeps one buffer: the Secret part followed by the Freshness of the last shape answered
 * (LOCAL_CACHE with the entry's checked_at, on a hit), so a hit of the same shape reuses the whole
 * buffer and another shape splices a new Freshness after a view of the same Secret part.
 *
 * Memory: one buffer per entry, keyed (WeakMap) by the reader's `memo`, the entry itself, so the
 * bytes (plaintext, like the entry's value in L1) live and die with the entry. A reader answer
 * without a memo is encoded per call and kept nowhere.
 */
import { GetSecretResponse, SecretsGatewayServiceService } from '../gen/secretsgateway/v1/secrets_gateway';
import type { SecretVersion } from '../model';
import type { FreshnessSource, ReadResult } from '../watch/reader';
import { toProtoFreshness, toProtoSecret } from './toProto';

/** A GetSecret answer already encoded; `source` for telemetry (the bytes are not decoded again). */
export class EncodedAnswer {
  constructor(
    readonly bytes: Buffer,
    readonly source: FreshnessSource,
  ) {}
}

/** What a GetSecret handler may hand grpc-js: a message to encode, or bytes already encoded. */
export type GetSecretAnswer = GetSecretResponse | EncodedAnswer;

/** The service definition to register: as generated, except that GetSecret sends an EncodedAnswer's bytes as they are. */
export const GATEWAY_SERVICE_DEFINITION = {
  ...SecretsGatewayServiceService,
  getSecret: {
    ...SecretsGatewayServiceService.getSecret,
    responseSerialize: (value: GetSecretAnswer): Buffer => (value instanceof EncodedAnswer ? value.bytes : SecretsGatewayServiceService.getSecret.responseSerialize(value)),
  },
};

interface Encoded {
  /** The version the bytes encode (a reference, no copy): a memo handed with another version re-encodes. */
  secret: SecretVersion;
  /** The Secret part (field 1), then the Freshness (field 2) of `source` and `checkedAtMs`. */
  bytes: Buffer;
  secretLength: number;
  source: FreshnessSource;
  checkedAtMs: number;
}

export class AnswerEncoder {
  private readonly byEntry = new WeakMap<object, Encoded>();
  private reused = 0;

  /** @param onReused told of each answer sent from bytes encoded earlier (the metric). */
  constructor(private readonly onReused?: () => void) {}

  /** Answers sent from bytes encoded for an earlier call (cumulative): the hot path's proof of work not done. */
  get reusedAnswers(): number {
    return this.reused;
  }

  encode(r: ReadResult): EncodedAnswer {
    const { source, checkedAtMs } = r.freshness;
    const memo = r.memo;
    const had = memo === undefined ? undefined : this.byEntry.get(memo);
    if (had === undefined || had.secret !== r.secret) {
      const secretPart = encodeResponse({ secret: toProtoSecret(r.secret), freshness: undefined });
      const enc = { secret: r.secret, bytes: Buffer.concat([secretPart, freshnessPart(r)]), secretLength: secretPart.length, source, checkedAtMs };
      if (memo !== undefined) this.byEntry.set(memo, enc);
      return new EncodedAnswer(enc.bytes, source);
    }
    if (had.source !== source || had.checkedAtMs !== checkedAtMs) {
      had.bytes = Buffer.concat([had.bytes.subarray(0, had.secretLength), freshnessPart(r)]);
      had.source = source;
      had.checkedAtMs = checkedAtMs;
    }
    this.reused++;
    this.onReused?.();
    return new EncodedAnswer(had.bytes, source);
  }
}

function freshnessPart(r: ReadResult): Buffer {
  return encodeResponse({ secret: undefined, freshness: toProtoFreshness(r.freshness) });
}

function encodeResponse(m: GetSecretResponse): Buffer {
  const u8 = GetSecretResponse.encode(m).finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}
