import { performance } from 'node:perf_hooks';
import { faults, type Site } from '../shared/fault.ts';
import { signalGroup, spawnInGroup } from '../shared/process-tree.ts';
import type { ConsultReply, ConsultTask, WorkerBoot, WorkerEvent } from '../shared/wire.ts';
import { classifyRun } from './classify.ts';
import { buildClaudeArgv } from './claude-cli.ts';
import { StreamJsonReader } from './stream-json.ts';

const MAX_STDERR_CHARS = 64 * 1024;

/**
 * Run one consult: spawn the CLI in its own group, report the group to the host at once,
 * stream progress, and return the result or fault as data. Stopping a run (cancel, timeout,
 * thread loss, shutdown) is the host's job: it signals the group it was told about.
 */
export async function runConsult(
  task: ConsultTask,
  boot: WorkerBoot,
  post: (event: WorkerEvent) => void,
  crash: () => never,
): Promise<ConsultReply> {
  const at: Site = { generation: task.generation, stage: 'claude', operation: task.operation };
  const started = performance.now();
  const spawned = await spawnInGroup(boot.claudeBin, buildClaudeArgv(task.request), {
    cwd: task.request.cwd,
    env: boot.childEnv,
    stdinText: task.request.prompt,
  });
  if (!spawned.ok) {
    return { status: 'fault', fault: spawnFault(at, boot.claudeBin, spawned.failure) };
  }
  const { child } = spawned;
  post({ type: 'spawned', taskId: task.taskId, pgid: child.pid });
  if (task.crashAfterSpawn) crash();

  const reader = new StreamJsonReader((event) =>
    post({ type: 'progress', taskId: task.taskId, event }),
  );
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => reader.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
  });
  const exit = await child.done;
  // The leader is gone; sweep anything it left in its group before saying so.
  signalGroup(child.pid, 'SIGKILL');
  post({ type: 'reaped', taskId: task.taskId, pgid: child.pid });
  const stream = reader.end();

  if (exit.signal !== null && stream.result === undefined) {
    return {
      status: 'terminated',
      terminated: {
        signal: exit.signal,
        exit_code: exit.exitCode,
        session_id: stream.sessionId,
        num_turns: stream.turns,
        elapsed_ms: Math.round(performance.now() - started),
      },
    };
  }
  const outcome = classifyRun(at, { exit, stream, stderr, build: boot.build });
  return outcome.ok
    ? { status: 'ok', value: outcome.value }
    : { status: 'fault', fault: outcome.fault };
}

function spawnFault(at: Site, bin: string, failure: { code: string; message: string }) {
  const install =
    'Install Claude Code (npm install -g @anthropic-ai/claude-code) or set PHONE_OPUS_CLAUDE_BIN to its path.';
  const detail =
    failure.code === 'ENOENT'
      ? `Claude Code CLI not found: ${bin} (${failure.code})`
      : failure.code === 'EACCES'
        ? `Claude Code CLI is not executable: ${bin} (${failure.code})`
        : `Claude Code CLI could not be started: ${bin}: ${failure.message}`;
  return faults.processFailure(at, detail, { message: install });
}
