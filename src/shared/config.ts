/** Server configuration, read once from `PHONE_OPUS_*` variables (SPEC §2). */
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { err, type Outcome, ok } from './outcome.ts';
import { REPLAY_CONTRACTS, type ReplayContract } from './replay.ts';

export type Config = {
  /** Explicit CLI path; when absent, `claude` is looked up on PATH. */
  readonly claudeBin: string | undefined;
  /** @default 4 */
  readonly maxConcurrency: number;
  /** @default 32 */
  readonly maxQueue: number;
  /** Default and maximum consult wall time. @default 1800 */
  readonly consultTimeoutS: number;
  /** @default 15000 */
  readonly progressIntervalMs: number;
  readonly defaultModel: string | undefined;
  /** @default 'never_replay' */
  readonly consultReplay: ReplayContract;
  /** undefined = metrics off; 0 = any free port. */
  readonly metricsPort: number | undefined;
  /** @default '127.0.0.1' */
  readonly metricsHost: string;
  readonly stateDir: string;
  readonly logPrompts: boolean;
  /** How long `consult` waits before returning a pending job; undefined = until the end. */
  readonly defaultWaitS: number | undefined;
  /** How long finished jobs stay retrievable. @default 86400 */
  readonly jobRetentionS: number;
  /** Largest answer returned inline; larger ones are saved to a file. @default 16777216 */
  readonly maxAnswerBytes: number;
  /** Canonical directories a consult cwd must lie in; undefined = any directory. */
  readonly allowedRoots: readonly string[] | undefined;
  readonly testHooks: {
    readonly crashOnceKey: string | undefined;
    readonly forceRolloutKey: string | undefined;
  };
};

export const ENV = {
  claudeBin: 'PHONE_OPUS_CLAUDE_BIN',
  maxConcurrency: 'PHONE_OPUS_MAX_CONCURRENCY',
  maxQueue: 'PHONE_OPUS_MAX_QUEUE',
  consultTimeoutS: 'PHONE_OPUS_CONSULT_TIMEOUT_S',
  progressIntervalMs: 'PHONE_OPUS_PROGRESS_INTERVAL_MS',
  defaultModel: 'PHONE_OPUS_DEFAULT_MODEL',
  consultReplay: 'PHONE_OPUS_CONSULT_REPLAY',
  metricsPort: 'PHONE_OPUS_METRICS_PORT',
  metricsHost: 'PHONE_OPUS_METRICS_HOST',
  stateDir: 'PHONE_OPUS_STATE_DIR',
  logPrompts: 'PHONE_OPUS_LOG_PROMPTS',
  allowedRoots: 'PHONE_OPUS_ALLOWED_ROOTS',
  maxAnswerBytes: 'PHONE_OPUS_MAX_ANSWER_BYTES',
  defaultWaitS: 'PHONE_OPUS_DEFAULT_WAIT_S',
  jobRetentionS: 'PHONE_OPUS_JOB_RETENTION_S',
  crashOnceKey: 'PHONE_OPUS_MCP_TEST_WORKER_CRASH_ONCE_KEY',
  forceRolloutKey: 'PHONE_OPUS_MCP_TEST_FORCE_ROLLOUT_KEY',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** An empty value means "unset", as shells and MCP client configs commonly write it. */
function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) {
    throw new ConfigError(
      `${name}=${JSON.stringify(value)} is not a whole number (allowed ${min}..${max})`,
    );
  }
  const n = Number(value.trim());
  if (n < min || n > max) {
    throw new ConfigError(`${name}=${value} is out of range (allowed ${min}..${max})`);
  }
  return n;
}

function flag(env: Env, name: string): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined || value === '0' || value === 'false' || value === 'no') return false;
  if (value === '1' || value === 'true' || value === 'yes') return true;
  throw new ConfigError(`${name}=${JSON.stringify(value)} is not a switch (use 1 or 0)`);
}

function noNul(name: string, value: string): string {
  if (value.includes('\0')) throw new ConfigError(`${name} must not contain a NUL byte`);
  return value;
}

function defaultStateDir(env: Env): string {
  const xdg = raw(env, 'XDG_STATE_HOME');
  const base =
    xdg !== undefined && isAbsolute(xdg)
      ? xdg
      : join(raw(env, 'HOME') ?? homedir(), '.local', 'state');
  return join(base, 'phone_opus');
}

function allowedRoots(env: Env, cwd: string): readonly string[] | undefined {
  const value = raw(env, ENV.allowedRoots);
  if (value === undefined) return undefined;
  const roots: string[] = [];
  for (const entry of value.split(':')) {
    if (entry === '') continue;
    const path = resolve(cwd, noNul(ENV.allowedRoots, entry));
    let canonical: string;
    try {
      canonical = realpathSync(path);
    } catch {
      throw new ConfigError(`${ENV.allowedRoots}: ${path} does not exist`);
    }
    if (!statSync(canonical).isDirectory()) {
      throw new ConfigError(`${ENV.allowedRoots}: ${path} is not a directory`);
    }
    roots.push(canonical);
  }
  if (roots.length === 0) throw new ConfigError(`${ENV.allowedRoots} names no directory`);
  return roots;
}

/** Parse the environment; an invalid value is an error naming the variable, never a silent default. */
export function readConfig(env: Env, cwd: string): Outcome<Config, string> {
  try {
    const replay = raw(env, ENV.consultReplay) ?? 'never_replay';
    if (!(REPLAY_CONTRACTS as readonly string[]).includes(replay)) {
      throw new ConfigError(
        `${ENV.consultReplay}=${JSON.stringify(replay)} is not one of ${REPLAY_CONTRACTS.join(', ')}`,
      );
    }
    const claudeBin = raw(env, ENV.claudeBin);
    const defaultModel = raw(env, ENV.defaultModel);
    const stateDir = raw(env, ENV.stateDir);
    const metricsHost = raw(env, ENV.metricsHost) ?? '127.0.0.1';
    const metricsPort =
      raw(env, ENV.metricsPort) === undefined
        ? undefined
        : integer(env, ENV.metricsPort, 0, 0, 65535);
    return ok({
      claudeBin: claudeBin === undefined ? undefined : noNul(ENV.claudeBin, claudeBin),
      maxConcurrency: integer(env, ENV.maxConcurrency, 4, 1, 64),
      maxQueue: integer(env, ENV.maxQueue, 32, 0, 10_000),
      consultTimeoutS: integer(env, ENV.consultTimeoutS, 1800, 1, 86_400),
      progressIntervalMs: integer(env, ENV.progressIntervalMs, 15_000, 50, 3_600_000),
      defaultModel: defaultModel === undefined ? undefined : noNul(ENV.defaultModel, defaultModel),
      consultReplay: replay as ReplayContract,
      metricsPort,
      metricsHost: noNul(ENV.metricsHost, metricsHost),
      stateDir:
        stateDir === undefined ? defaultStateDir(env) : resolve(cwd, noNul(ENV.stateDir, stateDir)),
      logPrompts: flag(env, ENV.logPrompts),
      maxAnswerBytes: integer(env, ENV.maxAnswerBytes, 16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
      defaultWaitS:
        raw(env, ENV.defaultWaitS) === undefined
          ? undefined
          : integer(env, ENV.defaultWaitS, 0, 0, 86_400),
      jobRetentionS: integer(env, ENV.jobRetentionS, 86_400, 60, 30 * 86_400),
      allowedRoots: allowedRoots(env, cwd),
      testHooks: {
        crashOnceKey: raw(env, ENV.crashOnceKey),
        forceRolloutKey: raw(env, ENV.forceRolloutKey),
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) return err(error.message);
    throw error;
  }
}
