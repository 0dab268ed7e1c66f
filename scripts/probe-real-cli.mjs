// Probe the real Claude Code CLI against the fake Messages API (a self-check; may be deleted).
// Usage: node --import tsx scripts/probe-real-cli.mjs <experiment> [args]
//   one                                   one-turn run, prints every stream-json event
//   tool                                  two-turn Read loop on a file in the cwd
//   trunc [runs=10] [bytes=250000]        big reply, stdout as a Node pipe vs a regular file
//   trunc-block [runs=5] [bytes] [at=300] [for=3000]
//                                         same, but this process's event loop (the reader) is
//                                         blocked `for` ms starting `at` ms after spawn; the fake
//                                         runs in a separate process
//   trunc-shell [runs=3] [bytes] [sleep=3]
//                                         a real kernel pipe: `claude | (sleep S; wc -c)`
//   serve [bytes]                         run only the fake (big reply), print its port
// Env: PROBE_CLAUDE_BIN overrides the CLI path.

import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bigReply, startFakeAnthropicApi } from '../test/support/fake-anthropic-api.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLAUDE = process.env.PROBE_CLAUDE_BIN ?? join(root, 'node_modules/.bin/claude');
export const BASE_FLAGS = [
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

/** Fresh base dir with home/, config/, tmp/ and cwd/ inside. */
export function freshDirs() {
  const base = mkdtempSync(join(tmpdir(), 'probe-cli-'));
  const dirs = {
    base,
    home: join(base, 'home'),
    config: join(base, 'config'),
    tmp: join(base, 'tmp'),
    cwd: join(base, 'cwd'),
  };
  for (const d of [dirs.home, dirs.config, dirs.tmp, dirs.cwd]) mkdirSync(d, { recursive: true });
  return dirs;
}

export function cliEnv(dirs, apiUrl, extra = {}) {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dirs.home,
    CLAUDE_CONFIG_DIR: dirs.config,
    CLAUDE_CODE_TMPDIR: dirs.tmp,
    ANTHROPIC_BASE_URL: apiUrl,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    ...extra,
  };
}

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Descendants of pid by walking /proc (state, pgid, exe, cmdline). */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {}
  }
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    for (const c of children.get(p) ?? []) {
      const info = { pid: c, ppid: p, state: '?', pgid: '?', exe: '?', cmd: '' };
      try {
        const f = statFields(c);
        info.state = f[0];
        info.pgid = f[2];
        info.exe = readlinkSync(`/proc/${c}/exe`);
        info.cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 120);
      } catch {}
      out.push(info);
      stack.push(c);
    }
  }
  return out;
}

function busyWait(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}

/**
 * Run the CLI once, prompt on stdin then EOF.
 * opts: { apiUrl, prompt, dirs, cwd, extraArgs, baseFlags, env, stdout: 'pipe'|'file',
 *         timeoutMs, killAfterMs, signal, blockAtMs, blockForMs }
 */
export function runCli(opts) {
  const dirs = opts.dirs ?? freshDirs();
  const args = [...(opts.baseFlags ?? BASE_FLAGS), ...(opts.extraArgs ?? [])];
  const mode = opts.stdout ?? 'pipe';
  const outPath = join(dirs.base, `stdout-${process.pid}-${Date.now()}-${Math.random()}.ndjson`);
  const outFd = mode === 'file' ? openSync(outPath, 'wx', 0o600) : undefined;
  const started = performance.now();
  const child = spawn(CLAUDE, args, {
    cwd: opts.cwd ?? dirs.cwd,
    env: cliEnv(dirs, opts.apiUrl, opts.env),
    detached: true,
    stdio: ['pipe', outFd ?? 'pipe', 'pipe'],
  });
  if (outFd !== undefined) closeSync(outFd);
  const out = [];
  const err = [];
  child.stdout?.on('data', (c) => out.push(c));
  child.stderr.on('data', (c) => err.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.prompt ?? 'say pong');
  if (opts.blockForMs !== undefined) {
    setTimeout(() => busyWait(opts.blockForMs), opts.blockAtMs ?? 0);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, opts.timeoutMs ?? 60_000);
  const killTimer =
    opts.killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          try {
            process.kill(child.pid, opts.signal ?? 'SIGTERM');
          } catch {}
        }, opts.killAfterMs);
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      const wallMs = Math.round(performance.now() - started);
      try {
        process.kill(-child.pid, 'SIGKILL'); // leftovers in the CLI's own group, if any
      } catch {}
      const stdout =
        mode === 'file' ? readFileSync(outPath, 'utf8') : Buffer.concat(out).toString('utf8');
      const events = [];
      const bad = [];
      for (const line of stdout.split('\n')) {
        if (line.trim() === '') continue;
        try {
          events.push(JSON.parse(line));
        } catch {
          bad.push(line);
        }
      }
      resolvePromise({
        code,
        signal,
        timedOut,
        wallMs,
        stdout,
        stdoutBytes: Buffer.byteLength(stdout),
        stderr: Buffer.concat(err).toString('utf8'),
        events,
        bad,
        dirs,
      });
    });
  });
}

function truncSummary(label, r, expected) {
  const result = r.events.find((e) => e.type === 'result');
  return JSON.stringify({
    label,
    exit: r.code,
    wallMs: r.wallMs,
    stdoutBytes: r.stdoutBytes,
    events: r.events.map((e) => e.type).join(','),
    unparsedLines: r.bad.length,
    resultIntact: result?.result === expected,
  });
}

async function startExternalFake(bytes) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), 'serve', String(bytes)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = await createInterface({ input: child.stdout })
    [Symbol.asyncIterator]()
    .next()
    .then((r) => [r.value]);
  return { url: `http://127.0.0.1:${line}`, stop: () => child.kill('SIGTERM') };
}

async function main() {
  const [experiment = 'one', ...rest] = process.argv.slice(2);
  if (experiment === 'serve') {
    const api = await startFakeAnthropicApi({ replyBytes: Number(rest[0] ?? 250_000) });
    console.log(api.port);
    process.on('SIGTERM', () => {
      void api.close().then(() => process.exit(0));
    });
    return;
  }
  if (experiment === 'trunc-block') {
    const [runs = '5', bytes = '250000', at = '300', forMs = '3000'] = rest;
    const fake = await startExternalFake(bytes);
    const expected = bigReply(Number(bytes));
    try {
      for (const mode of ['pipe', 'file']) {
        for (let i = 0; i < Number(runs); i++) {
          const r = await runCli({
            apiUrl: fake.url,
            stdout: mode,
            blockAtMs: Number(at),
            blockForMs: Number(forMs),
          });
          console.log(truncSummary(`${mode} #${i}`, r, expected));
          rmSync(r.dirs.base, { recursive: true, force: true });
        }
      }
    } finally {
      fake.stop();
    }
    return;
  }
  if (experiment === 'trunc-shell') {
    const [runs = '3', bytes = '250000', sleepS = '3'] = rest;
    const fake = await startExternalFake(bytes);
    try {
      for (let i = 0; i < Number(runs); i++) {
        const dirs = freshDirs();
        const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
        const script = `${q(CLAUDE)} ${BASE_FLAGS.map(q).join(' ')} <<< 'say pong' | (sleep ${sleepS}; wc -c)`;
        const child = spawn('/bin/bash', ['-c', script], {
          cwd: dirs.cwd,
          env: cliEnv(dirs, fake.url),
        });
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
        });
        const code = await new Promise((r) => child.on('close', r));
        console.log(
          JSON.stringify({ run: i, pipelineExit: code, bytesReceived: Number(out.trim()) }),
        );
        rmSync(dirs.base, { recursive: true, force: true });
      }
    } finally {
      fake.stop();
    }
    return;
  }

  const api = await startFakeAnthropicApi({ reply: 'pong from fake api' });
  try {
    if (experiment === 'one') {
      const r = await runCli({ apiUrl: api.url });
      console.log('exit', r.code, 'wallMs', r.wallMs, 'stderr', JSON.stringify(r.stderr));
      for (const e of r.events) console.log(JSON.stringify(e));
      console.log(
        'requests',
        api.requests.map((q) => `${q.method} ${q.url}`),
      );
    } else if (experiment === 'tool') {
      const dirs = freshDirs();
      writeFileSync(join(dirs.cwd, 'fixture.txt'), 'hello fixture line\n');
      api.setScript({
        toolCalls: [{ name: 'Read', input: { file_path: join(dirs.cwd, 'fixture.txt') } }],
        reply: 'file says: {{TOOL_RESULT}}',
      });
      const r = await runCli({ apiUrl: api.url, dirs });
      console.log('exit', r.code, 'wallMs', r.wallMs, 'stderr', JSON.stringify(r.stderr));
      for (const e of r.events) console.log(JSON.stringify(e));
      console.log(
        'messages per request',
        api.messageRequests().map((q) => q.body.messages.length),
      );
    } else if (experiment === 'trunc') {
      const [runs = '10', bytes = '250000'] = rest;
      api.setScript({ replyBytes: Number(bytes) });
      const expected = bigReply(Number(bytes));
      for (const mode of ['pipe', 'file']) {
        for (let i = 0; i < Number(runs); i++) {
          const r = await runCli({ apiUrl: api.url, stdout: mode, timeoutMs: 120_000 });
          console.log(truncSummary(`${mode} #${i}`, r, expected));
          rmSync(r.dirs.base, { recursive: true, force: true });
        }
      }
    } else {
      console.log(`unknown experiment ${experiment}`);
      process.exitCode = 2;
    }
  } finally {
    await api.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
