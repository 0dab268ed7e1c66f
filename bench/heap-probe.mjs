// Bench-only preload for the server (`node --expose-gc --import bench/heap-probe.mjs …`): on
// SIGUSR2 the main thread runs a full GC and prints its live heap and RSS on stderr, so that
// rss_growth can tell retained memory from a heap that V8 simply has not shrunk yet.
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    const live = v8.getHeapStatistics().used_heap_size;
    const { rss } = process.memoryUsage();
    process.stderr.write(`[heap-probe] ${JSON.stringify({ live, rss })}\n`);
  });
}
