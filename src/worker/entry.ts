import { parentPort, workerData } from 'node:worker_threads';
import type {
  ConsultReply,
  PingReply,
  WorkerBoot,
  WorkerEvent,
  WorkerTask,
} from '../shared/wire.ts';
import { runConsult } from './consult.ts';

/**
 * Pool thread entry (piscina's default export). It never throws for expected failures:
 * results and faults come back as data, so a rejected task always means the thread died.
 */
const boot = workerData as WorkerBoot;

const post = (event: WorkerEvent): void => parentPort?.postMessage(event);

/** Test hook (SPEC §6.5): end this thread abruptly, as a crash would. */
const crash = (): never => process.exit(70);

export default async function run(task: WorkerTask): Promise<ConsultReply | PingReply> {
  if (task.kind === 'ping') return { status: 'pong', build: boot.build };
  return runConsult(task, boot, post, crash);
}
