import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { structured } from '../support/fake.ts';
import { ROOT } from '../support/paths.ts';
import { waitFor } from '../support/proc.ts';
import { startTestServer, textOf } from '../support/server.ts';

/** A private copy of the built program, so a test can rewrite its worker bundle. */
function installCopy(t: TestContext): { bin: string; worker: string; host: string } {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return {
    bin: join(dir, 'bin', 'phone-opus.js'),
    worker: join(dir, 'dist', 'worker.js'),
    host: join(dir, 'dist', 'cli.js'),
  };
}

/** Rewrite the worker bundle with a different build stamp (a comment changes its fingerprint). */
const restamp = (file: string, stamp: string) =>
  writeFileSync(
    file,
    `${readFileSync(file, 'utf8').replace(/\n\/\/ stamp .*\n$/, '\n')}\n// stamp ${stamp}\n`,
  );

const health = async (server: Awaited<ReturnType<typeof startTestServer>>) =>
  structured(await server.call('health_snapshot', { render: 'json', detail: 'full' }));
const build = async (
  server: Awaited<ReturnType<typeof startTestServer>>,
  prompt = 'which build?',
) => structured(await server.call('consult', { prompt, render: 'json', detail: 'full' }))['build'];

describe('worker rollout', () => {
  it('forced by the test hook: no re-initialize, counters kept, generation and host_rollouts move', async (t) => {
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_MCP_TEST_FORCE_ROLLOUT_KEY: 'tools/call:health_snapshot' },
    });
    const before = await build(server);
    await server.call('health_snapshot');
    const after = await waitFor(
      () => health(server),
      (h) => h['generation'] === 2 && h['rollout'] === 'stable',
    );
    assert.equal(after['generation'], 2);
    const telemetry = structured(await server.call('telemetry_snapshot', { render: 'json' }));
    assert.equal(telemetry['host_rollouts'], 1);
    assert.ok((telemetry['requests'] as number) >= 4, 'counters preserved');
    const next = structured(
      await server.call('consult', { prompt: 'after', render: 'json', detail: 'full' }),
    );
    assert.equal(next['generation'], 2, 'the next consult runs on the new pool');
    assert.equal(next['build'], before, 'same bundle, new pool');
    // The hook fires once: a second rollout would be under way by the time this call answers.
    await server.call('health_snapshot');
    const after2 = await health(server);
    assert.equal(after2['generation'], 2);
    assert.equal(after2['rollout'], 'stable');
  });

  it('on a changed bundle: the in-flight consult finishes on the old code, the next runs the new code', async (t) => {
    const copy = installCopy(t);
    const server = await startTestServer(t, { bin: copy.bin });
    const oldBuild = await build(server);
    const inFlight = server.call('consult', {
      prompt: 'slow #fake {"sleep_ms":2000}',
      render: 'json',
      detail: 'full',
    });
    await waitFor(
      () => server.cliLog().length,
      (n) => n === 2,
    );
    restamp(copy.worker, 'v2');
    await server.call('health_snapshot'); // a message after the change
    await waitFor(
      () => health(server),
      (h) => h['generation'] === 2,
      10_000,
    );
    const slow = structured(await inFlight);
    assert.equal(slow['build'], oldBuild, 'finished on the old pool');
    const newBuild = await build(server);
    assert.notEqual(newBuild, oldBuild);
    const h = await health(server);
    assert.equal(h['rollout'], 'stable');
    assert.equal(h['host_code_changed'], false);
    // The old pool's thread is gone once it drained.
    await waitFor(
      () => health(server),
      (x) => (x['threads'] as { live: number }).live <= 1,
      10_000,
    );
  });

  it('keeps the old pool when the candidate fails readiness, and rolls on a later good change', async (t) => {
    const copy = installCopy(t);
    const server = await startTestServer(t, { bin: copy.bin });
    const good = readFileSync(copy.worker, 'utf8');
    const oldBuild = await build(server);
    writeFileSync(copy.worker, 'this is not javascript (\n');
    await server.call('health_snapshot');
    const failed = await waitFor(
      () => health(server),
      (h) => h['rollout'] === 'failed',
      15_000,
    );
    assert.equal(
      (failed['last_fault'] as { fault: { code: string } }).fault.code,
      'rollout_failure',
    );
    assert.equal(failed['generation'], 1);
    assert.match(textOf(await server.call('health_snapshot')), / rollout=failed/);
    assert.equal(await build(server), oldBuild, 'the old pool still serves');
    writeFileSync(copy.worker, `${good}\n// stamp v3\n`);
    await server.call('health_snapshot');
    const rolled = await waitFor(
      () => health(server),
      (h) => h['rollout'] === 'stable' && h['generation'] === 2,
      15_000,
    );
    assert.equal(rolled['generation'], 2);
    assert.notEqual(await build(server), oldBuild);
  });

  it('does not stack pools or leak threads on rapid successive changes', async (t) => {
    const copy = installCopy(t);
    const server = await startTestServer(t, {
      bin: copy.bin,
      env: { PHONE_OPUS_MAX_CONCURRENCY: '2' },
    });
    await build(server);
    for (let i = 0; i < 6; i++) {
      restamp(copy.worker, `rapid ${i}`);
      await server.call('health_snapshot');
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    const settled = await waitFor(
      () => health(server),
      (h) => h['rollout'] === 'stable',
      15_000,
    );
    assert.ok((settled['generation'] as number) >= 2);
    await build(server);
    const threads = (
      await waitFor(
        () => health(server),
        (h) => (h['threads'] as { live: number }).live <= 2,
        10_000,
      )
    )['threads'] as { live: number };
    assert.ok(threads.live <= 2, `threads ${JSON.stringify(threads)}`);
  });

  it('reports a changed host bundle without swapping it', async (t) => {
    const copy = installCopy(t);
    const server = await startTestServer(t, { bin: copy.bin });
    writeFileSync(copy.host, `${readFileSync(copy.host, 'utf8')}\n// changed\n`);
    // The bundles are checked after messages, at most twice a second: keep asking.
    const h = await waitFor(
      () => health(server),
      (x) => x['host_code_changed'] === true,
    );
    assert.equal(h['host_code_changed'], true);
    assert.match(textOf(await server.call('health_snapshot')), / host_code_changed=true/);
    assert.match(server.stderr(), /the host bundle changed on disk; restart the server/);
    assert.equal((await server.call('consult', { prompt: 'still works' })).isError, undefined);
  });
});
