import { fileURLToPath } from 'node:url';
import pkg from '../../package.json' with { type: 'json' };
import { stderrLogger } from '../host/log.ts';
import { startServer } from '../host/main.ts';
import { readConfig } from '../shared/config.ts';

/**
 * The `phone-opus` command: `serve` (default) runs the stdio MCP server.
 * Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
 */
const USAGE = `phone-opus ${pkg.version} — consult Claude Code as a read-only second opinion over MCP

Usage:
  phone-opus [serve]     run the MCP server on stdin/stdout (what MCP clients start)
  phone-opus --help      show this help
  phone-opus --version   print the version

Configuration is read from PHONE_OPUS_* environment variables (see the README).
`;

/** The worker bundle sits next to this file in dist/; under tsx the source entry is used. */
export function defaultWorkerFile(): string {
  const here = import.meta.url;
  return fileURLToPath(
    here.endsWith('.ts') ? new URL('../worker/entry.ts', here) : new URL('./worker.js', here),
  );
}

function fail(message: string, code: number): never {
  process.stderr.write(`phone-opus: ${message}\n`);
  process.exit(code);
}

async function main(argv: readonly string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (command !== 'serve') {
    fail(
      `unknown ${command.startsWith('-') ? 'option' : 'command'} ${command} (see phone-opus --help)`,
      2,
    );
  }
  for (const arg of rest) {
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      return;
    }
    fail(`unknown option ${arg} for serve (see phone-opus --help)`, 2);
  }
  const config = readConfig(process.env, process.cwd());
  if (!config.ok) fail(`invalid configuration: ${config.error}`, 2);
  const server = await startServer({
    config: config.value,
    version: pkg.version,
    workerFile: defaultWorkerFile(),
    hostFile: fileURLToPath(import.meta.url),
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    log: stderrLogger,
    exit: (code) => process.exit(code),
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void server.shutdown(signal));
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  fail(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 1);
});
