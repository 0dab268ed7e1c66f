import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readStat } from '../../src/shared/proc-scan.ts';
import { metricsUrl, scrape } from '../support/metrics.ts';
import { survivors, waitFor } from '../support/proc.ts';
import { startTestServer } from '../support/server.ts';

type TargetGroup = { targets: string[]; labels: Record<string, string> };

const readTargets = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as TargetGroup[];
/** A server's discovery file: `<pid>-<process start time>.json`. */
const fileOf = (dir: string, pid: number) =>
  join(dir, `${pid}-${readStat(String(pid))?.start}.json`);

describe('Prometheus file_sd discovery', () => {
  it('lets two servers publish distinct live targets and removes each file on exit', async (t) => {
    const state = mkdtempSync(join(tmpdir(), 'phone-opus-sd-'));
    t.after(() => rmSync(state, { recursive: true, force: true }));
    const env = { PHONE_OPUS_METRICS_PORT: '0', PHONE_OPUS_STATE_DIR: state };
    const [a, b] = await Promise.all([startTestServer(t, { env }), startTestServer(t, { env })]);
    const urls = await Promise.all([metricsUrl(a), metricsUrl(b)]);
    const dir = join(state, 'prometheus');
    assert.equal(statSync(dir).mode & 0o777, 0o700);

    const ports = new Set<string>();
    for (const [server, url] of [
      [a, urls[0]],
      [b, urls[1]],
    ] as const) {
      const file = fileOf(dir, server.pid);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const [group] = readTargets(file);
      assert.ok(group);
      const port = new URL(url).port;
      assert.deepEqual(group.targets, [`127.0.0.1:${port}`]);
      assert.deepEqual(group.labels, {
        job: 'phone_opus',
        pid: String(server.pid),
        instance_cwd: server.dir,
      });
      ports.add(port);
      // The target is live: Prometheus would scrape it.
      const samples = await scrape(`http://${group.targets[0]}`);
      assert.ok(samples.has('phone_opus_worker_generation'));
    }
    assert.equal(ports.size, 2);

    // One server ends by stdin EOF (the client closes), the other by SIGTERM.
    const [fileA, fileB] = [fileOf(dir, a.pid), fileOf(dir, b.pid)];
    await a.close();
    await survivors([a.pid], 10_000);
    assert.equal(existsSync(fileA), false);
    assert.equal(existsSync(fileB), true);
    process.kill(b.pid, 'SIGTERM');
    await survivors([b.pid], 10_000);
    assert.equal(existsSync(fileB), false);
  });

  for (const metrics of ['on', 'off']) {
    it(`prunes files left by servers that no longer run, and only those (metrics ${metrics})`, async (t) => {
      const state = mkdtempSync(join(tmpdir(), 'phone-opus-sd-'));
      t.after(() => rmSync(state, { recursive: true, force: true }));
      const dir = join(state, 'prometheus');
      mkdirSync(dir, { recursive: true });
      const dead = join(dir, '4194305.json'); // above Linux's largest pid: never a live process
      // A live pid, but not the process that wrote the file (the pid was reused since).
      const reused = join(dir, `${process.pid}-1.json`);
      const live = fileOf(dir, process.pid);
      for (const file of [dead, reused, live]) writeFileSync(file, '[]');
      const server = await startTestServer(t, {
        env: {
          PHONE_OPUS_STATE_DIR: state,
          ...(metrics === 'on' ? { PHONE_OPUS_METRICS_PORT: '0' } : {}),
        },
      });
      if (metrics === 'on') await metricsUrl(server);
      await waitFor(
        () => existsSync(dead) || existsSync(reused),
        (left) => !left,
        5000,
      );
      assert.equal(existsSync(dead), false);
      assert.equal(existsSync(reused), false);
      assert.equal(existsSync(live), true);
      assert.equal(existsSync(fileOf(dir, server.pid)), metrics === 'on');
    });
  }
});
