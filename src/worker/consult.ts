import { performance } from 'node:perf_hooks';
import { faults, type Site } from '../shared/fault.ts';
import {
  groupAlive,
  memberAlive,
  readStat,
  signalGroup,
  signalMembers,
  snapshotDescendants,
  spawnInGroup,
  type TreeMember,
} from '../shared/process-tree.ts';
import type { ConsultReply, ConsultTask, WorkerBoot, WorkerEvent } from '../shared/wire.ts';
import { answerSpool } from './answer-limit.ts';
import { classifyRun } from './classify.ts';
import { buildClaudeArgv } from './claude-cli.ts';
import { createOutputFile, type OutputFile } from './output-file.ts';
import { StreamJsonReader } from './stream-json.ts';

const MAX_STDERR_CHARS = 64 * 1024;
/** How often the output file is read for progress. */
const READ_EVERY_MS = 100;
/** How often the CLI's process tree is scanned (its Bash tool uses sessions of its own). */
const SCAN_EVERY_TICKS = 5;
/** How long to wait for SIGKILLed strays to disappear after the CLI exits. */
const SWEEP_WAIT_MS = 1000;
/** Room for the envelope around an answer on its result line. */
const LINE_SLACK_CHARS = 1024 * 1024;

/**
 * Run one consult: spawn the CLI in its own group, report the group to the host at once,
 * stream progress, and return the result or fault as data. Stopping a run (cancel, timeout,
 * thread loss, shutdown) is the host's job: it signals the trees it was told about.
 */
export async function runConsult(
  task: ConsultTask,
  boot: WorkerBoot,
  post: (event: WorkerEvent) => void,
  crash: () => never,
): Promise<ConsultReply> {
  const at: Site = { generation: task.generation, stage: 'claude', operation: task.operation };
  const started = performance.now();
  const output = await createOutputFile();
  const spool = answerSpool(boot.answersDir, boot.maxAnswerBytes);
  try {
    const spawned = await spawnInGroup(boot.claudeBin, buildClaudeArgv(task.request), {
      cwd: task.request.cwd,
      env: boot.childEnv,
      stdinText: task.request.prompt,
      stdoutFd: output.fd,
      onPid: (pid) => Atomics.store(new Int32Array(task.pidSlot), 0, pid),
      guarded: true,
    });
    output.closeWriteEnd();
    if (!spawned.ok) {
      return { status: 'fault', fault: spawnFault(at, boot.claudeBin, spawned.failure) };
    }
    const { child } = spawned;
    post({
      type: 'spawned',
      taskId: task.taskId,
      pgid: child.pid,
      start: readStat(String(child.pid))?.start ?? '',
    });
    if (task.crashAfterSpawn) crash();

    const reader = new StreamJsonReader(
      (event) => post({ type: 'progress', taskId: task.taskId, event }),
      // A line this long cannot be an answer within the limit (JSON adds, never removes).
      { maxLineChars: boot.maxAnswerBytes + LINE_SLACK_CHARS, openAnswerSink: spool.openSink },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
    });
    const members = new Map<string, TreeMember>();
    let reading = Promise.resolve();
    let ticks = 0;
    const timer = setInterval(() => {
      reading = reading.then(() => drain(output, reader));
      ticks += 1;
      if (ticks % SCAN_EVERY_TICKS === 0) {
        const fresh = snapshotDescendants(child.pid).filter(
          (m) => !members.has(`${m.pid}:${m.start}`),
        );
        for (const m of fresh) members.set(`${m.pid}:${m.start}`, m);
        if (fresh.length > 0) post({ type: 'members', taskId: task.taskId, members: fresh });
      }
    }, READ_EVERY_MS);
    const exit = await child.done;
    clearInterval(timer);
    // The leader is gone; sweep anything it left behind, and see it gone, before saying so.
    const strays = [...members.values()];
    signalMembers(strays, 'SIGKILL');
    signalGroup(child.pid, 'SIGKILL');
    const sweptBy = performance.now() + SWEEP_WAIT_MS;
    while ((groupAlive(child.pid) || strays.some(memberAlive)) && performance.now() < sweptBy) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    post({ type: 'reaped', taskId: task.taskId, pgid: child.pid });
    await reading;
    await drain(output, reader);
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
    const outcome = spool.settle(
      at,
      classifyRun(at, { exit, stream, stderr, build: boot.build }),
      stream.answerInSink,
    );
    return outcome.ok
      ? { status: 'ok', value: outcome.value }
      : { status: 'fault', fault: outcome.fault };
  } finally {
    spool.dispose();
    await output.dispose();
  }
}

/** Feed the reader everything the CLI has written so far, a bounded piece at a time. */
async function drain(output: OutputFile, reader: StreamJsonReader): Promise<void> {
  for (let text = await output.readNew(); text !== ''; text = await output.readNew()) {
    reader.push(text);
  }
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
