/**
 * The composition root of the stdio server: builds every part in dependency order, connects,
 * and hands back shutdown. The path of one consult through the parts is in the README's
 * "How it works".
 */
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createCatalog } from '../shared/catalog.ts';
import { claudeChildEnv, DEFAULT_CLAUDE_BIN } from '../shared/claude-cli.ts';
import type { Config } from '../shared/config.ts';
import { createFault } from '../shared/fault.ts';
import { self } from '../shared/proc-scan.ts';
import { type Clock, systemClock } from './clock.ts';
import { Admission } from './consult/admission.ts';
import { ConsultService } from './consult/consult-service.ts';
import { Supervisor } from './consult/supervisor.ts';
import { JobService } from './jobs/job-service.ts';
import { JobStore } from './jobs/job-store.ts';
import type { Logger } from './log.ts';
import { createDispatcher } from './mcp/dispatch.ts';
import { serveSession } from './mcp/session.ts';
import { GuardedStdioTransport } from './mcp/stdio-transport.ts';
import { HostViews } from './observability/host-views.ts';
import { JsonlWriter } from './observability/jsonl-writer.ts';
import { MetricsController } from './observability/metrics-controller.ts';
import { Recorder } from './observability/recorder.ts';
import { Telemetry } from './observability/telemetry.ts';
import { PoolManager } from './pool/pool-manager.ts';
import { TaskEvents } from './pool/task-events.ts';
import { TreeRegistry } from './pool/tree-registry.ts';
import { locatePiscina } from './pool/worker-pool.ts';
import { createShutdown } from './shutdown.ts';
import { Environment } from './state/environment.ts';
import { housekeeping } from './state/housekeeping.ts';
import { SessionStore } from './state/session-store.ts';

export type ServerOptions = {
  readonly config: Config;
  readonly version: string;
  readonly workerFile: string;
  /** The host bundle itself: a change is reported (it cannot be swapped in place). */
  readonly hostFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly log: Logger;
  readonly exit: (code: number) => void;
  readonly clock?: Clock;
};

/**
 * Metrics start once the MCP handshake is done, so that loading prom-client never delays
 * `initialize`; a client that never finishes the handshake gets them after this delay.
 */
const METRICS_START_FALLBACK_MS = 1000;
/** Finished jobs kept at most (besides their retention time). */
const MAX_JOBS = 1000;

export async function startServer(
  options: ServerOptions,
): Promise<{ shutdown: (reason: string) => Promise<void> }> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const startedAt = clock.monotonicMs();
  const catalog = createCatalog(config);
  const hooks = testHooks(config);

  // Observability: counters, the call log, Prometheus, and the one recorder feeding them.
  const telemetry = new Telemetry();
  const supervisor = new Supervisor(clock);
  const metrics = new MetricsController({
    port: config.metricsPort,
    host: config.metricsHost,
    stateDir: config.stateDir,
    cwd: options.cwd,
    pid: process.pid,
    log,
  });
  const callLog = new JsonlWriter({ path: join(config.stateDir, 'mcp', 'telemetry.jsonl'), log });
  callLog.open();
  const recorder = new Recorder({
    telemetry,
    callLog,
    metrics,
    clock,
    onRecorded: (operation) => hooks.afterOperation(operation),
  });

  // Process trees and the worker pools that report them.
  const registry = new TreeRegistry((reason) => metrics.childKilled(reason));
  const events = new TaskEvents((event) => {
    if (event.type !== 'spawned') return;
    log(`a worker reported a CLI for task ${event.taskId}, which nobody runs; ending it`);
    void registry.track(event.pgid, event.start).stop('thread_lost');
  });
  const childEnv = claudeChildEnv(options.env);
  const environment = new Environment(
    config.claudeBin ?? DEFAULT_CLAUDE_BIN,
    childEnv,
    options.cwd,
  );
  const tidyUp = housekeeping(config.stateDir, log);
  const pools = new PoolManager({
    workerFile: options.workerFile,
    hostFile: options.hostFile,
    boot: async () => ({
      claudeBin: config.claudeBin ?? DEFAULT_CLAUDE_BIN,
      childEnv,
      maxAnswerBytes: config.maxAnswerBytes,
      answersDir: join(config.stateDir, 'answers'),
      allowedRoots: config.allowedRoots ?? null,
      containment: await environment.containment(),
    }),
    maxThreads: config.maxConcurrency,
    log,
    onEvent: (event) => events.deliver(event),
    onThreadLost: (loss) => {
      supervisor.threadLost();
      log(
        `worker thread lost (${loss.kind}): ${loss.message}; generation is now ${supervisor.generation}`,
      );
    },
    onRolled: () => supervisor.rolled(),
    onFailed: (detail) =>
      supervisor.fault(
        createFault(
          'rollout_failure',
          { generation: supervisor.generation, stage: 'rollout', operation: 'rollout' },
          detail,
        ),
      ),
    drainTimeoutMs: config.consultTimeoutS * 1000 + 10_000,
  });

  // Consults: admission, then one invocation each.
  const admission = new Admission(config.maxConcurrency, config.maxQueue);
  const consults = new ConsultService({
    pool: async () => {
      tidyUp();
      return pools.current();
    },
    events,
    registry,
    supervisor,
    admission,
    clock,
    contract: config.consultReplay,
    takeCrashHook: (operation) => hooks.takeCrash(operation),
  });
  pools.ondraintimeout = (pool) => consults.stopPool(pool);
  const sessions = new SessionStore(config.stateDir, log);
  const jobs = new JobService({
    store: new JobStore(config.stateDir, log),
    consults,
    recorder,
    sessions,
    clock,
    owner: self(),
    generation: () => supervisor.generation,
    logPrompts: config.logPrompts,
    retentionMs: config.jobRetentionS * 1000,
    maxJobs: MAX_JOBS,
  });

  // The MCP side: the tool table, the session and the transport.
  const views = new HostViews({
    config,
    version: options.version,
    clock,
    startedAt,
    supervisor,
    admission,
    pools,
    environment,
    telemetry,
    metrics,
    callLog,
    jobs,
    draining: () => consults.shuttingDown,
  });
  const dispatcher = createDispatcher({
    catalog,
    config,
    jobs,
    sessions,
    recorder,
    supervisor,
    clock,
    serverCwd: options.cwd,
    health: () => views.health(),
    telemetryView: () => views.telemetry(),
  });
  const transport = new GuardedStdioTransport(options.stdin, options.stdout);

  // Once the session is open: what must never delay its first answer.
  const startMetrics = () =>
    void metrics.start({ sources: views.metricSources(), health: () => views.health() });
  transport.onopened = () => {
    locatePiscina();
    void environment.probe();
    startMetrics();
    tidyUp();
    jobs.startSweeping();
  };
  if (config.metricsPort !== undefined) {
    setTimeout(startMetrics, METRICS_START_FALLBACK_MS).unref();
  }

  const shutdown = createShutdown({
    consults,
    jobs,
    registry,
    pools,
    callLog,
    metrics,
    transport,
    clock,
    log,
    exit: options.exit,
  });
  // Last resort (uncaught exception, hard exit): no CLI outlives the server, however it ends.
  process.once('exit', () => {
    registry.killAllNow();
    metrics.removeDiscoverySync();
    callLog.close();
  });
  hooks.onRollout(() => void pools.rollout(true));

  transport.oninputend = () => void shutdown('stdin closed');
  transport.onoutputbroken = () => void shutdown('stdout closed');
  transport.onactivity = () => pools.check();
  transport.onanswered = (method, latencyMs, error) => {
    if (method !== 'tools/call') recorder.protocol(method, latencyMs, error);
  };
  serveSession({ version: options.version, catalog, dispatcher, jobs, transport });
  return { shutdown };
}

/**
 * The test hooks (SPEC §6.5, §9): the first consult of the configured operation loses its
 * thread after spawning the CLI; one forced rollout right after the first completion of the
 * configured operation. Each fires once per server process.
 */
function testHooks(config: Config) {
  let crashArmed = config.testHooks.crashOnceKey !== undefined;
  let rolloutArmed = config.testHooks.forceRolloutKey !== undefined;
  let rollout = () => {};
  return {
    takeCrash(operation: string): boolean {
      if (!crashArmed || operation !== config.testHooks.crashOnceKey) return false;
      crashArmed = false;
      return true;
    },
    onRollout(run: () => void): void {
      rollout = run;
    },
    afterOperation(operation: string): void {
      if (!rolloutArmed || operation !== config.testHooks.forceRolloutKey) return;
      rolloutArmed = false;
      rollout();
    },
  };
}
