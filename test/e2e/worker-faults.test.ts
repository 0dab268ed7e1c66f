import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fake, structured } from '../support/fake.ts';
import { waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, type TestServer } from '../support/server.ts';

/**
 * Failures the worker catches are ordinary faults (SPEC §6.5): a `process_failure` naming what
 * failed, no generation bump, no "may have run", and nothing the breaker counts, so no input
 * can open the circuit for everyone.
 */
const health = async (server: TestServer) =>
  structured(await server.call('health_snapshot', { render: 'json', detail: 'full' }));

describe('failures the worker catches', () => {
  it('a cwd replaced by a file while queued: process_failure naming it, no thread lost, circuit closed after 7', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '1' } });
    const work = join(server.dir, 'work');
    mkdirSync(work);
    // The only slot is taken; the consults for `work` wait behind it, already admitted.
    const blocker = new AbortController();
    const first = server
      .call('consult', { prompt: fake({ sleep_ms: 60_000 }) }, { signal: blocker.signal })
      .catch(() => undefined);
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 1,
    );
    const queued = Array.from({ length: 7 }, (_, i) =>
      server.call('consult', { prompt: fake({}, `q${i}`), cwd: work }),
    );
    await waitFor(
      () => health(server),
      (h) => h['queued'] === 7,
    );
    rmSync(work, { recursive: true });
    writeFileSync(work, 'now a file');
    blocker.abort();
    await first;
    for (const result of await Promise.all(queued)) {
      const fault = faultOf(result);
      assert.equal(fault.fault.code, 'process_failure', fault.fault.detail);
      assert.equal(fault.retryable, false);
      assert.match(fault.fault.detail, new RegExp(`cwd: ${work} is no longer a directory`));
      assert.doesNotMatch(JSON.stringify(fault), /may have run/);
    }
    assert.equal(server.cliLog().length, 1, 'no CLI started for them');
    const after = await health(server);
    assert.equal(after['generation'], 1);
    assert.equal(after['restart_count'], 0);
    assert.deepEqual(after['circuit'], { state: 'closed', retry_after_ms: 0 });
    const next = await server.call('consult', { prompt: fake({ result: 'still serving' }) });
    assert.equal(next.isError, undefined);
  });

  it('a cwd deleted while queued is named as the cwd, not as a missing CLI', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_CONCURRENCY: '1' } });
    const work = join(server.dir, 'work');
    mkdirSync(work);
    const blocker = new AbortController();
    const first = server
      .call('consult', { prompt: fake({ sleep_ms: 60_000 }) }, { signal: blocker.signal })
      .catch(() => undefined);
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 1,
    );
    const queued = server.call('consult', { prompt: fake({}), cwd: work });
    await waitFor(
      () => health(server),
      (h) => h['queued'] === 1,
    );
    rmSync(work, { recursive: true });
    blocker.abort();
    await first;
    const fault = faultOf(await queued);
    assert.equal(fault.fault.code, 'process_failure');
    assert.match(fault.fault.detail, new RegExp(`^cwd: ${work} no longer exists`));
    assert.doesNotMatch(fault.fault.detail, /not found/);
    assert.equal((await health(server))['generation'], 1);
  });

  it('descriptor exhaustion: a retryable process_failure; consults work again once descriptors are free', async (t) => {
    const server = await startTestServer(t);
    await server.call('consult', { prompt: fake({}, 'warm') }); // a thread, before the limit
    // Lower the server's soft descriptor limit to its lowest free descriptor number: every
    // descriptor it then tries to open fails with EMFILE.
    const used = new Set(readdirSync(`/proc/${server.pid}/fd`).map(Number));
    let lowestFree = 0;
    while (used.has(lowestFree)) lowestFree += 1;
    const hard = /Max open files\s+\S+\s+(\S+)/.exec(
      readFileSync(`/proc/${server.pid}/limits`, 'utf8'),
    )?.[1];
    const prlimit = (soft: string) =>
      execFileSync('prlimit', [`--pid=${server.pid}`, `--nofile=${soft}:${hard}`]);
    prlimit(String(lowestFree));
    let fault: ReturnType<typeof faultOf>;
    try {
      fault = faultOf(await server.call('consult', { prompt: fake({}) }));
    } finally {
      prlimit(hard ?? '1024');
    }
    assert.equal(fault.fault.code, 'process_failure', fault.fault.detail);
    assert.equal(fault.retryable, true);
    assert.match(fault.fault.detail, /out of file descriptors or memory \(EMFILE/);
    const again = await server.call('consult', { prompt: fake({ result: 'back' }) });
    assert.equal(again.isError, undefined);
    const after = await health(server);
    assert.equal(after['generation'], 1);
    assert.equal(after['restart_count'], 0);
  });

  it('an unusable TMPDIR: process_failure naming it, no thread lost', async (t) => {
    const missing = join(realpathSync('/tmp'), 'phone-opus-no-such-tmpdir', 'nested');
    const server = await startTestServer(t, { env: { TMPDIR: missing } });
    for (let i = 0; i < 2; i++) {
      const fault = faultOf(await server.call('consult', { prompt: fake({}) }));
      assert.equal(fault.fault.code, 'process_failure', fault.fault.detail);
      assert.match(fault.fault.detail, new RegExp(`TMPDIR \\(${missing}\\)`));
      assert.match(fault.hint?.message ?? '', /TMPDIR/);
      assert.equal(fault.retryable, false);
    }
    assert.deepEqual(server.cliLog(), []);
    const after = await health(server);
    assert.equal(after['generation'], 1);
    assert.equal(after['restart_count'], 0);
  });
});
