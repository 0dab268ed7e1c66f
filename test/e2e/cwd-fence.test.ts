import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { isWithin } from '../../src/shared/within.ts';
import { fake } from '../support/fake.ts';
import { waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

/**
 * PHONE_OPUS_ALLOWED_ROOTS is checked where it matters (SPEC §6.4): on the directory the CLI
 * starts in. A consult's cwd may change while it waits in the queue.
 */

/** A fenced server whose only slot is taken, with one consult for `root/sub` queued behind it. */
async function queuedBehindBlocker(t: TestContext) {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'phone-opus-fence-')));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const sub = join(root, 'sub');
  const outside = join(base, 'outside');
  const other = join(root, 'other');
  for (const dir of [sub, outside, other]) mkdirSync(dir, { recursive: true });
  const server = await startTestServer(t, {
    env: { PHONE_OPUS_ALLOWED_ROOTS: root, PHONE_OPUS_MAX_CONCURRENCY: '1' },
  });
  const blocker = new AbortController();
  const first = server
    .call('consult', { prompt: fake({ sleep_ms: 60_000 }), cwd: root }, { signal: blocker.signal })
    .catch(() => undefined);
  await waitFor(
    () => server.cliLog().length,
    (n) => n === 1,
  );
  const queued = server.call('consult', { prompt: fake({}, 'queued'), cwd: sub, render: 'json' });
  await waitFor(
    async () =>
      (await server.call('health_snapshot', { render: 'json' })).structuredContent as {
        queued: number;
      },
    (h) => h.queued === 1,
  );
  /** Swap `sub` for a symlink to `target`, then free the slot; resolves with the queued result. */
  const swapAndRelease = async (target: string) => {
    rmSync(sub, { recursive: true });
    symlinkSync(target, sub);
    blocker.abort();
    await first;
    return queued;
  };
  return { server, root, sub, outside, other, swapAndRelease };
}

describe('the allowed-roots fence at spawn time', () => {
  it('refuses a queued consult whose cwd became a symlink out of the roots; no CLI runs outside', async (t) => {
    const { server, root, sub, outside, swapAndRelease } = await queuedBehindBlocker(t);
    const result = await swapAndRelease(outside);
    assert.equal(result.isError, true, `ran anyway: ${textOf(result)}`);
    const fault = faultOf(result);
    assert.equal(fault.fault.code, 'invalid_input', textOf(result));
    assert.match(
      fault.fault.detail,
      new RegExp(
        `^cwd: ${sub} now resolves to ${outside}, outside the allowed roots \\(PHONE_OPUS_ALLOWED_ROOTS=${root}\\)`,
      ),
    );
    const runs = server.cliLog();
    assert.equal(runs.length, 1, 'only the blocker ran');
    for (const run of runs) assert.ok(isWithin(run.cwd, root), `a CLI ran in ${run.cwd}`);
  });

  it('runs a queued consult in the in-root directory it finds at spawn time, and reports that one', async (t) => {
    const { server, other, swapAndRelease } = await queuedBehindBlocker(t);
    const result = await swapAndRelease(other);
    assert.equal(result.isError, undefined, textOf(result));
    assert.equal((result.structuredContent as { cwd: string }).cwd, other);
    assert.equal(server.cliLog().at(-1)?.cwd, other);
  });
});
