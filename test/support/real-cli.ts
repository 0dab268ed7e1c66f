import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type FakeAnthropicApi,
  type FakeScript,
  type MessagesRequestBody,
  startFakeAnthropicApi,
  userText,
} from './fake-anthropic-api.ts';
import { REAL_CLAUDE } from './paths.ts';

/**
 * Shared set-up for the tests that drive the real Claude Code CLI (pinned devDependency)
 * against the fake Messages API: one fake per file, scripts chosen per request by a case tag
 * in the prompt, and a private config/temp directory so nothing touches a real account.
 */

/** `[[case:NAME]]` in a prompt picks the fake's script for that conversation (the last tag wins). */
export const tag = (name: string) => `[[case:${name}]]`;

export function caseOf(body: MessagesRequestBody): string | undefined {
  const all = [...userText(body).matchAll(/\[\[case:([\w-]+)\]\]/g)];
  return all[all.length - 1]?.[1];
}

export type RealCliRig = {
  readonly api: FakeAnthropicApi;
  /** Root of everything this file's CLIs write (config dir, temp dir, work dirs). */
  readonly root: string;
  readonly configDir: string;
  /** An empty HOME for CLIs run directly (startTestServer gives each server its own). */
  readonly home: string;
  /** Environment for startTestServer: the real CLI, pointed at the fake, offline. */
  readonly env: Record<string, string>;
  /** A fresh directory under root, for a consult's cwd. */
  readonly workDir: (name: string) => string;
  /** Set or replace the script of one case (e.g. once a path inside rig.root is known). */
  readonly setCase: (name: string, script: FakeScript) => void;
  /** The message requests of one case, in arrival order. */
  readonly requestsOf: (name: string) => MessagesRequestBody[];
  readonly dispose: () => Promise<void>;
};

export async function startRealCliRig(
  initial: Record<string, FakeScript> = {},
): Promise<RealCliRig> {
  const cases = new Map(Object.entries(initial));
  const api = await startFakeAnthropicApi((body) => {
    const name = caseOf(body);
    return (name === undefined ? undefined : cases.get(name)) ?? { reply: 'no case tag in prompt' };
  });
  const root = mkdtempSync(join(tmpdir(), 'phone-opus-real-cli-'));
  const configDir = join(root, 'claude-config');
  const cliTmp = join(root, 'claude-tmp');
  mkdirSync(configDir);
  mkdirSync(cliTmp);
  const home = join(root, 'home');
  mkdirSync(home);
  // Even with CLAUDE_CODE_TMPDIR set, the CLI (2.1.197) creates an empty `claude-<uid>` in
  // os.tmpdir() on every run that reaches the API; keep that inside root too.
  const sysTmp = join(root, 'tmp');
  mkdirSync(sysTmp);
  const env: Record<string, string> = {
    PHONE_OPUS_CLAUDE_BIN: REAL_CLAUDE,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_TMPDIR: cliTmp,
    TMPDIR: sysTmp,
    CLAUDE_CONFIG_DIR: configDir,
  };
  return {
    api,
    root,
    configDir,
    home,
    env,
    workDir: (name) => {
      const dir = join(root, 'work', name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    setCase: (name, script) => {
      cases.set(name, script);
    },
    requestsOf: (name) =>
      api
        .messageRequests()
        .map((r) => r.body as MessagesRequestBody)
        .filter((b) => caseOf(b) === name),
    dispose: async () => {
      await api.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export type MarkedProcess = {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  state: string;
  cmdline: string;
};

/** Live processes carrying `marker` in their environment whose command line matches. */
export function markedProcesses(marker: string, cmdline: RegExp): MarkedProcess[] {
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    let cmd: string;
    let stat: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (!environ.includes(marker) || !cmdline.test(cmd)) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = f[0] ?? '?';
    if (state === 'Z' || state === 'X') continue;
    found.push({
      pid: Number(entry),
      state,
      ppid: Number(f[1]),
      pgid: Number(f[2]),
      sid: Number(f[3]),
      cmdline: cmd,
    });
  }
  return found;
}

export type DirectRun = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
};

/** Run the real CLI directly (asynchronously: the fake API lives in this process), bounded. */
export function runRealCli(
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; input: string; timeoutMs?: number },
): Promise<DirectRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(REAL_CLAUDE, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  });
}
