/**
 * Pool thread entry (piscina's default export). It never throws for expected failures:
 * results and faults come back as data, so a rejected task always means the thread died.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  type ConsultReply,
  type PingReply,
  STARTED_INDEX,
  type WorkerBoot,
  type WorkerEvent,
  type WorkerTask,
} from '../shared/wire.ts';
import { runConsult } from './consult.ts';

const boot = workerData as WorkerBoot;

// A thread's stdout is the host's stdout, which carries only MCP frames: anything printed here
// (by us or a dependency) goes to stderr instead.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

/** Test hook (SPEC §6.5): end this thread abruptly, as a crash would. */
const crash = (): never => process.exit(70);

export default async function run(task: WorkerTask): Promise<ConsultReply | PingReply> {
  if (task.kind === 'ping') return { status: 'pong', build: boot.build };
  Atomics.store(new Int32Array(task.pidSlot), STARTED_INDEX, 1);
  // The events this task posts, counted for its reply (ConsultReply.events).
  let events = 0;
  const post = (event: WorkerEvent): void => {
    events += 1;
    parentPort?.postMessage(event);
  };
  const reply = await runConsult(task, boot, post, crash);
  return { ...reply, events };
}
