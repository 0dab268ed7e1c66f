import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
