/**
 * Shutdown (SPEC §6.6): on stdin EOF, a broken stdout or a signal, stop accepting work, stop
 * every CLI tree, let the stopped consults (and requests read just before the end of input)
 * answer while stdout works, close the pools, the log and the metrics endpoint, deliver what
 * waits for a slow client, and exit 0 — within 5 s, whatever hangs.
 */
import type { Clock } from './clock.ts';
import type { ConsultService } from './consult/consult-service.ts';
import type { JobService } from './jobs/job-service.ts';
import type { Logger } from './log.ts';
import type { GuardedStdioTransport } from './mcp/stdio-transport.ts';
import type { JsonlWriter } from './observability/jsonl-writer.ts';
import type { MetricsController } from './observability/metrics-controller.ts';
import type { PoolManager } from './pool/pool-manager.ts';
import type { TreeRegistry } from './pool/tree-registry.ts';

/** This leaves margin for the exit itself. */
const SHUTDOWN_HARD_MS = 4500;
const KILL_GRACE_MS = 2000;
/** How long stopped consults get to send their one response. */
const SETTLE_MS = 1000;

export type ShutdownParts = {
  readonly consults: ConsultService;
  readonly jobs: JobService;
  readonly registry: TreeRegistry;
  readonly pools: PoolManager;
  readonly callLog: JsonlWriter;
  readonly metrics: MetricsController;
  readonly transport: GuardedStdioTransport;
  readonly clock: Clock;
  readonly log: Logger;
  readonly exit: (code: number) => void;
};

export function createShutdown(p: ShutdownParts): (reason: string) => Promise<void> {
  let running: Promise<void> | undefined;
  return (reason) => {
    running ??= shutdown(p, reason);
    return running;
  };
}

async function shutdown(p: ShutdownParts, reason: string): Promise<void> {
  const { clock, registry } = p;
  const began = clock.monotonicMs();
  p.log(`shutting down: ${reason}`);
  const hard = setTimeout(() => {
    registry.killAllNow();
    p.exit(0);
  }, SHUTDOWN_HARD_MS);
  hard.unref();
  p.jobs.beginShutdown();
  p.consults.beginShutdown();
  await registry.stopAll('shutdown', KILL_GRACE_MS);
  const settleBy = clock.monotonicMs() + SETTLE_MS;
  while (
    (p.consults.inFlight > 0 || p.transport.pendingRequests > 0) &&
    clock.monotonicMs() < settleBy
  ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await p.pools.destroy();
  registry.killAllNow();
  p.jobs.close();
  p.callLog.close();
  await p.metrics.close().catch(() => {});
  // Answers waiting for a slow client are delivered if it still reads.
  await p.transport.flush(Math.max(0, SHUTDOWN_HARD_MS - 500 - (clock.monotonicMs() - began)));
  await p.transport.close();
  clearTimeout(hard);
  p.exit(0);
}
