/**
 * `secrets-gateway <command>`: the command-line entry point. Each command is a function that takes
 * its arguments and returns an exit code, so tests can drive it without a child process.
 */
import { loadConfig } from '../config/load';
import { ConfigError } from '../errors';
import { startGateway } from '../main';
import { createLogger } from '../telemetry/logger';

const USAGE = `usage: secrets-gateway <command>

commands:
  dev            start the gateway for local development (127.0.0.1:50051)
  serve          start the gateway in production mode, configured from the environment and SECRETS_GATEWAY_CONFIG
  get NAME       read a secret from a running gateway (--stage S, --version-id V, --json, --target HOST:PORT)
  watch NAME     print each version of a secret as it rotates (--json, --target HOST:PORT)
  rotate NAME    dev mode only: put a new version into the dev emulator, so a watch fires
  kms-emulator   run the local KMS emulator (--seed PATH, --regions a,b, --port N, --http, --ca-out PATH)
`;

/** Runs a server command until SIGINT/SIGTERM, then shuts down in order. */
async function runServer(mode: 'dev' | 'serve'): Promise<number> {
  // Listen for signals before starting, so a SIGTERM during startup (Redis wait, warm-up) still
  // leads to an orderly stop once startup returns.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const config = loadConfig({ mode });
  const logger = createLogger({ level: config.logLevel });
  let close: () => Promise<void>;
  if (mode === 'dev') {
    const { startDev, devBanner } = require('./dev') as typeof import('./dev');
    const dev = await startDev(config, logger);
    process.stdout.write(devBanner(dev) + '\n');
    close = dev.close;
  } else {
    close = (await startGateway(config, { logger })).shutdown;
  }
  await stopped;
  await close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  try {
    switch (command) {
      case 'dev':
      case 'serve':
        return await runServer(command);
      case 'get':
        return await (require('./client') as typeof import('./client')).getCommand(argv.slice(1));
      case 'watch':
        return await (require('./client') as typeof import('./client')).watchCommand(argv.slice(1));
      case 'rotate':
        return await (require('./dev') as typeof import('./dev')).rotateCommand(argv.slice(1));
      case 'kms-emulator':
        // Loaded at run time: production paths never import the emulator.
        return await (require('./emulator') as typeof import('./emulator')).loadEmulator('secrets-gateway kms-emulator').runKmsEmulatorCommand(argv.slice(1));
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command ? 0 : 2;
      default:
        process.stderr.write(`secrets-gateway: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`secrets-gateway: configuration error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`secrets-gateway: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`secrets-gateway: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
