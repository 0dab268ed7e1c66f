import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  discoveryDir,
  pruneDiscoveryFiles,
  removeDiscoveryFile,
  scrapeAddress,
  writeDiscoveryFile,
} from '../../../src/host/observability/discovery.ts';
import { ownerAlive, readStat } from '../../../src/shared/proc-scan.ts';

describe('discovery files', () => {
  it('scrapes wildcard binds over loopback and brackets IPv6', () => {
    assert.equal(scrapeAddress('127.0.0.1', 9464), '127.0.0.1:9464');
    assert.equal(scrapeAddress('0.0.0.0', 9464), '127.0.0.1:9464');
    assert.equal(scrapeAddress('::', 9464), '[::1]:9464');
    assert.equal(scrapeAddress('::1', 9464), '[::1]:9464');
    assert.equal(scrapeAddress('10.0.0.5', 1), '10.0.0.5:1');
  });

  it('writes, prunes dead pids only, and removes', (t) => {
    const state = mkdtempSync(join(tmpdir(), 'phone-opus-disc-'));
    t.after(() => rmSync(state, { recursive: true, force: true }));
    const path = writeDiscoveryFile(state, {
      host: '127.0.0.1',
      port: 5,
      pid: 42,
      start: '777',
      cwd: '/a "b"',
    });
    assert.equal(path, join(state, 'prometheus', '42-777.json'));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), [
      {
        targets: ['127.0.0.1:5'],
        labels: { job: 'phone_opus', pid: '42', instance_cwd: '/a "b"' },
      },
    ]);
    writeFileSync(join(discoveryDir(state), '7.json'), '[]');
    // pid 42 lives on, but as another process (reused pid): its old file is stale.
    writeFileSync(join(discoveryDir(state), '42-1.json'), '[]');
    writeFileSync(join(discoveryDir(state), 'notes.txt'), 'kept');
    assert.equal(
      pruneDiscoveryFiles(state, (owner) => owner.pid === 42 && owner.start === '777'),
      2,
    );
    assert.equal(existsSync(join(discoveryDir(state), '7.json')), false);
    assert.equal(existsSync(join(discoveryDir(state), '42-1.json')), false);
    assert.equal(existsSync(path), true);
    assert.equal(existsSync(join(discoveryDir(state), 'notes.txt')), true);
    removeDiscoveryFile(path);
    removeDiscoveryFile(path); // twice is fine
    assert.equal(existsSync(path), false);
  });

  it('knows a live process from one that reused its pid', () => {
    const self = readStat(String(process.pid))?.start ?? '';
    assert.notEqual(self, '');
    assert.equal(ownerAlive({ pid: process.pid, start: self }), true);
    assert.equal(ownerAlive({ pid: process.pid, start: `${self}1` }), false);
    assert.equal(ownerAlive({ pid: process.pid, start: '' }), true);
    assert.equal(ownerAlive({ pid: 2 ** 22 + 7, start: '' }), false);
  });
});
