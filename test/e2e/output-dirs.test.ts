import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readStat } from '../../src/shared/proc-scan.ts';
import { fake } from '../support/fake.ts';
import { waitFor } from '../support/proc.ts';
import { startTestServer } from '../support/server.ts';

/**
 * The CLI's output directories under TMPDIR carry their owner (pid namespace, pid, start
 * time). A server killed outright leaves its directories, with partial answers, behind; the
 * next server removes those whose owner is gone, and never a live server's.
 */
const ownNs = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
const startOf = (pid: number) => readStat(String(pid))?.start ?? '';

function makeTmp(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-tmpdir-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function plant(tmp: string, name: string): string {
  const path = join(tmp, name);
  mkdirSync(path);
  writeFileSync(join(path, 'stdout.jsonl'), '{"type":"assistant","partial":true}\n');
  return path;
}

describe('output directories under TMPDIR', () => {
  it('removes the ones whose owner is gone, keeps live owners’ and anything it cannot judge', async (t) => {
    const tmp = makeTmp(t);
    const gonePid = spawnSync('true').pid as number;
    const dead = plant(tmp, `phone-opus-${ownNs}-${gonePid}-4242-aB3dE9`);
    // A live pid with another start time: the pid was reused, its owner is gone.
    const reused = plant(tmp, `phone-opus-${ownNs}-${process.pid}-1-Zx81Qp`);
    const live = plant(tmp, `phone-opus-${ownNs}-${process.pid}-${startOf(process.pid)}-Kk2Lm3`);
    const otherNs = plant(tmp, `phone-opus-1-${gonePid}-4242-Qq1Ww2`);
    const oldStyle = plant(tmp, 'phone-opus-Ab12Cd');
    await startTestServer(t, { env: { TMPDIR: tmp } });
    await waitFor(
      () => [dead, reused].filter(existsSync),
      (l) => l.length === 0,
    );
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(reused), false);
    for (const kept of [live, otherNs, oldStyle]) assert.equal(existsSync(kept), true, kept);
  });

  it('names each after its server; a live server’s survive another’s start, a killed one’s do not', async (t) => {
    const tmp = makeTmp(t);
    const first = await startTestServer(t, { env: { TMPDIR: tmp } });
    const running = first
      .call('consult', { prompt: fake({ sleep_ms: 60_000 }) })
      .catch(() => undefined);
    const prefix = `phone-opus-${ownNs}-${first.pid}-${startOf(first.pid)}-`;
    const owned = await waitFor(
      () => readdirSync(tmp).filter((n) => n.startsWith(prefix)),
      (l) => l.length === 1,
    );
    assert.equal(owned.length, 1, readdirSync(tmp).join(', '));
    const path = join(tmp, owned[0] as string);
    // Another server starting meanwhile leaves the live one's directory alone.
    const second = await startTestServer(t, { env: { TMPDIR: tmp } });
    await second.call('consult', { prompt: fake({}) });
    assert.equal(existsSync(path), true);
    // Killed outright, the first cannot clean up; the next server to start does.
    process.kill(first.pid, 'SIGKILL');
    await running;
    assert.equal(existsSync(path), true);
    await startTestServer(t, { env: { TMPDIR: tmp } });
    await waitFor(
      () => existsSync(path),
      (exists) => !exists,
    );
    assert.equal(existsSync(path), false);
  });
});
