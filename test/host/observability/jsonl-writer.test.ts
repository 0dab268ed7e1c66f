import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { JsonlWriter } from '../../../src/host/observability/jsonl-writer.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-jsonl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const linesOf = (path: string): { n: number }[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { n: number })
    : [];

describe('JsonlWriter', () => {
  it('appends whole lines to a private file in a private directory', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'mcp', 'telemetry.jsonl');
    const writer = new JsonlWriter({ path, log: () => assert.fail('no error expected') });
    writer.open();
    assert.equal(writer.status, path);
    for (let n = 0; n < 5; n += 1) assert.equal(writer.write({ n, text: 'é\n"x"' }), true);
    writer.close();
    assert.deepEqual(
      linesOf(path).map((r) => r.n),
      [0, 1, 2, 3, 4],
    );
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'mcp')).mode & 0o777, 0o700);
    assert.equal(writer.write({ n: 5 }), false, 'writes after close are dropped');
  });

  it('rotates before a line would pass the limit and keeps 3 rotated files', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'telemetry.jsonl');
    const writer = new JsonlWriter({ path, maxBytes: 200, log: () => {} });
    const total = 60;
    for (let n = 0; n < total; n += 1) writer.write({ n, pad: 'x'.repeat(30) });
    writer.close();
    const files = [path, `${path}.1`, `${path}.2`, `${path}.3`];
    for (const file of files) {
      assert.ok(existsSync(file), `${file} exists`);
      assert.ok(statSync(file).size <= 200, `${file} is within the limit`);
    }
    assert.equal(existsSync(`${path}.4`), false);
    // Oldest first: .3, .2, .1, current hold one unbroken run ending with the last record.
    const kept = [...files].reverse().flatMap((file) => linesOf(file).map((r) => r.n));
    assert.ok(kept.length > 4);
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => total - kept.length + i),
    );
  });

  it('reports a failure once, shows it in status, never throws, and recovers', (t) => {
    const dir = tempDir(t);
    const blocker = join(dir, 'state');
    writeFileSync(blocker, 'a regular file where a directory should be');
    const path = join(blocker, 'mcp', 'telemetry.jsonl');
    const logged: string[] = [];
    const writer = new JsonlWriter({ path, log: (line) => logged.push(line) });
    writer.open();
    assert.equal(writer.write({ n: 1 }), false);
    assert.equal(writer.write({ n: 2 }), false);
    assert.match(writer.status, /^error: ENOTDIR/);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /cannot write the telemetry log .*ENOTDIR.*PHONE_OPUS_STATE_DIR/);
    rmSync(blocker);
    assert.equal(writer.write({ n: 3 }), true);
    assert.equal(writer.status, path);
    writer.close();
    assert.deepEqual(
      linesOf(path).map((r) => r.n),
      [3],
    );
  });

  it('follows a rotation done by another writer of the same file', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'telemetry.jsonl');
    const a = new JsonlWriter({ path, maxBytes: 300, log: () => {} });
    const b = new JsonlWriter({ path, maxBytes: 300, log: () => {} });
    const total = 24; // fits in 4 files of 300 bytes, so nothing may be lost
    for (let n = 0; n < total; n += 1) (n % 2 === 0 ? a : b).write({ n, pad: 'y'.repeat(20) });
    a.close();
    b.close();
    const all = [path, `${path}.1`, `${path}.2`, `${path}.3`].flatMap((file) =>
      linesOf(file).map((r) => r.n),
    );
    assert.deepEqual(
      all.sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
    );
    assert.ok(statSync(path).size <= 300);
  });
});
