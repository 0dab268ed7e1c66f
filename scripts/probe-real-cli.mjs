// Probe the real Claude Code CLI against the fake Messages API (may be deleted later).
// Usage: node --import tsx scripts/probe-real-cli.mjs <experiment> [args]
// Experiments: one | tool | errors | budget | trunc [runs] [bytes] | resume | perms | sigterm | timing [runs] | flags

import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bigReply, startFakeAnthropicApi } from '../test/support/fake-anthropic-api.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLAUDE = process.env.PROBE_CLAUDE_BIN ?? join(root, 'node_modules/.bin/claude');
const BASE_FLAGS = [
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

function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(after[1]);
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
      let exe = '?';
      let state = '?';
      try {
        exe = readlinkSync(`/proc/${c}/exe`);
      } catch {}
      try {
        const stat = readFileSync(`/proc/${c}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      } catch {}
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 120);
      } catch {}
      out.push({ pid: c, ppid: p, exe, state, cmd });
      stack.push(c);
    }
  }
  return out;
}

/**
 * Run the CLI once. opts: { api, prompt, dirs, extraArgs, stdout: 'pipe'|'file', timeoutMs,
 * env, watchTree, killAfterMs, signal }
 */
export function runCli(opts) {
  const dirs = opts.dirs ?? freshDirs();
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dirs.home,
    CLAUDE_CONFIG_DIR: dirs.config,
    CLAUDE_CODE_TMPDIR: dirs.tmp,
    ANTHROPIC_BASE_URL: opts.api.url,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    ...(opts.env ?? {}),
  };
  const args = [...(opts.baseFlags ?? BASE_FLAGS), ...(opts.extraArgs ?? [])];
  const mode = opts.stdout ?? 'pipe';
  let outFd;
  const outPath = join(dirs.base, `stdout-${Date.now()}-${Math.random()}.txt`);
  if (mode === 'file') outFd = openSync(outPath, 'w');
  const started = performance.now();
  const child = spawn(CLAUDE, args, {
    cwd: opts.cwd ?? dirs.cwd,
    env,
    detached: true,
    stdio: ['pipe', mode === 'file' ? outFd : 'pipe', 'pipe'],
  });
  if (outFd !== undefined) closeSync(outFd);
  const out = [];
  const err = [];
  child.stdout?.on('data', (c) => out.push(c));
  if (opts.pauseStdoutMs !== undefined && child.stdout) {
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), opts.pauseStdoutMs);
  }
  child.stderr.on('data', (c) => err.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.prompt ?? 'say pong');
  if (opts.blockForMs !== undefined) {
    // Simulate a busy reader thread: block this event loop synchronously.
    setTimeout(() => {
      const end = Date.now() + opts.blockForMs;
      while (Date.now() < end) {}
    }, opts.blockAtMs ?? 0);
  }
  const trees = [];
  let treeTimer;
  if (opts.watchTree) {
    treeTimer = setInterval(() => {
      if (child.pid !== undefined) trees.push(descendants(child.pid));
    }, opts.watchTree);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, opts.timeoutMs ?? 60_000);
  let killTimer;
  if (opts.killAfterMs !== undefined) {
    killTimer = setTimeout(() => {
      try {
        process.kill(child.pid, opts.signal ?? 'SIGTERM');
      } catch {}
    }, opts.killAfterMs);
  }
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearInterval(treeTimer);
      const wallMs = Math.round(performance.now() - started);
      // Leftover group members?
      let leftovers = [];
      try {
        process.kill(-child.pid, 0);
        leftovers = ['group still alive'];
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      const stdout =
        mode === 'file' ? readFileSync(outPath, 'utf8') : Buffer.concat(out).toString('utf8');
      const stdoutBytes = Buffer.byteLength(stdout);
      const events = [];
      const bad = [];
      for (const line of stdout.split('\n')) {
        if (line.trim() === '') continue;
        try {
          events.push(JSON.parse(line));
        } catch {
          bad.push(line.slice(0, 200));
        }
      }
      resolvePromise({
        code,
        signal,
        timedOut,
        wallMs,
        stdout,
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
        events,
        bad,
        dirs,
        trees,
        leftovers,
        pid: child.pid,
      });
    });
  });
}

const trimEvent = (e) => JSON.stringify(e);

async function main() {
  const [experiment = 'one', ...rest] = process.argv.slice(2);
  const api = await startFakeAnthropicApi({ reply: 'pong from fake api' });
  try {
    if (experiment === 'one') {
      const r = await runCli({ api });
      console.log('exit', r.code, 'wall', r.wallMs, 'stderr', JSON.stringify(r.stderr));
      for (const e of r.events) console.log(trimEvent(e));
      console.log(
        'requests',
        api.requests.map((q) => `${q.method} ${q.url}`),
      );
    } else if (experiment === 'trunc') {
      const runs = Number(rest[0] ?? 10);
      const bytes = Number(rest[1] ?? 250_000);
      const format = rest[2] ?? 'stream-json';
      const pauseStdoutMs = rest[3] === undefined || rest[3] === '' ? undefined : Number(rest[3]);
      const modes = (rest[4] ?? 'pipe,file').split(',');
      const blockForMs = rest[5] === undefined ? undefined : Number(rest[5]);
      const blockAtMs = rest[6] === undefined ? undefined : Number(rest[6]);
      const baseFlags =
        format === 'json'
          ? BASE_FLAGS.filter((f) => f !== '--verbose').map((f) =>
              f === 'stream-json' ? 'json' : f,
            )
          : BASE_FLAGS;
      api.setScript({ replyBytes: bytes });
      const expected = bigReply(bytes);
      for (const mode of modes) {
        for (let i = 0; i < runs; i++) {
          const r = await runCli({
            api,
            stdout: mode,
            timeoutMs: 120_000,
            baseFlags,
            pauseStdoutMs,
            blockForMs,
            blockAtMs,
          });
          const result = r.events.find((e) => e.type === 'result');
          const assistantText = r.events
            .filter((e) => e.type === 'assistant')
            .flatMap((e) => e.message.content)
            .filter((b) => b.type === 'text')
            .map((b) => b.text)
            .join('');
          console.log(
            JSON.stringify({
              mode,
              i,
              exit: r.code,
              wall: r.wallMs,
              stdoutBytes: r.stdoutBytes,
              lines: r.events.length,
              badLines: r.bad.length,
              badHead: r.bad[0]?.slice(0, 60),
              types: r.events.map((e) => e.type).join(','),
              resultOk: result?.result === expected,
              assistantOk: assistantText === expected,
              stderr: r.stderr.slice(0, 200),
            }),
          );
        }
      }
    }
  } finally {
    await api.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}

export { BASE_FLAGS, CLAUDE, descendants, existsSync, writeFileSync };

/** Spawn with stdout as a Node 'pipe' (a Unix socketpair) and attach the reader only after delayMs. */
export async function delayedReader(
  api,
  { delayMs, format = 'stream-json', bytes = 250_000, shellPipeSleep },
) {
  const dirs = freshDirs();
  api.setScript({ replyBytes: bytes });
  const flags =
    format === 'json'
      ? BASE_FLAGS.filter((f) => f !== '--verbose').map((f) => (f === 'stream-json' ? 'json' : f))
      : BASE_FLAGS;
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dirs.home,
    CLAUDE_CONFIG_DIR: dirs.config,
    CLAUDE_CODE_TMPDIR: dirs.tmp,
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
  };
  const t0 = performance.now();
  let child;
  if (shellPipeSleep !== undefined) {
    // A real kernel pipe (64 KiB) between the CLI and a reader that sleeps first.
    const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
    const cmd = `${q(CLAUDE)} ${flags.map(q).join(' ')} | (sleep ${shellPipeSleep}; cat); echo "cli_exit=\${PIPESTATUS[0]}" >&2`;
    child = spawn('/bin/bash', ['-c', cmd], {
      cwd: dirs.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } else {
    child = spawn(CLAUDE, flags, {
      cwd: dirs.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  }
  child.stdin.end('say pong');
  const out = [];
  const err = [];
  child.stderr.on('data', (c) => err.push(c));
  let exitAt;
  child.on('exit', () => {
    exitAt = Math.round(performance.now() - t0);
  });
  setTimeout(() => child.stdout.on('data', (c) => out.push(c)), delayMs);
  const killer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 120_000);
  const code = await new Promise((r) => child.on('close', (c) => r(c)));
  clearTimeout(killer);
  const stdout = Buffer.concat(out).toString('utf8');
  const lines = stdout.split('\n').filter((l) => l !== '');
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l).type;
    } catch {
      return `BAD(${l.length})`;
    }
  });
  const expected = bigReply(bytes);
  let resultOk = false;
  for (const l of lines) {
    try {
      const e = JSON.parse(l);
      if (e.type === 'result') resultOk = e.result === expected;
    } catch {}
  }
  return {
    delayMs,
    format,
    shellPipeSleep,
    code,
    exitAt,
    closeAt: Math.round(performance.now() - t0),
    stdoutBytes: Buffer.byteLength(stdout),
    lines: parsed.join(','),
    resultOk,
    stderr: Buffer.concat(err).toString('utf8').slice(0, 200),
  };
}

if (process.argv[2] === 'delayed') {
  const api = await startFakeAnthropicApi({});
  try {
    const [, , , delay, format, bytes, runs, shellSleep] = process.argv;
    for (let i = 0; i < Number(runs ?? 3); i++) {
      const r = await delayedReader(api, {
        delayMs: Number(delay),
        format,
        bytes: Number(bytes),
        shellPipeSleep: shellSleep === undefined ? undefined : Number(shellSleep),
      });
      console.log(JSON.stringify(r));
    }
  } finally {
    await api.close();
  }
}
