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
import { metricsUrl, scrape } from '../support/metrics.ts';
import { isAlive, waitFor } from '../support/proc.ts';
import { startTestServer } from '../support/server.ts';

type TargetGroup = { targets: string[]; labels: Record<string, string> };

const readTargets = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as TargetGroup[];

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
      const file = join(dir, `${server.pid}.json`);
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
    await a.close();
    await waitFor(
      () => isAlive(a.pid),
      (alive) => !alive,
    );
    assert.equal(existsSync(join(dir, `${a.pid}.json`)), false);
    assert.equal(existsSync(join(dir, `${b.pid}.json`)), true);
    process.kill(b.pid, 'SIGTERM');
    await waitFor(
      () => isAlive(b.pid),
      (alive) => !alive,
    );
    assert.equal(existsSync(join(dir, `${b.pid}.json`)), false);
  });

  it('prunes files left by servers that no longer run, and only those', async (t) => {
    const state = mkdtempSync(join(tmpdir(), 'phone-opus-sd-'));
    t.after(() => rmSync(state, { recursive: true, force: true }));
    const dir = join(state, 'prometheus');
    mkdirSync(dir, { recursive: true });
    const dead = join(dir, '4194305.json'); // above Linux's largest pid: never a live process
    const live = join(dir, `${process.pid}.json`);
    writeFileSync(dead, '[]');
    writeFileSync(live, '[]');
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_METRICS_PORT: '0', PHONE_OPUS_STATE_DIR: state },
    });
    await metricsUrl(server);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(live), true);
    assert.equal(existsSync(join(dir, `${server.pid}.json`)), true);
  });
});
