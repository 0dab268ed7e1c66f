import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BIN, FAKE_CLAUDE } from './paths.ts';
import { liveProcessesWithEnv, waitFor } from './proc.ts';

/**
 * A real phone-opus server (the built `bin/phone-opus.js`) driven by the SDK Client over
 * stdio, with the fake CLI by default, a private state dir, and a unique environment marker
 * so that tests can find every process the server started.
 */
export type TestServer = {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly pid: number;
  readonly dir: string;
  readonly stateDir: string;
  readonly marker: string;
  /** JSON lines the fake CLI appended (argv, cwd, prompt, pids). */
  readonly cliLog: () => FakeRun[];
  readonly stderr: () => string;
  readonly call: (
    name: string,
    args?: Record<string, unknown>,
    options?: CallOptions,
  ) => Promise<CallToolResult>;
  readonly close: () => Promise<void>;
};

export type CallOptions = {
  timeout?: number;
  signal?: AbortSignal;
  onprogress?: (p: { progress: number; message?: string | undefined }) => void;
  resetTimeoutOnProgress?: boolean;
};

export type FakeRun = {
  pid: number;
  children: number[];
  /** Pids of the processes it started outside its group (setsid children, a stderr holder). */
  escaped: number[];
  argv: string[];
  cwd: string;
  prompt: string;
  env: { CLAUDECODE: string | null; CLAUDE_CODE_ENTRYPOINT: string | null; PWD: string | null };
};

/** A private directory, environment and marker for one server, and the check that it left nothing. */
export type ServerRig = {
  readonly dir: string;
  readonly stateDir: string;
  readonly marker: string;
  readonly env: Record<string, string>;
  readonly cliLog: () => FakeRun[];
  /** After the server is closed: nothing it started may outlive it. */
  readonly verifyNothingLeft: () => Promise<void>;
};

export function serverRig(env: Record<string, string> = {}): ServerRig {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-test-'));
  const stateDir = join(dir, 'state');
  const cliLogPath = join(dir, 'cli.jsonl');
  const marker = `PHONE_OPUS_TEST_MARKER=${randomUUID()}`;
  const [markerName, markerValue] = marker.split('=') as [string, string];
  // The server's output dirs go inside `dir` too: a test that kills it outright leaves none behind.
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  return {
    dir,
    stateDir,
    marker,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      TMPDIR: tmp,
      PHONE_OPUS_CLAUDE_BIN: FAKE_CLAUDE,
      PHONE_OPUS_STATE_DIR: stateDir,
      FAKE_CLAUDE_LOG: cliLogPath,
      [markerName]: markerValue,
      ...env,
    },
    cliLog: () => {
      try {
        return readFileSync(cliLogPath, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as FakeRun);
      } catch {
        return [];
      }
    },
    verifyNothingLeft: async () => {
      const left = await waitFor(
        () => liveProcessesWithEnv(marker),
        (l) => l.length === 0,
        8000,
      );
      rmSync(dir, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`processes left behind: ${JSON.stringify(left)}`);
    },
  };
}

export async function startTestServer(
  t: TestContext,
  options: { env?: Record<string, string>; cwd?: string; bin?: string } = {},
): Promise<TestServer> {
  const rig = serverRig(options.env);
  const { dir, stateDir, marker, env } = rig;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [options.bin ?? BIN],
    env,
    cwd: options.cwd ?? dir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'phone-opus-test', version: '0.0.0' });
  await client.connect(transport);
  const pid = transport.pid as number;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.close();
  };
  t.after(async () => {
    await close();
    await rig.verifyNothingLeft();
  });
  return {
    client,
    transport,
    pid,
    dir,
    stateDir,
    marker,
    cliLog: rig.cliLog,
    stderr: () => stderr,
    call: (name, args = {}, callOptions = {}) =>
      client.callTool({ name, arguments: args }, undefined, {
        timeout: callOptions.timeout ?? 30_000,
        ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
        ...(callOptions.onprogress === undefined ? {} : { onprogress: callOptions.onprogress }),
        ...(callOptions.resetTimeoutOnProgress === undefined
          ? {}
          : { resetTimeoutOnProgress: callOptions.resetTimeoutOnProgress }),
      }) as Promise<CallToolResult>,
    close,
  };
}

/** The text of a tool result's first content block. */
export const textOf = (result: CallToolResult): string => {
  const first = result.content[0];
  return first !== undefined && first.type === 'text' ? first.text : '';
};

/** The structured fault of an error result. */
export const faultOf = (result: CallToolResult) =>
  result.structuredContent as {
    fault: { generation: number; class: string; code: string; directive: string; detail: string };
    stage: string;
    operation: string;
    jsonrpc_code: number;
    retryable: boolean;
    retried: boolean;
    reason?: string;
    hint?: {
      message?: string;
      retry_after_ms?: number;
      session_id?: string;
      num_turns?: number;
      elapsed_ms?: number;
      answer_file?: string;
      answer_bytes?: number;
    };
  };
