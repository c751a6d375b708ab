/**
 * The local Alibaba Cloud KMS Secrets Manager emulator: dev mode, tests and benchmarks only.
 * Production code must not import this package: it is a dev dependency, absent from the
 * production image; the gateway's CLI loads it at run time for `dev` and `kms-emulator`.
 */
export { createKmsEmulator } from './emulator';
export type {
  CaPem, ClientKeyRegistry, InstanceEndpoint, MintedClientKey, FaultControl, FaultSpec, KmsEmulator, KmsEmulatorOptions, LoggedRequest, RegionEndpoint,
} from './types';
export type {
  CreateSecretInput, ImportSecretInput, PutSecretValueInput, SecretDescription, SecretStoreApi, SecretVersionView, VersionInfo,
} from './store';
export type { SeedDocument, SeedSecret, SeedVersion } from './seed';
export { parseSeed, readSeedFile } from './seed';
export { KmsApiError, SeedError } from './errors';
export { INSTANCE_APIS } from './instanceApi';
export { createTestCa, createTestCaAsync, issueServerCert, issueServerCertAsync, loadCa, type CertNames, type ServerCert, type TestCa } from './tls';
export { percentEncode, v1Signature, v1StringToSign, v3CanonicalRequest, v3Signature, v3StringToSign } from './signature';
export { ACCOUNT_ID, KMS_VERSION } from './actions';
export { STS_VERSION } from './sts';
export { CREDENTIALS_PATH } from './server';
export { findDemoSeed, runKmsEmulatorCommand } from './cli';
