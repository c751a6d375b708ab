/**
 * Public types of the KMS emulator. Other code (dev mode, gateway tests, benchmarks) imports these
 * through `src/emulator/index.ts`; keep them stable.
 */
import type { Logger } from '../../../src/telemetry/logger';
import type { ClientKeyRegistry } from './clientKeys';
import type { SeedDocument } from './seed';
import type { SecretStoreApi } from './store';

export type { SeedDocument } from './seed';
export type { SecretStoreApi } from './store';
export type { ClientKeyRegistry, MintedClientKey } from './clientKeys';

/** How a region endpoint is reached. */
export interface RegionEndpoint {
  regionId: string;
  /** `127.0.0.1:<port>`: the form the Alibaba SDKs take as `endpoint` (no scheme). */
  endpoint: string;
  port: number;
  protocol: 'https' | 'http';
}

/** How a dedicated KMS instance is reached. */
export interface InstanceEndpoint {
  /** `kst-…`, as given in `instances`. */
  instanceId: string;
  /** The region the instance belongs to (the emulator's first region). */
  regionId: string;
  /** `<instanceId>.cryptoservice.kms.aliyuncs.com`: the name its certificate carries. */
  host: string;
  /** `127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  protocol: 'https';
}

/** A PEM CA certificate and key, e.g. one made earlier by `createTestCa()` and written to a file. */
export interface CaPem {
  caCertPem: string;
  caKeyPem: string;
  /** Extra DNS names for the server certificate's SAN (e.g. `kst-xxxx.cryptoservice.kms.aliyuncs.com`). */
  extraDnsNames?: string[];
}

export interface KmsEmulatorOptions {
  /** One endpoint (own port) per region, all sharing one secret store. @default ['cn-hangzhou'] */
  regions?: string[];
  /**
   * `true` generates a CA and a server certificate (SAN: 127.0.0.1, ::1, localhost); an object
   * loads the CA from PEM instead; `false` serves plain HTTP. @default true
   */
  tls?: boolean | CaPem;
  /**
   * Dedicated KMS instances (`kst-…` ids), one HTTPS endpoint each, sharing the store. Each answers
   * the OpenAPI (RAM credentials) and the instance API (AAP ClientKeys from `clientKeys.mint`);
   * the server certificate also names `<id>.cryptoservice.kms.aliyuncs.com`. Needs TLS. @default []
   */
  instances?: string[];
  /** AccessKey pairs, id → secret, accepted in addition to the seed's `accessKeys`. */
  accessKeys?: Record<string, string>;
  /** A seed document, or the path of a `.json`, `.yaml` or `.yml` file holding one. */
  seed?: SeedDocument | string;
  /** Fixed port per region; a missing region or 0 picks a free port. */
  ports?: Record<string, number>;
  /**
   * Lifetime of every issued STS session, in seconds. Unset: AssumeRole's DurationSeconds,
   * or 3600 for the credentials-URI document. @default undefined
   */
  stsSessionSeconds?: number;
  /** Where request lines and lifecycle events go. Never receives values, secrets or tokens. @default silentLogger */
  logger?: Logger;
  /** Port of the admin HTTP endpoint on 127.0.0.1; `undefined` runs none, 0 picks a free port. */
  adminPort?: number;
  /** Capacity of the in-memory request log ring. @default 1000 */
  requestLogSize?: number;
  /** The clock, epoch ms. Tests inject one to move time (timestamp window, STS expiry, QPS windows). @default Date.now */
  clock?: () => number;
}

/**
 * Per-region fault settings; `faults.set` replaces the region's whole spec.
 * An injected error needs `errorCode` and `httpStatus`; `rate` 1 fails every matching request,
 * and `times` stops after that many failures ("fail twice, then succeed").
 */
export interface FaultSpec {
  /** Added before answering, in ms. */
  latencyMs?: number;
  /** KMS error code to answer, e.g. `ServiceUnavailableTemporary`, `InternalFailure`, `Rejected.Throttling`. */
  errorCode?: string;
  /** HTTP status of the injected error (400–599). Required with `errorCode`. */
  httpStatus?: number;
  /** @default a standard message for known codes, else the code */
  errorMessage?: string;
  /** Probability per request, 0–1. @default 1 */
  rate?: number;
  /** Inject the error this many times, then stop. @default unlimited */
  times?: number;
  /** Inject only into these actions. @default every action */
  actions?: string[];
  /** Requests per second (sliding 1 s window) beyond which the region answers 429 `Rejected.Throttling` / `QPS Limit Exceeded`. */
  qpsLimit?: number;
  /** The spec that replaces this one once its `times` errors have been injected (requires `times`). @default latency and qpsLimit kept, no errors */
  then?: FaultSpec;
}

/** One request as the emulator saw it: no values, no credentials, no signatures. */
export interface LoggedRequest {
  /** Increasing sequence number across the emulator. */
  seq: number;
  /** ISO-8601 time the request arrived (emulator clock). */
  time: string;
  regionId: string;
  /** The API action, `CredentialsURI` for `GET /creds`, or `Unknown`. */
  action: string;
  secretName?: string;
  /** How the request was signed: `v1` HMAC-SHA1 query, `v3` ACS3-HMAC-SHA256 header, `rsa` ClientKey (instance API), `none`. */
  signatureVersion: 'v1' | 'v3' | 'rsa' | 'none';
  /** What kind of credential signed it. */
  credential: 'ak' | 'sts' | 'clientkey' | 'anonymous' | 'none';
  httpStatus: number;
  /** `OK`, or the error code answered. */
  code: string;
  /** Which injected fault shaped the answer, if any. */
  fault?: 'latency' | 'error' | 'throttle';
}

/** Faults, counters, down/up take a region id or an instance id. */
export interface FaultControl {
  /** Replaces the fault spec of a region. */
  set(regionId: string, spec: FaultSpec): void;
  /** Clears the faults of one region, or of all regions. Does not bring a down region up. */
  clear(regionId?: string): void;
  /** Closes the region's listener and its connections: clients get ECONNREFUSED. */
  down(regionId: string): Promise<void>;
  /** Listens again on the same port. */
  up(regionId: string): Promise<void>;
  /** The current spec of a region. */
  get(regionId: string): FaultSpec;
}

export interface KmsEmulator {
  regions: Record<string, RegionEndpoint>;
  /** The dedicated instances, by id. */
  instances: Record<string, InstanceEndpoint>;
  /** The instances' application access points: mint a ClientKey (file content + password) for tests and dev. */
  clientKeys: ClientKeyRegistry;
  /** The CA certificate clients pin (HTTPS only). */
  caPem?: string;
  /** Writes `caPem` to a file (mode 0644); throws when serving plain HTTP. */
  writeCaFile(path: string): void;
  /** `http://127.0.0.1:<port>` of the admin endpoint, when one runs. */
  adminUrl?: string;
  faults: FaultControl;
  /** Calls per action, for one region or summed over all. */
  counters(regionId?: string): Record<string, number>;
  /** The newest requests, oldest first (bounded ring). */
  requestLog(): readonly LoggedRequest[];
  /** Zeroes counters and empties the request log. */
  resetCounters(): void;
  /** Direct access to the shared secret store (tests, dev mode, admin). */
  store: SecretStoreApi;
  /** Adds an AccessKey pair at runtime. */
  addAccessKey(id: string, secret: string): void;
  /** Stops every listener, drops connections and timers. Idempotent. */
  close(): Promise<void>;
}
