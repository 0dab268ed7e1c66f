/**
 * The `phone-opus` command: `serve` (default) runs the stdio MCP server; `doctor` and `init`
 * help set it up.
 * Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
 */
import { fileURLToPath } from 'node:url';
import pkg from '../../package.json' with { type: 'json' };
import { stderrLogger } from '../host/log.ts';
import { startServer } from '../host/server.ts';
import { readConfig } from '../shared/config.ts';
import { runDoctor } from './doctor.ts';
import { CLIENTS, isClient, runInit } from './init.ts';
import { workerFile } from './paths.ts';

const USAGE = `phone-opus ${pkg.version} — consult Claude Code as a read-only second opinion over MCP

Usage:
  phone-opus [serve]              run the MCP server on stdin/stdout (what MCP clients start)
  phone-opus doctor [--probe]     check the Claude CLI, state dir and configuration;
                                  --probe also runs a one-turn consult to prove auth works
  phone-opus init --client <claude-code|codex|cursor|claude-desktop> [--write]
                                  print the config snippet that adds this server to a client;
                                  --write merges it into the client's config file
  phone-opus --help               show this help
  phone-opus --version            print the version

Exit status: 0 ok, 1 a check failed or a file was left alone, 2 usage or configuration error.
Configuration is read from PHONE_OPUS_* environment variables (see the README).
`;

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
  if (command === 'doctor') {
    process.exitCode = await doctor(rest);
    return;
  }
  if (command === 'init') {
    process.exitCode = await init(rest);
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
    workerFile: workerFile(),
    hostFile: fileURLToPath(import.meta.url),
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    log: stderrLogger,
    exit: (code) => process.exit(code),
  });
  // A bug on the host thread must not leave CLIs running: log it, exit (the 'exit' handler
  // kills every CLI tree), and let the client restart the server.
  process.on('uncaughtException', (error) => {
    process.stderr.write(`phone-opus: internal error: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void server.shutdown(signal));
  }
}

const wantsHelp = (args: readonly string[]) => args.includes('--help') || args.includes('-h');

async function doctor(args: readonly string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const arg of args)
    if (arg !== '--probe') fail(`unknown option ${arg} for doctor (see phone-opus --help)`, 2);
  return runDoctor(
    { probe: args.includes('--probe') },
    {
      env: process.env,
      cwd: process.cwd(),
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    },
  );
}

async function init(args: readonly string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(USAGE);
    return 0;
  }
  let client: string | undefined;
  let write = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === '--write') write = true;
    else if (arg === '--client') {
      client = args[i + 1];
      i += 1;
    } else if (arg.startsWith('--client=')) client = arg.slice('--client='.length);
    else fail(`unknown option ${arg} for init (see phone-opus --help)`, 2);
  }
  if (client === undefined || !isClient(client)) {
    fail(
      `init needs --client ${CLIENTS.join('|')}${client === undefined ? '' : ` (got ${JSON.stringify(client)})`}`,
      2,
    );
  }
  return runInit(
    { client, write },
    {
      env: process.env,
      cwd: process.cwd(),
      platform: process.platform,
      out: (text) => process.stdout.write(text),
      err: (line) => process.stderr.write(`${line}\n`),
    },
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  fail(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 1);
});
