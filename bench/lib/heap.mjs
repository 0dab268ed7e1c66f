// The main thread's reachable heap, from a heap snapshot that the server writes on a signal
// (`node --heapsnapshot-signal=SIGUSR2 …`): the sum of the self sizes of every node but compiled
// code (JIT output grows as functions get hot, then stops). A snapshot collects garbage first,
// so this is what rss_growth's leak guard compares, not V8's heap capacity (which grows with
// the allocation rate and shows up in RSS).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './env.mjs';

export const SNAPSHOT_ARGS = ['--heapsnapshot-signal=SIGUSR2'];

export async function reachableHeapMb(pid, dir, limitMs = 60_000) {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + limitMs;
  let file;
  let size = -1;
  while (Date.now() < deadline) {
    await sleep(250);
    file ??= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    const now = statSync(join(dir, file)).size;
    if (now > 0 && now === size) break; // written completely
    size = now;
  }
  if (file === undefined) throw new Error('the server wrote no heap snapshot');
  const path = join(dir, file);
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  rmSync(path);
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const codeType = meta.node_types[0].indexOf('code');
  const type = fields.indexOf('type');
  const selfSize = fields.indexOf('self_size');
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (snapshot.nodes[i + type] !== codeType) total += snapshot.nodes[i + selfSize];
  }
  return total / 2 ** 20;
}
