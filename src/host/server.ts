import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createCatalog } from '../shared/catalog.ts';
import { claudeChildEnv } from '../shared/claude-cli.ts';
import type { Config } from '../shared/config.ts';
import { type Containment, describeContainment, detectContainment } from '../shared/containment.ts';
import { faults } from '../shared/fault.ts';
import { type Clock, systemClock } from './clock.ts';
import { Admission } from './consult/admission.ts';
import { ConsultRunner } from './consult/consult-service.ts';
import { Supervisor } from './consult/supervisor.ts';
import type { Logger } from './log.ts';
import { type CallRecord, createDispatcher } from './mcp/dispatch.ts';
import { createSession } from './mcp/session.ts';
import { GuardedStdioTransport } from './mcp/stdio-transport.ts';
import { pruneDiscoveryFiles } from './observability/discovery.ts';
import { JsonlWriter } from './observability/jsonl-writer.ts';
import { MetricsController } from './observability/metrics-controller.ts';
import { type HealthView, lifecycle, type TelemetryView } from './observability/snapshots.ts';
import { Telemetry } from './observability/telemetry.ts';
import { telemetryLine } from './observability/telemetry-log.ts';
import { PoolManager } from './pool/pool-manager.ts';
import { ProcessRegistry } from './pool/tree-registry.ts';
import { removeAbandonedOutputDirs } from './state/abandoned-output.ts';
import { type ClaudeInfo, DEFAULT_CLAUDE_BIN, probeClaude } from './state/claude-probe.ts';
import { SessionStore } from './state/session-store.ts';

/** Composition root of the stdio server: builds every part, connects, and owns shutdown. */
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

/** Shutdown must finish within 5 s (SPEC §6.6); this leaves margin for the exit itself. */
const SHUTDOWN_HARD_MS = 4500;
const SHUTDOWN_KILL_GRACE_MS = 2000;

export async function startServer(
  options: ServerOptions,
): Promise<{ shutdown: (reason: string) => Promise<void> }> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const startedAt = clock.monotonicMs();
  const catalog = createCatalog(config);
  const telemetry = new Telemetry();
  const supervisor = new Supervisor(clock);
  const registry = new ProcessRegistry((reason) => metrics.childKilled(reason));
  const childEnv = claudeChildEnv(options.env);
  const claudeBin = config.claudeBin ?? DEFAULT_CLAUDE_BIN;
  let everStarted = false;
  let draining = false;

  // Probed once, lazily (never on the path to `initialize`): the first consult or the
  // post-handshake `--version` probe waits for it.
  let containment: Containment | null = null;
  const contain = () =>
    detectContainment().then((found) => {
      containment = found;
      return found;
    });

  let runner: ConsultRunner | undefined;
  const pools = new PoolManager({
    workerFile: options.workerFile,
    hostFile: options.hostFile,
    boot: async () => ({
      claudeBin,
      childEnv,
      maxAnswerBytes: config.maxAnswerBytes,
      answersDir: join(config.stateDir, 'answers'),
      allowedRoots: config.allowedRoots ?? null,
      containment: await contain(),
    }),
    maxThreads: config.maxConcurrency,
    log,
    onEvent: (event) => runner?.onWorkerEvent(event),
    onThreadLost: (loss) => {
      supervisor.threadLost();
      log(
        `worker thread lost (${loss.kind}): ${loss.message}; generation is now ${supervisor.generation}`,
      );
    },
    onRolled: () => supervisor.rolled(),
    onFailed: (detail) =>
      supervisor.fault(
        faults.rolloutFailure(
          { generation: supervisor.generation, stage: 'rollout', operation: 'rollout' },
          detail,
        ),
      ),
    drainTimeoutMs: config.consultTimeoutS * 1000 + 10_000,
    onDrainTimeout: async (pool) => runner?.stopPool(pool),
  });
  const admission = new Admission(config.maxConcurrency, config.maxQueue);
  let crashHookArmed = config.testHooks.crashOnceKey !== undefined;
  runner = new ConsultRunner({
    pool: async () => {
      const pool = await pools.current();
      everStarted = true;
      sweepOutputDirs();
      return pool;
    },
    registry,
    supervisor,
    admission,
    clock,
    contract: config.consultReplay,
    takeCrashHook: (operation) => {
      if (!crashHookArmed || operation !== config.testHooks.crashOnceKey) return false;
      crashHookArmed = false;
      return true;
    },
    onRetry: (operation) => telemetry.retry(operation),
  });
  const sessions = new SessionStore(config.stateDir, log);
  const callLog = new JsonlWriter({ path: join(config.stateDir, 'mcp', 'telemetry.jsonl'), log });
  callLog.open();

  // Once per server, after the handshake or at the first consult, whichever comes first.
  let swept = false;
  function sweepOutputDirs(): void {
    if (swept) return;
    swept = true;
    void removeAbandonedOutputDirs().then((removed) => {
      if (removed.length > 0)
        log(`removed ${removed.length} output dir(s) left by servers that are gone`);
    });
  }

  let claude: ClaudeInfo | null = null;
  const probe = () => {
    contain()
      .then((found) => probeClaude(claudeBin, childEnv, options.cwd, found))
      .then((info) => {
        claude = info;
      })
      .catch((error: Error) => {
        claude = { path: null, version: null, reason: error.message };
      });
  };

  const health = (): HealthView => {
    const now = clock.monotonicMs();
    const circuit = supervisor.breaker.state(now);
    return {
      state: lifecycle({
        draining,
        circuit,
        recovering: supervisor.recovering,
        poolUnavailable: pools.unavailable !== undefined,
        running: admission.running,
        capacity: admission.capacity,
        everStarted,
      }),
      generation: supervisor.generation,
      uptime_ms: Math.round(now - startedAt),
      threads: pools.threads,
      in_flight: admission.running,
      queued: admission.queued,
      max_concurrency: config.maxConcurrency,
      consecutive_failures: supervisor.consecutiveFailures,
      restart_count: supervisor.restartCount,
      circuit: { state: circuit, retry_after_ms: Math.round(supervisor.breaker.retryAfterMs(now)) },
      rollout: pools.state,
      host_code_changed: pools.hostCodeChanged,
      last_fault: supervisor.lastFault,
      claude,
      containment: containment === null ? null : describeContainment(containment),
      metrics: metrics.status,
      telemetry_log: callLog.status,
    };
  };
  const metrics = new MetricsController({
    port: config.metricsPort,
    host: config.metricsHost,
    stateDir: config.stateDir,
    cwd: options.cwd,
    pid: process.pid,
    health,
    log,
    sources: {
      version: options.version,
      inFlight: () => admission.running,
      queued: () => admission.queued,
      generation: () => supervisor.generation,
      restarts: () => supervisor.restartCount,
      replays: () => telemetry.totals.retries,
      claudeVersion: () => claude?.version ?? null,
    },
  });
  const onCallComplete = (record: CallRecord): void => {
    callLog.write(telemetryLine(record, { nowMs: clock.nowMs(), logPrompts: config.logPrompts }));
    metrics.request(record.operation, record.outcome, record.latency_ms);
    if (record.consult !== undefined && record.outcome === 'ok') {
      metrics.consultUsage(record.consult.model, record.consult.cost_usd, record.consult.usage);
    }
    afterOperation(record.operation);
  };
  const telemetryView = (): TelemetryView => ({
    uptime_ms: Math.round(clock.monotonicMs() - startedAt),
    generation: supervisor.generation,
    totals: { ...telemetry.totals },
    worker_restarts: supervisor.restartCount,
    host_rollouts: supervisor.rollouts,
    consult: telemetry.usage(),
    methods: telemetry.methods(),
  });

  const callTool = createDispatcher({
    catalog,
    config,
    runner,
    sessions,
    telemetry,
    supervisor,
    clock,
    serverCwd: options.cwd,
    health,
    telemetryView,
    onCallComplete,
  });

  // Test hook (SPEC §9): one forced rollout right after the first completion of an operation.
  let forceRolloutArmed = config.testHooks.forceRolloutKey !== undefined;
  function afterOperation(operation: string): void {
    if (!forceRolloutArmed || operation !== config.testHooks.forceRolloutKey) return;
    forceRolloutArmed = false;
    void pools.rollout(true);
  }

  let transport: GuardedStdioTransport | undefined;
  const mcp = createSession({
    version: options.version,
    catalog,
    callTool,
    clientId: (id) => transport?.clientId(id),
  });
  mcp.oninitialized = () => {
    probe();
    void metrics.start();
    // Housekeeping that must not delay the handshake: what killed servers left behind.
    sweepOutputDirs();
    setImmediate(() => pruneDiscoveryFiles(config.stateDir));
  };
  if (config.metricsPort !== undefined) {
    setTimeout(() => void metrics.start(), METRICS_START_FALLBACK_MS).unref();
  }
  // Last resort (uncaught exception, hard exit): no stale discovery file, log on disk.
  process.once('exit', () => {
    registry.killAllNow(); // no CLI outlives the server, however it ends
    metrics.removeDiscoverySync();
    callLog.close();
  });

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    if (shuttingDown !== undefined) return shuttingDown;
    draining = true;
    const began = clock.monotonicMs();
    log(`shutting down: ${reason}`);
    const hard = setTimeout(() => {
      registry.killAllNow();
      options.exit(0);
    }, SHUTDOWN_HARD_MS);
    hard.unref();
    shuttingDown = (async () => {
      runner.beginShutdown();
      await registry.stopAll('shutdown', SHUTDOWN_KILL_GRACE_MS);
      // Let stopped consults, and requests read just before the end of input, send their one
      // response while stdout still works.
      const settleBy = clock.monotonicMs() + 1000;
      while (
        (runner.inFlight > 0 || (transport?.pendingRequests ?? 0) > 0) &&
        clock.monotonicMs() < settleBy
      )
        await sleep(10);
      await pools.destroy();
      registry.killAllNow();
      callLog.close();
      await metrics.close().catch(() => {});
      // Answers waiting for a slow client are delivered if it still reads.
      await transport?.flush(Math.max(0, SHUTDOWN_HARD_MS - 500 - (clock.monotonicMs() - began)));
      await transport?.close();
      clearTimeout(hard);
      options.exit(0);
    })();
    return shuttingDown;
  };

  transport = new GuardedStdioTransport(options.stdin, options.stdout, {
    onInputEnd: () => void shutdown('stdin closed'),
    onOutputBroken: () => void shutdown('stdout closed'),
    onMessage: () => pools.check(),
    onResponse: (method, latencyMs, error) => {
      if (method === 'tools/call') return;
      telemetry.completeProtocol(method, latencyMs, error);
      metrics.request(protocolMethod(method), error ? 'error' : 'ok', latencyMs);
      afterOperation(method);
    },
  });
  await mcp.connect(transport);
  return { shutdown };
}

/** MCP request methods; anything else a client sends is counted as `other` (bounded labels). */
const PROTOCOL_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'logging/setLevel',
  'completion/complete',
]);

export const protocolMethod = (method: string): string =>
  PROTOCOL_METHODS.has(method) ? method : 'other';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
