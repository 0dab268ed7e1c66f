import { constants, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRegistry } from '../host/pool/tree-registry.ts';
import { type ClaudeInfo, DEFAULT_CLAUDE_BIN, probeClaude } from '../host/state/claude-probe.ts';
import { claudeChildEnv } from '../shared/claude-cli.ts';
import { type Config, ENV, readConfig } from '../shared/config.ts';
import { type Containment, detectContainment } from '../shared/containment.ts';
import {
  type ConsultReply,
  type ConsultTask,
  PID_SLOT_BYTES,
  type WorkerEvent,
} from '../shared/wire.ts';
import { runConsult } from '../worker/consult.ts';

/**
 * `phone-opus doctor [--probe]` (SPEC §2): is everything a consult needs in place? Prints one
 * `ok`/`info`/`warn` line per fact on stdout and one `FAIL … Fix: …` line per problem on stderr.
 * `--probe` runs a one-turn consult exactly as a pool thread would (same argv, environment,
 * process group, output capture and classification) to prove that Claude Code is logged in.
 * Exit 0 only if nothing failed.
 */
export type DoctorIo = {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
};

const INSTALL_FIX = `install Claude Code (npm install -g @anthropic-ai/claude-code) or set ${ENV.claudeBin} to the CLI's path`;
const PROBE_PROMPT = 'This is a connectivity check. Reply with the single word: pong';
const PROBE_MAX_TIMEOUT_S = 120;

export async function runDoctor(options: { probe: boolean }, io: DoctorIo): Promise<number> {
  let failures = 0;
  const ok = (what: string, text: string) => io.out(`ok    ${what}: ${text}`);
  const info = (what: string, text: string) => io.out(`info  ${what}: ${text}`);
  const fail = (what: string, problem: string, fix: string) => {
    failures += 1;
    io.err(`FAIL  ${what}: ${problem}. Fix: ${fix}.`);
  };

  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 20) ok('node', `${process.version} (${process.execPath})`);
  else fail('node', `${process.version} is too old`, 'install Node.js 20 or newer');

  const config = readConfig(io.env, io.cwd);
  if (!config.ok) {
    fail('config', config.error, 'correct or unset that variable');
    return summary(failures, io);
  }
  ok('config', 'PHONE_OPUS_* settings are valid');
  describeConfig(config.value, info);

  const childEnv = claudeChildEnv(io.env);
  const containment = await detectContainment();
  reportContainment(containment, ok, (text) => io.out(`warn  containment: ${text}`));
  const claude = await probeClaude(
    config.value.claudeBin ?? DEFAULT_CLAUDE_BIN,
    childEnv,
    io.cwd,
    containment,
  );
  const cliPath = checkClaude(claude, ok, fail);

  const stateProblem = checkStateDir(config.value.stateDir);
  if (stateProblem === undefined) ok('state dir', `${config.value.stateDir} (writable)`);
  else
    fail(
      'state dir',
      `${config.value.stateDir} is not writable (${stateProblem})`,
      `set ${ENV.stateDir} to a writable directory or fix its permissions`,
    );
  const log = join(config.value.stateDir, 'mcp', 'telemetry.jsonl');
  if (stateProblem === undefined && !(await writableIfPresent(log)))
    fail('telemetry log', `${log} is not writable`, 'fix its permissions or remove it');

  await checkMetrics(config.value, info, (text) => io.out(`warn  metrics: ${text}`));

  if (!options.probe) {
    info('auth', 'not checked; `phone-opus doctor --probe` runs a one-turn consult to check it');
  } else if (cliPath === undefined) {
    info('probe', 'skipped: needs a working Claude CLI');
  } else {
    await probe(config.value, { claudeBin: cliPath, childEnv, containment }, ok, fail);
  }
  return summary(failures, io);
}

function summary(failures: number, io: DoctorIo): number {
  if (failures === 0) {
    io.out('doctor: everything a consult needs is in place');
    return 0;
  }
  io.out(`doctor: ${failures} problem${failures === 1 ? '' : 's'} found`);
  return 1;
}

type Report = (what: string, text: string) => void;
type Fail = (what: string, problem: string, fix: string) => void;

function describeConfig(config: Config, info: Report): void {
  info(
    'limits',
    `max_concurrency=${config.maxConcurrency} max_queue=${config.maxQueue} consult_timeout_s=${config.consultTimeoutS} replay=${config.consultReplay} model=${config.defaultModel ?? '(CLI default)'}`,
  );
  info(
    'telemetry log',
    `${join(config.stateDir, 'mcp', 'telemetry.jsonl')} (prompt text ${config.logPrompts ? 'logged' : 'not logged'})`,
  );
  if (config.allowedRoots !== undefined) info('allowed roots', config.allowedRoots.join(':'));
}

/** Which containment consults get (SPEC §6.4); a fallback works, but is weaker. */
function reportContainment(containment: Containment, ok: Report, warn: (text: string) => void) {
  if (containment.mode === 'pid_namespace') {
    ok(
      'containment',
      'pid_namespace (everything a consult starts ends with it, even if the server is killed)',
    );
  } else {
    warn(
      `process_group: ${containment.reason ?? 'no PID namespace'}; processes that leave a CLI's group may outlive its consult`,
    );
  }
}

/** The CLI's absolute path when it runs and reports a version. */
function checkClaude(claude: ClaudeInfo, ok: Report, fail: Fail): string | undefined {
  if (claude.path === null) {
    fail('claude', `Claude Code CLI not found: ${claude.reason}`, INSTALL_FIX);
    return undefined;
  }
  if (claude.version === null) {
    fail(
      'claude',
      `${claude.path} does not work: ${claude.reason}`,
      `run \`${claude.path} --version\` to see why, or point ${ENV.claudeBin} at a working CLI`,
    );
    return undefined;
  }
  ok('claude', `${claude.path} (version ${claude.version})`);
  return claude.path;
}

/** undefined when the directory can be created and written, else why not. */
function checkStateDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, '', { mode: 0o600 });
    unlinkSync(probe);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function writableIfPresent(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

async function checkMetrics(config: Config, info: Report, warn: (text: string) => void) {
  if (config.metricsPort === undefined) {
    info('metrics', `off (set ${ENV.metricsPort} to serve /metrics and /healthz)`);
    return;
  }
  const where = `${config.metricsHost}:${config.metricsPort}`;
  if (config.metricsPort === 0) {
    info(
      'metrics',
      `${config.metricsHost}, any free port, announced in ${config.stateDir}/prometheus/`,
    );
    return;
  }
  const problem = await new Promise<string | undefined>((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host: config.metricsHost, port: config.metricsPort }, () =>
      server.close(() => resolve(undefined)),
    );
  });
  if (problem === undefined) info('metrics', `${where} is free`);
  else
    warn(
      `${where} cannot be bound now (${problem}; another phone-opus?). Each server needs its own port: ${ENV.metricsPort}=0 with file_sd discovery avoids clashes`,
    );
}

/** One consult, run the way a pool thread runs it, in an empty directory. */
async function probe(
  config: Config,
  cli: { claudeBin: string; childEnv: Record<string, string>; containment: Containment },
  ok: Report,
  fail: Fail,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-doctor-'));
  const timeoutS = Math.min(config.consultTimeoutS, PROBE_MAX_TIMEOUT_S);
  const registry = new ProcessRegistry();
  const taskId = 1;
  const task: ConsultTask = {
    kind: 'consult',
    taskId,
    generation: 1,
    operation: 'doctor.probe',
    request: {
      prompt: PROBE_PROMPT,
      cwd: dir,
      maxTurns: 1,
      ...(config.defaultModel === undefined ? {} : { model: config.defaultModel }),
    },
    crashAfterSpawn: false,
    pidSlot: new SharedArrayBuffer(PID_SLOT_BYTES),
  };
  const post = (event: WorkerEvent) => {
    if (event.type === 'spawned') registry.add(taskId, event.pgid, event.start);
    else if (event.type === 'members') registry.addMembers(taskId, event.members);
    else if (event.type === 'reaped') registry.remove(taskId, event.pgid);
  };
  let stoppedBy: 'timeout' | 'SIGINT' | undefined;
  const stop = (why: 'timeout' | 'SIGINT') => {
    stoppedBy ??= why;
    void registry.stop(taskId, why === 'timeout' ? 'timeout' : 'cancelled');
  };
  // The CLI runs in its own process group, out of reach of the terminal's Ctrl-C.
  const onInterrupt = () => stop('SIGINT');
  process.once('SIGINT', onInterrupt);
  const timer = setTimeout(() => stop('timeout'), timeoutS * 1000);
  const started = performance.now();
  let reply: ConsultReply;
  try {
    const boot = {
      ...cli,
      build: 'doctor',
      allowedRoots: null,
      maxAnswerBytes: 16 * 1024 * 1024,
      answersDir: join(dir, 'answers'),
    };
    reply = await runConsult(task, boot, post, () => {
      throw new Error('unreachable: the probe has no crash hook');
    });
  } finally {
    clearTimeout(timer);
    process.removeListener('SIGINT', onInterrupt);
    registry.killAllNow();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (stoppedBy === 'SIGINT') {
    fail('probe', 'interrupted', 'run `phone-opus doctor --probe` again and let it finish');
    return;
  }
  if (reply.status === 'ok' || (reply.status === 'fault' && reply.fault.reason === 'max_turns')) {
    const facts =
      reply.status === 'ok'
        ? ` (model ${reply.value.model ?? 'unknown'}, cost $${(reply.value.total_cost_usd ?? 0).toFixed(6)})`
        : ' (it used a tool and hit the one-turn limit, but it is logged in)';
    ok('probe', `Claude Code answered a one-turn consult in ${seconds} s${facts}`);
    return;
  }
  if (reply.status === 'terminated') {
    fail(
      'probe',
      stoppedBy === 'timeout'
        ? `no answer within ${timeoutS} s`
        : `Claude Code was killed by ${reply.terminated.signal ?? 'a signal'}`,
      'check network access to the Anthropic API, then try `claude -p "hi"` by hand',
    );
    return;
  }
  const fault = reply.fault;
  const hint = fault.hint?.message ?? 'run `claude -p "hi"` by hand to see what is wrong';
  fail(
    'probe',
    `${fault.fault.code}${fault.reason === undefined ? '' : ` (${fault.reason})`}: ${fault.fault.detail}`,
    hint.replace(/\.$/, ''),
  );
}
