import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type Containment, detectContainment } from '../../src/shared/containment.ts';
import { isExecutable } from '../../src/shared/executable.ts';
import { spawnInGroup } from '../../src/shared/process-tree.ts';
import { liveProcessesWithEnv, waitFor } from '../support/proc.ts';

/** spawnInGroup under each containment, against real shell scripts. */

const GUARD_ONLY: Containment = {
  mode: 'process_group',
  launcher: ['/usr/bin/setpriv', '--pdeathsig', 'SIGTERM', '--'],
  reason: 'test',
};
const PLAIN: Containment = { mode: 'process_group', launcher: [], reason: 'test' };

/** Run `script` under `containment`; the marker in its environment finds whatever it started. */
async function run(t: TestContext, containment: Containment, script: string) {
  const marker = `PHONE_OPUS_TREE_MARKER=${randomUUID()}`;
  const [name, value] = marker.split('=') as [string, string];
  const started = await spawnInGroup('/bin/sh', ['-c', script], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin', [name]: value },
    stdinText: 'the prompt\n',
    containment,
  });
  assert.ok(started.ok, JSON.stringify(started));
  const { child } = started;
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.resume();
  t.after(() => {
    for (const p of liveProcessesWithEnv(marker)) process.kill(p.pid, 'SIGKILL');
  });
  const exit = await child.done;
  return { exit, stdout: () => stdout, left: () => liveProcessesWithEnv(marker) };
}

const ESCAPING = [
  'setsid sleep 1000 </dev/null >/dev/null 2>&1 &',
  "sh -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 &'",
  'read line; echo "got: $line"',
  'exit 7',
].join('\n');

describe('containment', async () => {
  const best = await detectContainment();
  const namespace = best.mode === 'pid_namespace' ? best : undefined;

  it('is probed once and says why when it falls back', async () => {
    assert.equal(await detectContainment(), best);
    if (best.mode === 'process_group') assert.ok((best.reason ?? '') !== '');
    else assert.equal(best.reason, undefined);
  });

  it('pid_namespace: relays stdin and the exit status; setsid children and daemons end with it', async (t) => {
    if (namespace === undefined) return t.skip(`no PID namespace here: ${best.reason}`);
    const r = await run(t, namespace, ESCAPING);
    assert.deepEqual(r.exit, { exitCode: 7, signal: null });
    assert.equal(r.stdout(), 'got: the prompt\n');
    assert.deepEqual(await waitFor(r.left, (l) => l.length === 0, 5000), []);
  });

  it('pid_namespace: a command killed by a signal is reported as that signal', async (t) => {
    if (namespace === undefined) return t.skip(`no PID namespace here: ${best.reason}`);
    const r = await run(t, namespace, 'kill -KILL $$');
    assert.deepEqual(r.exit, { exitCode: null, signal: 'SIGKILL' });
  });

  it('process_group guard: stops waiting for a stream held open by a process outside the group', async (t) => {
    if (!isExecutable('/usr/bin/setpriv')) return t.skip('no setpriv');
    const before = performance.now();
    const r = await run(t, GUARD_ONLY, 'setsid sleep 30 </dev/null >/dev/null & echo out; exit 3');
    // Not the 2 s drain bound: the streams went quiet once the leader was gone.
    assert.ok(performance.now() - before < 1500, `${performance.now() - before} ms`);
    assert.deepEqual(r.exit, { exitCode: 3, signal: null });
    assert.equal(r.stdout(), 'out\n');
  });

  it('guard: never runs the command once its chain to the host is broken', async (t) => {
    if (!isExecutable('/usr/bin/setsid')) return t.skip('no setsid');
    // A launcher that leaves the guard orphaned, as a host dying between a fork and the child's
    // parent-death signal would: its own parent-death signal can then never come.
    const dir = mkdtempSync(join(tmpdir(), 'phone-opus-guard-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const orphaning: Containment = {
      mode: 'process_group',
      // (In a session of its own: the host ends the leader's group as the leader goes.)
      launcher: ['/usr/bin/setsid', '--fork', '/bin/sh', '-c', 'sleep 0.2; exec "$@"', 'orphaning'],
      reason: 'test',
    };
    const ran = join(dir, 'ran');
    const r = await run(t, orphaning, `touch ${ran}; sleep 1000`);
    assert.deepEqual(r.exit, { exitCode: 0, signal: null });
    const left = await waitFor(r.left, (l) => l.length === 0, 5000);
    assert.deepEqual(left, []);
    assert.equal(existsSync(ran), false, 'the command ran');
    // The same launcher without the break runs it (the check is what stopped it).
    const whole: Containment = { ...orphaning, launcher: ['/bin/sh', '-c', 'exec "$@"', 'whole'] };
    const ok = await run(t, whole, `touch ${ran}`);
    assert.deepEqual(ok.exit, { exitCode: 0, signal: null });
    assert.equal(existsSync(ran), true);
  });
});

describe('spawn failures', () => {
  it('blame the cwd when it is not a directory (a synchronous ENOTDIR), not the command', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'phone-opus-spawn-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    for (const cwd of [file, join(dir, 'missing')]) {
      const started = await spawnInGroup('/bin/true', [], {
        cwd,
        env: {},
        stdinText: '',
        containment: PLAIN,
      });
      assert.equal(started.ok, false);
      assert.equal(!started.ok && started.failure.about, 'cwd', cwd);
    }
    const missing = await spawnInGroup(join(dir, 'no-such-cli'), [], {
      cwd: dir,
      env: {},
      stdinText: '',
    });
    assert.equal(!missing.ok && missing.failure.about, 'command');
    assert.equal(!missing.ok && missing.failure.code, 'ENOENT');
  });
});
