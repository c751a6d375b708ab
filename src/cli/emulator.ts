/**
 * The KMS emulator package, loaded at run time by `dev` and `kms-emulator` only. It is a dev
 * dependency (packages/kms-emulator): the production image does not contain it, so nothing in
 * src/ imports it statically, and these commands say plainly where to find it when it is absent.
 * The interfaces are the narrow part of the package the CLI uses.
 */
import type { Logger } from '../telemetry/logger';

export const EMULATOR_PACKAGE = '@secrets-gateway/kms-emulator';

export interface DevEmulatorRegion {
  regionId: string;
  endpoint: string;
  protocol: 'http' | 'https';
}

/** What dev mode reads from a running emulator. */
export interface DevEmulator {
  regions: Record<string, DevEmulatorRegion>;
  caPem?: string;
  adminUrl?: string;
  close(): Promise<void>;
}

export interface EmulatorModule {
  createKmsEmulator(o: { regions: string[]; seed?: string; accessKeys: Record<string, string>; adminPort: number; logger: Logger }): Promise<DevEmulator>;
  findDemoSeed(): string | undefined;
  runKmsEmulatorCommand(argv: string[], io?: { logger?: Logger }): Promise<number>;
}

export class EmulatorMissingError extends Error {
  constructor(command: string) {
    super(
      `\`${command}\` needs the KMS emulator (${EMULATOR_PACKAGE}), a development tool this installation does not include. ` +
        'The production image and `npm ci --omit=dev` leave it out on purpose; run dev mode from a source checkout (`npm ci && npm start`) or the Dockerfile\'s `dev` target.',
    );
  }
  override get name(): string {
    return 'EmulatorMissingError';
  }
}

export function loadEmulator(command: string): EmulatorModule {
  try {
    return require(EMULATOR_PACKAGE) as EmulatorModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(EMULATOR_PACKAGE)) throw new EmulatorMissingError(command);
    throw e;
  }
}
