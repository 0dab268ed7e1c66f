// What every benchmark shares: paths, the server's environment, starting the built server or the
// echo floor, calling tools, and spawning a fake CLI directly the way the server does.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient } from './rpc.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin/phone-opus.js');
export const SH_FAKE = join(ROOT, 'bench/fake-claude.sh');
export const NODE_FAKE = join(ROOT, 'bench/fake-claude.mjs');
export const ECHO_SERVER = join(ROOT, 'bench/echo-server.mjs');

/** The fixed part of the CLI argv (SPEC §5.1; mirrors src/shared/claude-cli.ts). */
export const CLAUDE_ARGV = [
  '-p',
  '--output-format',
  'stream-json',
  '--verbose',
  '--strict-mcp-config',
  '--mcp-config',
  '{"mcpServers":{}}',
  '--disable-slash-commands',
  '--no-chrome',
  '--tools',
  'Bash,Read,Grep,Glob,WebFetch,WebSearch',
  '--permission-mode',
  'dontAsk',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const now = () => performance.now();

/** A private working dir and the environment a server (and a direct spawn) runs with. */
export function sandbox(fake = SH_FAKE, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-bench-'));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    PHONE_OPUS_CLAUDE_BIN: fake,
    PHONE_OPUS_STATE_DIR: join(dir, 'state'),
    ...extra,
  };
  return { dir, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The built server (`node bin/phone-opus.js`, or another `script`) driven by the raw client,
 * initialized.
 */
export async function startServer({ fake = SH_FAKE, env = {}, nodeArgs = [], script = BIN } = {}) {
  const box = sandbox(fake, env);
  const client = RpcClient.spawn(process.execPath, [...nodeArgs, script], {
    env: box.env,
    cwd: box.dir,
  });
  await client.initialize();
  return {
    client,
    pid: client.pid,
    dir: box.dir,
    env: box.env,
    close: async () => {
      await client.close();
      box.remove();
    },
  };
}

/** The raw echo server (no SDK), initialized. */
export async function startEcho() {
  const client = RpcClient.spawn(process.execPath, [ECHO_SERVER], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    cwd: ROOT,
  });
  await client.initialize();
  return { client, pid: client.pid, close: () => client.close() };
}

export const callTool = (client, name, args = {}) =>
  client.request('tools/call', { name, arguments: args });

/** A consult that must succeed (a benchmark measuring failures would measure the wrong thing). */
export async function consult(client, prompt = 'bench') {
  const result = await callTool(client, 'consult', { prompt });
  if (result.isError) throw new Error(`consult failed: ${result.content?.[0]?.text}`);
  return result;
}

export async function health(client) {
  const result = await callTool(client, 'health_snapshot', { render: 'json' });
  return result.structuredContent;
}

/** The server runs every CLI at this niceness (src/shared/process-tree.ts); floors do too. */
export const CHILD_NICENESS = 10;

/** Spawn a fake the way the server does: own process group, lowered priority, prompt on stdin. */
export function spawnLikeServer(fake, prompt, { env, cwd, stdout = 'pipe' }) {
  const child = spawn(fake, CLAUDE_ARGV, {
    env,
    cwd,
    detached: true,
    stdio: ['pipe', stdout, 'pipe'],
  });
  child.once('spawn', () => {
    try {
      setPriority(child.pid, CHILD_NICENESS);
    } catch {
      // already gone
    }
  });
  child.stdin.on('error', () => {});
  child.stdin.end(prompt);
  return child;
}

/**
 * The floor of a consult: the client spawns the same fake with the same argv, environment,
 * cwd, process group and niceness, writes the prompt to stdin and parses the result line.
 */
export function runDirect({ fake = SH_FAKE, prompt = 'bench', env, cwd }) {
  return new Promise((resolve, reject) => {
    const child = spawnLikeServer(fake, prompt, { env, cwd });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', (code) => {
      const last = stdout.trimEnd().split('\n').pop() ?? '';
      const envelope = JSON.parse(last);
      if (code !== 0 || envelope.type !== 'result')
        reject(new Error(`direct run failed (${code})`));
      else resolve({ pid: child.pid, envelope });
    });
  });
}

/** One A/B pair, A first on even `i` and B first on odd `i`; returns [a, b]. */
export async function pair(i, runA, runB) {
  if (i % 2 === 0) {
    const a = await runA();
    return [a, await runB()];
  }
  const b = await runB();
  return [await runA(), b];
}
