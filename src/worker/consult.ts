import { performance } from 'node:perf_hooks';
import { buildClaudeArgv } from '../shared/claude-cli.ts';
import type { FaultRecord, Site } from '../shared/fault.ts';
import { snapshotDescendants, type TreeMember } from '../shared/proc-scan.ts';
import { type GroupChild, spawnInGroup } from '../shared/process-tree.ts';
import { killTree } from '../shared/tree-kill.ts';
import type { ConsultReply, ConsultTask, WorkerBoot, WorkerEvent } from '../shared/wire.ts';
import { type AnswerSpool, answerSpool } from './answer-limit.ts';
import { classifyRun } from './classify.ts';
import { createOutputFile, type OutputFile } from './output-file.ts';
import { cwdFault, spawnFault, tmpdirFault, workerFault } from './setup-fault.ts';
import { StreamJsonReader } from './stream-json.ts';
import { type PinnedDirectory, pinDirectory } from './working-dir.ts';

const MAX_STDERR_CHARS = 64 * 1024;
/** How often the output file is read for progress. */
const READ_EVERY_MS = 100;
/** How often the CLI's process tree is scanned (its Bash tool uses sessions of its own). */
const SCAN_EVERY_TICKS = 5;
/** How long to wait for SIGKILLed strays to disappear after the CLI exits. */
const SWEEP_WAIT_MS = 1000;
/** Room for the envelope around an answer on its result line. */
const LINE_SLACK_CHARS = 1024 * 1024;

const asFault = (fault: FaultRecord): ConsultReply => ({ status: 'fault', fault });

/**
 * Run one consult: pin the working directory, spawn the CLI in its own group, report the group
 * to the host at once, stream progress, and return the result or fault as data. Whatever the
 * worker itself runs into (a changed cwd, an unusable TMPDIR, descriptor exhaustion) is a
 * fault too: a rejected task would read as a lost thread. Stopping a run (cancel, timeout,
 * thread loss, shutdown) is the host's job: it signals the trees it was told about.
 */
export async function runConsult(
  task: ConsultTask,
  boot: WorkerBoot,
  post: (event: WorkerEvent) => void,
  crash: () => never,
): Promise<ConsultReply> {
  const at: Site = { generation: task.generation, stage: 'worker', operation: task.operation };
  const pinned = pinDirectory(task.request.cwd, boot.allowedRoots);
  if (!pinned.ok) return asFault(cwdFault(at, task.request.cwd, pinned.failure, boot.allowedRoots));
  const dir = pinned.dir;
  let output: OutputFile;
  try {
    output = await createOutputFile();
  } catch (error) {
    dir.close();
    return asFault(tmpdirFault(at, error));
  }
  try {
    return await runCli(task, boot, { post, crash, dir, output });
  } catch (error) {
    return asFault(workerFault(at, error));
  } finally {
    dir.close();
    await output.dispose().catch(() => {});
  }
}

type Run = {
  readonly post: (event: WorkerEvent) => void;
  readonly crash: () => never;
  readonly dir: PinnedDirectory;
  readonly output: OutputFile;
};

async function runCli(task: ConsultTask, boot: WorkerBoot, run: Run): Promise<ConsultReply> {
  const { post, dir, output } = run;
  const at: Site = { generation: task.generation, stage: 'claude', operation: task.operation };
  const started = performance.now();
  const spawned = await spawnInGroup(boot.claudeBin, buildClaudeArgv(task.request), {
    cwd: dir.spawnCwd,
    env: { ...boot.childEnv, PWD: dir.realPath },
    stdinText: task.request.prompt,
    stdoutFd: output.fd,
    onPid: (pid) => Atomics.store(new Int32Array(task.pidSlot), 0, pid),
    containment: boot.containment,
  });
  // The CLI holds its cwd and stdout now; our descriptors are not needed.
  dir.close();
  output.closeWriteEnd();
  if (!spawned.ok) {
    return asFault(spawnFault(at, boot.claudeBin, task.request.cwd, spawned.failure));
  }
  const { child } = spawned;
  const members = new Map<string, TreeMember>();
  try {
    return await superviseCli(task, boot, run, child, members, started);
  } catch (error) {
    // Nothing may outlive a consult that ends in a fault.
    await killTree([child.leader, ...members.values()], {
      first: 'SIGKILL',
      graceMs: SWEEP_WAIT_MS,
    });
    post({ type: 'reaped', taskId: task.taskId, pgid: child.pid });
    throw error;
  }
}

async function superviseCli(
  task: ConsultTask,
  boot: WorkerBoot,
  run: Run,
  child: GroupChild,
  members: Map<string, TreeMember>,
  started: number,
): Promise<ConsultReply> {
  const { post } = run;
  post({
    type: 'spawned',
    taskId: task.taskId,
    pgid: child.pid,
    start: child.leader.start,
  });
  if (task.crashAfterSpawn) run.crash();

  const spool = answerSpool(boot.answersDir, boot.maxAnswerBytes);
  try {
    return await readCli(task, boot, run, child, members, started, spool);
  } finally {
    spool.dispose();
  }
}

async function readCli(
  task: ConsultTask,
  boot: WorkerBoot,
  run: Run,
  child: GroupChild,
  members: Map<string, TreeMember>,
  started: number,
  spool: AnswerSpool,
): Promise<ConsultReply> {
  const { post, dir, output } = run;
  const at: Site = { generation: task.generation, stage: 'claude', operation: task.operation };
  const reader = new StreamJsonReader(
    (event) => post({ type: 'progress', taskId: task.taskId, event }),
    // A line this long cannot be an answer within the limit (JSON adds, never removes).
    { maxLineChars: boot.maxAnswerBytes + LINE_SLACK_CHARS, openAnswerSink: spool.openSink },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
  });
  let readFailure: unknown;
  let reading = Promise.resolve();
  let ticks = 0;
  const timer = setInterval(() => {
    reading = reading
      .then(() => drain(output, reader))
      .catch((error: unknown) => {
        readFailure ??= error;
      });
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
  // The leader is gone (and its group was killed as it went); sweep the members seen outside
  // the group, and see them gone, before saying so.
  const strays = [...members.values()];
  await killTree(strays, { first: 'SIGKILL', graceMs: SWEEP_WAIT_MS });
  post({ type: 'reaped', taskId: task.taskId, pgid: child.pid });
  await reading;
  if (readFailure !== undefined) throw readFailure;
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
    classifyRun(at, { exit, stream, stderr, build: boot.build, cwd: dir.realPath }),
    stream.answerInSink,
  );
  return outcome.ok ? { status: 'ok', value: outcome.value } : asFault(outcome.fault);
}

/** Feed the reader everything the CLI has written so far, a bounded piece at a time. */
async function drain(output: OutputFile, reader: StreamJsonReader): Promise<void> {
  for (let text = await output.readNew(); text !== ''; text = await output.readNew()) {
    reader.push(text);
  }
}
