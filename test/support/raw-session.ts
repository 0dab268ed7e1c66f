import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BIN, FAKE_CLAUDE } from './paths.ts';

/**
 * The server driven by raw JSON-RPC lines, for protocol edge cases an SDK client would never
 * send. Every line the server writes is kept, so tests can count responses per id.
 */
export type RawSession = {
  readonly child: ChildProcessWithoutNullStreams;
  /** The server's cwd and HOME; its state dir is `state/` inside. */
  readonly dir: string;
  readonly lines: unknown[];
  send(line: string | object): void;
  /** Resolves with the first message matching `match` (waiting for it if needed). */
  next(
    match: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  responsesFor(id: unknown): Record<string, unknown>[];
  initialize(): Promise<void>;
  /**
   * Wait until no consult runs or waits, then for a ping's answer: every answer the server
   * was ever going to write is in `lines` by then (for asserting that none came twice).
   */
  settle(meta?: Record<string, unknown>): Promise<void>;
  /** The fake CLI's log (one JSON line per run it started). */
  cliRuns(): unknown[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
};

export function startRawSession(t: TestContext, env: Record<string, string> = {}): RawSession {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-raw-'));
  const child = spawn(process.execPath, [BIN], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      TMPDIR: dir,
      PHONE_OPUS_CLAUDE_BIN: FAKE_CLAUDE,
      PHONE_OPUS_STATE_DIR: join(dir, 'state'),
      FAKE_CLAUDE_LOG: join(dir, 'cli.jsonl'),
      ...env,
    },
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  // Lines are cut as chunks arrive, scanning only the new chunk (answers can be megabytes).
  let pending: string[] = [];
  let stderr = '';
  const take = (line: string) => {
    if (line.trim() === '') return;
    const message = JSON.parse(line) as Record<string, unknown>; // a non-JSON stdout line fails the test
    lines.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    let from = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', from)) {
      pending.push(chunk.slice(from, newline));
      take(pending.join(''));
      pending = [];
      from = newline + 1;
    }
    if (from < chunk.length) pending.push(chunk.slice(from));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  // 'close', not 'exit': by then everything the server wrote to stdout has been read here.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 6000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const session: RawSession = {
    child,
    dir,
    lines,
    exited,
    stderr: () => stderr,
    send(line) {
      child.stdin.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
    },
    next(match, timeoutMs = 10_000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(lines)}`),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    responsesFor(id) {
      return lines.filter((m) => 'id' in m && m['id'] === id && ('result' in m || 'error' in m));
    },
    async settle(meta) {
      for (let probe = 0; ; probe++) {
        const id = `settle-${probe}`;
        session.send({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: {
            name: 'health_snapshot',
            arguments: { render: 'json' },
            ...(meta === undefined ? {} : { _meta: meta }),
          },
        });
        const reply = await session.next((m) => m['id'] === id);
        const health = (reply['result'] as { structuredContent: Record<string, number> })
          .structuredContent;
        if (health['in_flight'] === 0 && health['queued'] === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // Any answer will do (2026-07-28 has no ping: that is an error answer).
      session.send({ jsonrpc: '2.0', id: 'settle-ping', method: 'ping' });
      await session.next((m) => m['id'] === 'settle-ping');
      lines.splice(0, lines.length, ...lines.filter((m) => !String(m['id']).startsWith('settle-')));
    },
    cliRuns() {
      try {
        return readFileSync(join(dir, 'cli.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as unknown);
      } catch {
        return [];
      }
    },
    async initialize() {
      session.send({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      });
      await session.next((m) => m['id'] === 'init');
      session.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    },
  };
  return session;
}
