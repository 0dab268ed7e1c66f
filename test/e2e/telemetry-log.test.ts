import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fake } from '../support/fake.ts';
import { healthJson } from '../support/metrics.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Line = Record<string, unknown> & { tool: string; outcome: string };

/** Every line must be a whole JSON object. */
function logLines(server: TestServer): Line[] {
  const text = readFileSync(join(server.stateDir, 'mcp', 'telemetry.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'));
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Line);
}

describe('JSONL telemetry log', () => {
  it('writes one whole line per call under concurrency, with the prompt hashed, not logged', async (t) => {
    const server = await startTestServer(t);
    const prompts = [0, 1, 2].map((i) =>
      fake({ sleep_ms: 300 }, `question ${i} ${'z'.repeat(20_000)}`),
    );
    const failing = fake({ is_error: true, api_error_status: 500 });
    const slow = fake({ sleep_ms: 5000 });
    await Promise.all([
      ...prompts.map((prompt) => server.call('consult', { prompt })),
      server.call('consult', { prompt: failing }),
      server.call('consult', { prompt: slow, timeout_s: 1 }),
      server.call('health_snapshot'),
      server.call('telemetry_snapshot', { render: 'json' }),
    ]);
    await server.close(); // the log is flushed and closed at shutdown
    const lines = logLines(server);
    assert.equal(lines.length, 7);

    for (const line of lines) {
      assert.ok(!Number.isNaN(Date.parse(String(line['ts']))));
      assert.match(String(line['ts']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(line['operation'], `tools/call:${line.tool}`);
      assert.equal(typeof line['latency_ms'], 'number');
      assert.equal(line['generation'], 1);
      assert.ok('request_id' in line && 'attempts' in line && 'error' in line);
      assert.equal('prompt' in line, false, 'no prompt text by default');
    }
    const consults = lines.filter((l) => l.tool === 'consult');
    assert.equal(consults.length, 5);
    for (const prompt of [...prompts, failing, slow]) {
      const line = consults.find((l) => l['prompt_sha256'] === sha256(prompt));
      assert.ok(line, 'each consult is logged by its hash');
      assert.equal(line['prompt_chars'], prompt.length);
      assert.equal(line['cwd'], server.dir);
    }
    const ok = consults.filter((l) => l.outcome === 'ok');
    assert.equal(ok.length, 3);
    for (const line of ok) {
      assert.equal(line['error'], null);
      assert.equal(line['attempts'], 1);
      assert.equal(line['model'], 'claude-fake-1');
      assert.equal(line['cost_usd'], 0.0123);
      assert.deepEqual(line['tokens'], {
        input: 100,
        output: 20,
        cache_creation_input: 0,
        cache_read_input: 0,
      });
      assert.match(String(line['session_id']), /^[0-9a-f-]{36}$/);
    }
    const error = consults.find((l) => l.outcome === 'error');
    assert.deepEqual(Object.keys(error?.['error'] as object).sort(), ['code', 'kind', 'message']);
    const e = error?.['error'] as { code: number; kind: string; message: string };
    assert.equal(e.kind, 'downstream_failure');
    assert.equal(typeof e.code, 'number');
    assert.match(e.message, /HTTP 500/);
    const timeout = consults.find((l) => l.outcome === 'timeout');
    assert.ok(timeout);
    assert.equal((timeout['error'] as { kind: string }).kind, 'timeout');
    assert.match(String(timeout['session_id']), /^[0-9a-f-]{36}$/);
    const health = lines.find((l) => l.tool === 'health_snapshot');
    assert.deepEqual(health?.['error'], null);
    assert.equal('prompt_sha256' in (health ?? {}), false);
  });

  it('logs the prompt text only with PHONE_OPUS_LOG_PROMPTS=1', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_LOG_PROMPTS: '1' } });
    const prompt = fake({ result: 'x' }, 'what does "this" do?\nline two');
    await server.call('consult', { prompt });
    await server.close();
    const [line] = logLines(server);
    assert.equal(line?.['prompt'], prompt);
    assert.equal(line?.['prompt_sha256'], sha256(prompt));
  });

  it('never fails a call when the log cannot be written, and says why once and in health', async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'phone-opus-unwritable-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const notADir = join(base, 'state');
    writeFileSync(notADir, 'a regular file');
    const server = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: notADir } });
    for (let i = 0; i < 2; i += 1) {
      const result = await server.call('consult', { prompt: fake({ result: 'fine' }) });
      assert.equal(result.isError, undefined);
    }
    const health = await healthJson(server);
    assert.match(String(health['telemetry_log']), /^error: ENOTDIR/);
    const lines = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('telemetry log'));
    assert.equal(lines.length, 1, server.stderr());
    assert.match(lines[0] ?? '', /PHONE_OPUS_STATE_DIR/);
  });
});
