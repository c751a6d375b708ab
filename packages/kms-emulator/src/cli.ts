/**
 * `secrets-gateway kms-emulator`: runs the emulator in the foreground for dev demos and prints
 * the settings that point a gateway at it. Never prints an AccessKey secret or a token: the
 * ready-to-paste credentials use the emulator's credentials-URI (STS) document instead.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../../src/telemetry/logger';
import { createKmsEmulator } from './emulator';
import { SeedError } from './errors';
import { readSeedFile } from './seed';
import { CREDENTIALS_PATH } from './server';

const USAGE = `usage: secrets-gateway kms-emulator [flags]

  --seed PATH             seed file (.yaml/.yml/.json) @default the package's demo-secrets.yaml
  --regions a,b           regions, one endpoint each @default cn-hangzhou
  --port N                port of the first region; the others take N+1, N+2, … @default any free port
  --http                  plain HTTP instead of HTTPS
  --ca-out PATH           where to write the CA certificate (HTTPS) @default a temp file
  --admin-port N          admin endpoint port on 127.0.0.1 @default any free port
  --access-key ID:SECRET  accept this AccessKey pair (repeatable), besides the seed's
  --instance KST-ID       a dedicated KMS instance (repeatable): its own HTTPS port, and a minted
                          AAP ClientKey (file + password file, next to the CA file) for it
  --print-settings        print only the settings (export lines) on stdout; the rest goes to stderr
`;

/** The demo seed that ships with this package (dev mode and `kms-emulator` without --seed). */
export function findDemoSeed(): string | undefined {
  const candidate = join(__dirname, '..', 'demo-secrets.yaml');
  return existsSync(candidate) ? candidate : undefined;
}

export interface CommandIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Stops the emulator like SIGINT does (tests). */
  signal?: AbortSignal;
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`${flag} must be a port number, 0–65535`);
  return n;
}

/** Runs until SIGINT/SIGTERM (or `io.signal`), then closes cleanly. Returns the exit code. */
export async function runKmsEmulatorCommand(argv: string[], io: CommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s) => process.stdout.write(s));
  const err = io.stderr ?? ((s) => process.stderr.write(s));
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        regions: { type: 'string' },
        port: { type: 'string' },
        http: { type: 'boolean' },
        'ca-out': { type: 'string' },
        'admin-port': { type: 'string' },
        'access-key': { type: 'string', multiple: true },
        instance: { type: 'string', multiple: true },
        'print-settings': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err(`kms-emulator: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    out(USAGE);
    return 0;
  }

  let tempDir: string | undefined;
  try {
    const regions = (flags.regions ?? 'cn-hangzhou').split(',').map((r) => r.trim()).filter(Boolean);
    const firstPort = port(flags.port, '--port');
    const adminPort = port(flags['admin-port'], '--admin-port') ?? 0;
    const accessKeys: Record<string, string> = {};
    for (const pair of flags['access-key'] ?? []) {
      const i = pair.indexOf(':');
      if (i <= 0 || i === pair.length - 1) throw new RangeError('--access-key must be ID:SECRET');
      accessKeys[pair.slice(0, i)] = pair.slice(i + 1);
    }
    const seedPath = flags.seed ? resolve(flags.seed) : findDemoSeed();
    if (!seedPath) throw new RangeError('no --seed given and the demo seed (demo-secrets.yaml) is not next to this package');
    const seedKeyIds = [...readSeedFile(seedPath).accessKeys.keys()];
    const ports = firstPort ? Object.fromEntries(regions.map((r, i) => [r, firstPort + i])) : undefined;

    const instances = flags.instance ?? [];
    if (instances.length > 0 && flags.http) throw new RangeError('--instance needs HTTPS (drop --http)');
    const emu = await createKmsEmulator({ regions, instances, tls: !flags.http, seed: seedPath, accessKeys, ports, adminPort, logger: createLogger({ level: 'info', sink: (line) => err(line + '\n') }) });
    let caPath: string | undefined;
    if (emu.caPem) {
      if (flags['ca-out']) caPath = resolve(flags['ca-out']);
      else caPath = join((tempDir = mkdtempSync(join(tmpdir(), 'kms-emulator-'))), 'ca.pem');
      emu.writeCaFile(caPath);
    }

    const targets = Object.values(emu.regions).map((r) => ({ regionId: r.regionId, endpoint: r.endpoint, protocol: r.protocol, ...(caPath ? { caFilePath: caPath } : {}) }));
    // One ClientKey per instance, written beside the CA file as the console's downloads would be.
    // The password goes to a file only: it is never printed.
    const dkms = [];
    for (const inst of Object.values(emu.instances)) {
      const minted = await emu.clientKeys.mint({ instanceIds: [inst.instanceId] });
      const clientKeyFile = join(dirname(caPath!), `clientKey_${inst.instanceId}.json`);
      const passwordFile = join(dirname(caPath!), `clientKey_${inst.instanceId}_Password.txt`);
      writeFileSync(clientKeyFile, minted.clientKeyJson, { mode: 0o600 });
      writeFileSync(passwordFile, minted.password, { mode: 0o600 });
      dkms.push({ regionId: inst.regionId, endpoint: inst.endpoint, clientKeyFile, passwordFromFilePath: passwordFile, caFilePath: caPath });
    }
    const status = [
      'KMS emulator running (Ctrl-C to stop)',
      ...Object.values(emu.regions).map((r) => `  region ${r.regionId.padEnd(16)} ${r.protocol}://${r.endpoint}`),
      ...Object.values(emu.instances).map((i) => `  instance ${i.instanceId.padEnd(14)} https://${i.endpoint} (certificate name ${i.host})`),
      ...(caPath ? [`  CA certificate        ${caPath}`] : []),
      `  admin                 ${emu.adminUrl}/admin/state`,
      `  seed                  ${seedPath}`,
      '',
    ];
    const settings = [
      '# point a gateway at it:',
      ...(dkms.length ? [`export cache_client_dkms_config_info='${JSON.stringify(dkms)}'`] : []),
      `export cache_client_region_id='${JSON.stringify(targets)}'`,
      'export credentials_type=credentials_uri',
      `export credentials_uri=${emu.adminUrl}${CREDENTIALS_PATH}`,
      ...[...seedKeyIds, ...Object.keys(accessKeys)].map((id) => `# or: credentials_type=ak credentials_access_key_id=${id} credentials_access_secret=<its secret>`),
      '',
    ];
    if (flags['print-settings']) {
      err(status.join('\n') + '\n');
      out(settings.join('\n'));
    } else out([...status, ...settings].join('\n'));

    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        io.signal?.removeEventListener('abort', stop);
        done();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (io.signal?.aborted) stop();
      else io.signal?.addEventListener('abort', stop, { once: true });
    });
    await emu.close();
    return 0;
  } catch (e) {
    const msg = e instanceof SeedError || e instanceof RangeError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
    err(`kms-emulator: ${msg}\n`);
    return e instanceof RangeError ? 2 : 1;
  } finally {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}
