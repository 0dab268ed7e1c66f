import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { metricsUrl, scrape } from '../support/metrics.ts';
import { waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const health = async (server: {
  call: (n: string, a?: Record<string, unknown>) => Promise<unknown>;
}) =>
  (
    (await server.call('health_snapshot', { render: 'json', detail: 'full' })) as {
      structuredContent: {
        state: string;
        generation: number;
        last_fault: { fault: { code: string } } | null;
        claude: { version: string | null } | null;
      };
    }
  ).structuredContent;

describe('file descriptors', () => {
  it('caps connections to the metrics endpoint, so no local process can exhaust descriptors', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_METRICS_PORT: '0' } });
    const base = await metricsUrl(server);
    const url = new URL(base);
    const before = openFds(server.pid);
    const sockets: Socket[] = [];
    t.after(() => {
      for (const socket of sockets) socket.destroy();
    });
    const settled: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => {});
      sockets.push(socket);
      settled.push(
        new Promise((resolve) => socket.once('connect', resolve).once('close', resolve)),
      );
    }
    // Every connection has reached the server (the kernel accepted it; the server then kept it
    // or closed it at once): what the server holds now is what 300 attackers cost it.
    await Promise.all(settled);
    const during = await waitFor(
      () => openFds(server.pid),
      (n) => n - before <= 24,
      3000,
    );
    assert.ok(during - before <= 24, `300 idle connections took ${during - before} descriptors`);
    const ok = await server.call('consult', { prompt: 'still working?' });
    assert.equal(ok.isError, undefined, textOf(ok as never));
    for (const socket of sockets) socket.destroy();
    // Once they are gone, scrapes are served again.
    const scraped = await waitFor(
      () => scrape(base).catch(() => new Map<string, number>()),
      (samples) => samples.has('phone_opus_in_flight'),
      5000,
      50,
    );
    assert.ok(scraped.has('phone_opus_in_flight'));
  });

  it('recovers from a transient descriptor shortage, and health is not ready meanwhile', async (t) => {
    const server = await startTestServer(t);
    assert.equal((await health(server)).state, 'cold');
    const limit = () =>
      execFileSync(
        'prlimit',
        ['--pid', String(server.pid), '--nofile', '--noheadings', '--output=SOFT,HARD'],
        {
          encoding: 'utf8',
        },
      )
        .trim()
        .split(/\s+/);
    const [soft, hard] = limit();
    // After start the server asks the CLI for its version in the background; that child holds
    // up to 8 descriptors until it exits. Freed after the count below, they would let the pool
    // and a thread start and the CLI's spawn fail instead (seen on Node 24, where the fake CLI
    // starts more slowly): wait for the answer first.
    const probed = await waitFor(
      () => health(server),
      (h) => h.claude !== null,
      10_000,
      50,
    );
    assert.notEqual(probed.claude, null, 'the CLI version probe finished');
    // No descriptor left for anything new: the first consult cannot load the pool.
    execFileSync('prlimit', [
      '--pid',
      String(server.pid),
      `--nofile=${openFds(server.pid)}:${hard}`,
    ]);
    const failed = await server.call('consult', { prompt: 'during the shortage' });
    assert.equal(failed.isError, true);
    const f = faultOf(failed as never);
    assert.equal(f.fault.code, 'process_failure', f.fault.detail);
    assert.equal(f.retryable, true, f.fault.detail);
    // Where it ran out depends on how many descriptors were free: loading the pool, starting a
    // thread, or the worker's own files. Each is a retryable process failure, not a lost thread.
    assert.match(f.fault.detail, /nothing ran|out of file descriptors/);
    const during = await health(server);
    assert.equal(during.generation, 1, 'no thread was lost');
    assert.equal(during.state, 'degraded');
    assert.equal(during.last_fault?.fault.code, 'process_failure');
    execFileSync('prlimit', ['--pid', String(server.pid), `--nofile=${soft}:${hard}`]);
    const ok = await server.call('consult', { prompt: 'after the shortage' });
    assert.equal(ok.isError, undefined, textOf(ok as never));
    assert.equal((await health(server)).state, 'ready');
  });
});
