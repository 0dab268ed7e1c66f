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
} from '../../src/host/discovery.ts';

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
    const path = writeDiscoveryFile(state, { host: '127.0.0.1', port: 5, pid: 42, cwd: '/a "b"' });
    assert.equal(path, join(state, 'prometheus', '42.json'));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), [
      {
        targets: ['127.0.0.1:5'],
        labels: { job: 'phone_opus', pid: '42', instance_cwd: '/a "b"' },
      },
    ]);
    writeFileSync(join(discoveryDir(state), '7.json'), '[]');
    writeFileSync(join(discoveryDir(state), 'notes.txt'), 'kept');
    assert.equal(
      pruneDiscoveryFiles(state, (pid) => pid === 42),
      1,
    );
    assert.equal(existsSync(join(discoveryDir(state), '7.json')), false);
    assert.equal(existsSync(join(discoveryDir(state), 'notes.txt')), true);
    removeDiscoveryFile(path);
    removeDiscoveryFile(path); // twice is fine
    assert.equal(existsSync(path), false);
  });
});
