import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { fake } from '../support/fake.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

/** The fake CLI's `result_bytes` answer: numbered 100-byte lines. */
const numbered = (bytes: number) =>
  Array.from(
    { length: Math.ceil(bytes / 100) },
    (_, i) => `${String(i).padStart(8, '0')} ${'x'.repeat(90)}\n`,
  )
    .join('')
    .slice(0, bytes);

describe('answers above PHONE_OPUS_MAX_ANSWER_BYTES', () => {
  it('are saved whole to a user-only file named by an answer_too_large fault; the server keeps serving', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_MAX_ANSWER_BYTES: '1048576' } });
    const small = await server.call('consult', { prompt: fake({ result_bytes: 1_000_000 }) });
    assert.ok(!small.isError, textOf(small));

    for (const [prompt, expected] of [
      // A long result line: streamed to the file without ever being held whole.
      [fake({ result_bytes: 5_000_000 }), numbered(5_000_000)],
      // A short line whose answer is over the limit in UTF-8 bytes (3 bytes a character).
      [fake({ result_repeat: { text: '中文字', times: 150_000 } }), '中文字'.repeat(150_000)],
    ] as const) {
      for (const render of ['porcelain', 'json']) {
        const result = await server.call('consult', { prompt, render });
        assert.equal(result.isError, true);
        const f = faultOf(result);
        assert.equal(f.fault.code, 'downstream_failure');
        assert.equal(f.reason, 'answer_too_large');
        assert.equal(f.retryable, false);
        assert.match(
          f.fault.detail,
          /above the 1048576-byte limit \(PHONE_OPUS_MAX_ANSWER_BYTES\)/,
        );
        const file = f.hint?.answer_file as string;
        assert.ok(textOf(result).includes(file), 'the text names the file too');
        assert.equal(dirname(file), `${server.stateDir}/answers`);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
        assert.equal(readFileSync(file, 'utf8'), expected, 'the whole answer, byte for byte');
        assert.equal(f.hint?.answer_bytes, Buffer.byteLength(expected));
        assert.ok(typeof f.hint?.session_id === 'string');
      }
    }
    const health = await server.call('health_snapshot');
    assert.match(textOf(health), /gen=1 /);
  });

  it('takes a 128 MiB answer with render=json without holding it in memory', async (t) => {
    // RAM-backed scratch space where there is one: this test is about memory, not disk speed.
    const scratch = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/phone-opus-test-') : undefined;
    t.after(() => scratch !== undefined && rmSync(scratch, { recursive: true, force: true }));
    const server = await startTestServer(t, {
      env:
        scratch === undefined ? {} : { TMPDIR: scratch, PHONE_OPUS_STATE_DIR: `${scratch}/state` },
    });
    const stateDir = scratch === undefined ? server.stateDir : `${scratch}/state`;
    const bytes = 128 * 1024 * 1024;
    const before = rssMb(server.pid);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(server.pid));
    }, 20);
    const result = await server.call(
      'consult',
      { prompt: fake({ result_bytes: bytes }), render: 'json' },
      { timeout: 120_000 },
    );
    clearInterval(sampler);
    const f = faultOf(result);
    assert.equal(f.reason, 'answer_too_large', textOf(result).slice(0, 500));
    assert.match(f.fault.detail, /16777216-byte limit/);
    assert.equal(f.hint?.answer_bytes, bytes);
    assert.equal(dirname(f.hint?.answer_file as string), `${stateDir}/answers`);
    assert.equal(statSync(f.hint?.answer_file as string).size, bytes);
    // Never held whole: held as text, as a message between threads and as JSON it would take
    // several times its size.
    assert.ok(peak - before < 128, `server RSS grew by ${Math.round(peak - before)} MB`);
    const health = await server.call('health_snapshot');
    assert.match(textOf(health), /gen=1 /);
  });
});

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
