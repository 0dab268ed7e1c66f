/**
 * `phone-opus doctor [--probe]` (SPEC §2): is everything a consult needs in place? Prints one
 * `ok`/`info`/`warn` line per fact on stdout and one `FAIL … Fix: …` line per problem on stderr.
 * `--probe` runs a one-turn consult through the server's own consult path (a one-thread pool:
 * same argv, environment, containment, output capture and classification) to prove that
 * Claude Code is logged in.
 * Exit 0 only if nothing failed.
 */
import { constants, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../host/clock.ts';
import { Admission } from '../host/consult/admission.ts';
import { ConsultService } from '../host/consult/consult-service.ts';
import type { ConsultOutcome } from '../host/consult/outcome-faults.ts';
import { Supervisor } from '../host/consult/supervisor.ts';
import { TaskEvents } from '../host/pool/task-events.ts';
import { TreeRegistry } from '../host/pool/tree-registry.ts';
import { loadPiscina, WorkerPool } from '../host/pool/worker-pool.ts';
import { type ClaudeInfo, probeClaude } from '../host/state/claude-probe.ts';
import { claudeChildEnv, DEFAULT_CLAUDE_BIN } from '../shared/claude-cli.ts';
import { type Config, ENV, readConfig } from '../shared/config.ts';
import { type Containment, detectContainment } from '../shared/containment.ts';
import { workerFile } from './paths.ts';

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

/** One consult through the server's own consult path (a one-thread pool), in an empty directory. */
async function probe(
  config: Config,
  cli: { claudeBin: string; childEnv: Record<string, string>; containment: Containment },
  ok: Report,
  fail: Fail,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-doctor-'));
  const timeoutS = Math.min(config.consultTimeoutS, PROBE_MAX_TIMEOUT_S);
  loadPiscina();
  const registry = new TreeRegistry();
  const events = new TaskEvents(() => {});
  const pool = new WorkerPool({
    workerFile: workerFile(),
    boot: {
      ...cli,
      build: 'doctor',
      allowedRoots: null,
      maxAnswerBytes: config.maxAnswerBytes,
      answersDir: join(dir, 'answers'),
    },
    maxThreads: 1,
    onEvent: (event) => events.deliver(event),
    onThreadLost: () => {},
  });
  const consults = new ConsultService({
    pool: async () => pool,
    events,
    registry,
    supervisor: new Supervisor(systemClock),
    admission: new Admission(1, 0),
    clock: systemClock,
    contract: 'never_replay',
    takeCrashHook: () => false,
  });
  // The CLI runs in its own process group, out of reach of the terminal's Ctrl-C.
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.once('SIGINT', onInterrupt);
  const started = performance.now();
  let outcome: ConsultOutcome;
  try {
    outcome = await consults.run({
      request: {
        prompt: PROBE_PROMPT,
        cwd: dir,
        maxTurns: 1,
        ...(config.defaultModel === undefined ? {} : { model: config.defaultModel }),
      },
      timeoutMs: timeoutS * 1000,
      signal: interrupt.signal,
      progress: undefined,
    });
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    await pool.destroy();
    registry.killAllNow();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (outcome.kind === 'cancelled') {
    fail('probe', 'interrupted', 'run `phone-opus doctor --probe` again and let it finish');
    return;
  }
  if (outcome.kind === 'ok' || outcome.fault.reason === 'max_turns') {
    const facts =
      outcome.kind === 'ok'
        ? ` (model ${outcome.value.model ?? 'unknown'}, cost $${(outcome.value.total_cost_usd ?? 0).toFixed(6)})`
        : ' (it used a tool and hit the one-turn limit, but it is logged in)';
    ok('probe', `Claude Code answered a one-turn consult in ${seconds} s${facts}`);
    return;
  }
  if (outcome.fault.fault.code === 'timeout') {
    fail(
      'probe',
      `no answer within ${timeoutS} s`,
      'check network access to the Anthropic API, then try `claude -p "hi"` by hand',
    );
    return;
  }
  const fault = outcome.fault;
  const hint = fault.hint?.message ?? 'run `claude -p "hi"` by hand to see what is wrong';
  fail(
    'probe',
    `${fault.fault.code}${fault.reason === undefined ? '' : ` (${fault.reason})`}: ${fault.fault.detail}`,
    hint.replace(/\.$/, ''),
  );
}
