import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fake, structured } from '../support/fake.ts';
import { healthJson, metricsUrl, scrape, value } from '../support/metrics.ts';
import { survivors, waitFor } from '../support/proc.ts';
import { faultOf, startTestServer, type TestServer, textOf } from '../support/server.ts';

/**
 * Durable consults (SPEC §11), with the fake CLI: a consult outlives the call that started
 * it, is found again from any server sharing the state dir, is joined by a retry with its
 * request key, is interrupted (never re-run) when its server dies, and is pruned in time.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PENDING = /^consult (queued|running) job=([0-9a-f-]{36}) elapsed=\S+ turns=\d+$/m;

/** Start a consult that returns at once (wait_s 0) and give its job id. */
async function startJob(server: TestServer, prompt: string, args: Record<string, unknown> = {}) {
  const pending = await server.call('consult', { prompt, wait_s: 0, ...args });
  assert.equal(pending.isError, undefined, textOf(pending));
  const match = PENDING.exec(textOf(pending));
  assert.ok(match, textOf(pending));
  return match[2] as string;
}

/** The job's record as its file says. */
const jobFile = (server: TestServer, jobId: string) =>
  JSON.parse(readFileSync(join(server.stateDir, 'jobs', `${jobId}.json`), 'utf8')) as Record<
    string,
    unknown
  >;

/** Wait until the job's CLI has announced its session (the pending result carries it). */
async function pendingWithSession(server: TestServer, jobId: string) {
  return waitFor(
    async () =>
      structured(await server.call('consult_result', { job_id: jobId, wait_s: 0, render: 'json' })),
    (s) => typeof s['session_id'] === 'string',
  );
}

describe('a consult that outlives its call', () => {
  it('returns a pending result after wait_s; the CLI runs on and consult_result gives the answer', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_METRICS_PORT: '0' } });
    const prompt = fake({
      tools: [{ name: 'Read', input: { file_path: 'src/app.ts' }, delay_ms: 3000 }],
      result: 'the late answer',
    });
    const pending = await server.call('consult', { prompt, wait_s: 1 });
    assert.equal(pending.isError, undefined);
    const text = textOf(pending);
    const jobId = PENDING.exec(text)?.[2] as string;
    assert.ok(jobId, text);
    assert.match(
      text,
      new RegExp(`^next: call consult_result with \\{"job_id": "${jobId}"\\}`, 'm'),
    );

    // While it runs: the pending result in json, the job's file, health and the metric.
    const status = await pendingWithSession(server, jobId);
    assert.equal(status['status'], 'running');
    assert.equal(status['job_id'], jobId);
    assert.equal(typeof status['elapsed_ms'], 'number');
    assert.equal(typeof status['poll_after_ms'], 'number');
    assert.deepEqual(Object.keys(status['progress'] as object), ['turns', 'last_tool']);
    const health = await healthJson(server);
    assert.deepEqual(health['jobs'], { queued: 0, running: 1, retained: 0 });
    const record = jobFile(server, jobId);
    assert.equal(record['status'], 'running');
    assert.equal(record['session_id'], status['session_id']);
    assert.deepEqual(record['owner'] && (record['owner'] as { pid: number }).pid, server.pid);
    assert.equal(record['prompt_sha256'], sha256(prompt));
    assert.equal(record['prompt_chars'], prompt.length);
    const raw = readFileSync(join(server.stateDir, 'jobs', `${jobId}.json`), 'utf8');
    assert.ok(!raw.includes('the late answer'), 'no prompt text in the job file');
    assert.equal(statSync(join(server.stateDir, 'jobs')).mode & 0o777, 0o700);
    assert.equal(statSync(join(server.stateDir, 'jobs', `${jobId}.json`)).mode & 0o777, 0o600);

    const answer = await server.call('consult_result', { job_id: jobId, wait_s: 60 });
    assert.equal(answer.isError, undefined, textOf(answer));
    assert.match(textOf(answer), /^consult ok /);
    assert.match(textOf(answer), /the late answer/);
    const json = structured(
      await server.call('consult_result', { job_id: jobId, render: 'json', detail: 'full' }),
    );
    assert.equal(json['response'], 'the late answer');
    assert.equal(json['session_id'], status['session_id']);
    assert.equal(json['num_turns'], 2);
    assert.equal(server.cliLog().length, 1, 'one CLI run, never restarted');
    assert.equal(jobFile(server, jobId)['status'], 'succeeded');

    const after = await healthJson(server);
    assert.deepEqual(after['jobs'], { queued: 0, running: 0, retained: 1 });
    const samples = await scrape(await metricsUrl(server));
    assert.equal(value(samples, 'phone_opus_jobs', { status: 'succeeded' }), 1);
    assert.equal(value(samples, 'phone_opus_jobs', { status: 'running' }), 0);

    // One JSONL record for the job's end (its call had returned), with the job id.
    await server.close();
    const lines = readFileSync(join(server.stateDir, 'mcp', 'telemetry.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const ends = lines.filter((line) => line['operation'] === 'job:consult');
    assert.equal(ends.length, 1, JSON.stringify(lines));
    assert.equal(ends[0]?.['job_id'], jobId);
    assert.equal(ends[0]?.['request_id'], null);
    assert.equal(ends[0]?.['outcome'], 'ok');
    const call = lines.find((line) => line['operation'] === 'tools/call:consult');
    assert.equal(call?.['job_id'], jobId);
  });

  it('waits PHONE_OPUS_DEFAULT_WAIT_S by default; wait_s overrides it; consult_result long-polls', async (t) => {
    const server = await startTestServer(t, { env: { PHONE_OPUS_DEFAULT_WAIT_S: '0' } });
    const slow = fake({ sleep_ms: 2500, result: 'slow' });
    const pending = await server.call('consult', { prompt: slow });
    const jobId = PENDING.exec(textOf(pending))?.[2] as string;
    assert.ok(jobId, textOf(pending));
    const still = await server.call('consult_result', { job_id: jobId, wait_s: 1 });
    assert.match(textOf(still), PENDING, 'after 1 s of a 2.5 s consult: still pending');
    // The long poll ends when the job does, not when its wait_s runs out.
    const began = Date.now();
    const done = await server.call(
      'consult_result',
      { job_id: jobId, wait_s: 120 },
      { timeout: 150_000 },
    );
    assert.match(textOf(done), /^consult ok /);
    assert.ok(Date.now() - began < 60_000, 'answered at the job’s end');
    const waited = await server.call('consult', { prompt: fake({ sleep_ms: 300 }), wait_s: 60 });
    assert.match(textOf(waited), /^consult ok /);
  });

  it('refuses unknown job ids and bad arguments, naming the field', async (t) => {
    const server = await startTestServer(t);
    const unknown = randomUUID();
    for (const tool of ['consult_result', 'consult_cancel']) {
      const result = await server.call(tool, { job_id: unknown });
      assert.equal(result.isError, true);
      assert.equal(faultOf(result).fault.code, 'invalid_input');
      assert.match(
        faultOf(result).fault.detail,
        new RegExp(`job_id: ${unknown} is unknown, or expired`),
      );
    }
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['consult_result', {}, /job_id/],
      ['consult_result', { job_id: unknown, wait_s: 241 }, /wait_s: must be at most 240/],
      ['consult_cancel', { job_id: 7 }, /job_id/],
      ['consult', { prompt: 'x', wait_s: -1 }, /wait_s: must be at least 0/],
      ['consult', { prompt: 'x', wait_s: 1.5 }, /wait_s: must be an integer/],
      ['consult', { prompt: 'x', request_key: 'k'.repeat(201) }, /request_key: .*200/],
    ];
    for (const [tool, args, expected] of cases) {
      const result = await server.call(tool, args);
      assert.equal(faultOf(result).fault.code, 'invalid_input', JSON.stringify(args));
      assert.match(faultOf(result).fault.detail, expected);
    }
    assert.deepEqual(server.cliLog(), []);
  });

  it('consult_cancel stops the CLI tree and records cancelled; a finished job is left as it is', async (t) => {
    const server = await startTestServer(t);
    const jobId = await startJob(server, fake({ sleep_ms: 60_000, grandchildren: 1 }));
    const [run] = await waitFor(server.cliLog, (runs) => runs.length === 1);
    const cancel = await server.call('consult_cancel', { job_id: jobId, render: 'json' });
    assert.deepEqual(structured(cancel), { job_id: jobId, status: 'cancelled', cancelled: true });
    assert.deepEqual(await survivors([run?.pid as number, ...(run?.children ?? [])], 2000), []);
    const result = await server.call('consult_result', { job_id: jobId });
    assert.equal(result.isError, true);
    assert.equal(faultOf(result).fault.code, 'cancelled');
    const again = await server.call('consult_cancel', { job_id: jobId });
    assert.match(textOf(again), /it had already ended \(cancelled\); left as it was/);
    assert.equal(jobFile(server, jobId)['status'], 'cancelled');
  });
});

describe('servers sharing a state dir', () => {
  it("answer and cancel each other's jobs", async (t) => {
    const a = await startTestServer(t);
    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const first = await startJob(a, fake({ sleep_ms: 1500, result: 'answered by A' }));
    const began = Date.now();
    const fromB = await b.call(
      'consult_result',
      { job_id: first, wait_s: 120 },
      { timeout: 150_000 },
    );
    assert.equal(fromB.isError, undefined, textOf(fromB));
    assert.match(textOf(fromB), /^consult ok /);
    assert.match(textOf(fromB), /answered by A/);
    assert.ok(Date.now() - began < 60_000, 'B woke at the job’s end');
    // Rendered exactly as A renders it.
    const fromA = await a.call('consult_result', { job_id: first });
    assert.equal(textOf(fromB), textOf(fromA));
    assert.deepEqual(b.cliLog(), [], 'B never ran it');

    const second = await startJob(a, fake({ sleep_ms: 60_000, grandchildren: 1 }));
    const [, run] = await waitFor(a.cliLog, (runs) => runs.length === 2);
    const asked = Date.now();
    const cancel = await b.call('consult_cancel', { job_id: second, render: 'json' });
    assert.deepEqual(structured(cancel), { job_id: second, status: 'cancelled', cancelled: true });
    // SPEC §11: gone within 2 s of the cancel (the answer may come while the kill runs).
    const left = 2000 - (Date.now() - asked);
    assert.deepEqual(
      await survivors([run?.pid as number, ...(run?.children ?? [])], Math.max(0, left)),
      [],
    );
    assert.ok(
      Date.now() - asked <= 2000,
      `the tree was gone ${Date.now() - asked} ms after the cancel`,
    );
    const onA = await a.call('consult_result', { job_id: second });
    assert.equal(faultOf(onA).fault.code, 'cancelled');
  });

  it('mark a job whose server was killed interrupted, with its session to resume; never re-run', async (t) => {
    const a = await startTestServer(t);
    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const sessionId = randomUUID();
    const jobId = await startJob(a, fake({ sleep_ms: 60_000, session_id: sessionId }));
    await pendingWithSession(a, jobId);
    const [run] = a.cliLog();
    process.kill(a.pid, 'SIGKILL');
    await survivors([a.pid], 10_000);
    assert.deepEqual(await survivors([run?.pid as number]), []);

    const result = await b.call('consult_result', { job_id: jobId });
    assert.equal(result.isError, true);
    const fault = faultOf(result);
    assert.equal(fault.fault.code, 'outcome_unknown');
    assert.match(fault.fault.detail, new RegExp(`pid ${a.pid}\\) is gone`));
    assert.equal(fault.hint?.session_id, sessionId);
    assert.match(
      String(fault.hint?.message),
      new RegExp(`consult \\{session_id: "${sessionId}"\\}`),
    );
    assert.equal(jobFile(a, jobId)['status'], 'interrupted');
    assert.deepEqual(b.cliLog(), [], 'not re-run');
    assert.equal(((await healthJson(b))['jobs'] as { retained: number }).retained, 1);
  });

  it('end a job stopped by a graceful shutdown as interrupted, with its session', async (t) => {
    const a = await startTestServer(t);
    const sessionId = randomUUID();
    const jobId = await startJob(a, fake({ sleep_ms: 60_000, session_id: sessionId }));
    await pendingWithSession(a, jobId);
    await a.close();
    await survivors([a.pid], 10_000);
    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const result = await b.call('consult_result', { job_id: jobId });
    assert.equal(jobFile(a, jobId)['status'], 'interrupted');
    assert.equal(faultOf(result).hint?.session_id, sessionId);
  });
});

describe('retention', () => {
  it('prunes finished jobs past PHONE_OPUS_JOB_RETENTION_S at start, and keeps at most 1000', async (t) => {
    const a = await startTestServer(t, { env: { PHONE_OPUS_JOB_RETENTION_S: '60' } });
    const expired = await startJob(a, fake({ result: 'old' }));
    const kept = await startJob(a, fake({ result: 'recent' }));
    for (const jobId of [expired, kept]) await a.call('consult_result', { job_id: jobId });
    await a.close();
    const dir = join(a.stateDir, 'jobs');
    const record = JSON.parse(readFileSync(join(dir, `${expired}.json`), 'utf8'));
    assert.equal(record.ttl_ms, 60_000);
    const longAgo = new Date(Date.now() - 120_000).toISOString();
    writeFileSync(
      join(dir, `${expired}.json`),
      JSON.stringify({ ...record, ended_at: longAgo, updated_at: longAgo }),
    );
    // Past the cap: 1001 finished jobs besides `kept`, older than it; the oldest two go.
    const template = JSON.parse(readFileSync(join(dir, `${kept}.json`), 'utf8'));
    const oldest: string[] = [];
    for (let i = 0; i < 1001; i++) {
      const jobId = randomUUID();
      const created = new Date(Date.parse(template.created_at) - (i + 1) * 1000).toISOString();
      if (i >= 999) oldest.push(jobId);
      writeFileSync(
        join(dir, `${jobId}.json`),
        JSON.stringify({ ...template, job_id: jobId, created_at: created }),
        { mode: 0o600 },
      );
    }

    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const gone = await b.call('consult_result', { job_id: expired });
    assert.match(faultOf(gone).fault.detail, /is unknown, or expired/);
    const files = readdirSync(dir).filter((name) => name.endsWith('.json'));
    assert.equal(files.length, 1000);
    assert.ok(files.includes(`${kept}.json`));
    for (const jobId of oldest) assert.ok(!files.includes(`${jobId}.json`), 'the oldest went');
    assert.match(textOf(await b.call('consult_result', { job_id: kept })), /recent/);
    assert.equal(((await healthJson(b))['jobs'] as { retained: number }).retained, 1000);
  });
});

describe('request_key', () => {
  it('joins identical keyed consults to one CLI run; the same key with other arguments is refused', async (t) => {
    const server = await startTestServer(t);
    const prompt = fake({ sleep_ms: 1500, result: 'paid once' });
    const [one, two] = await Promise.all([
      server.call('consult', { prompt, request_key: 'review-42' }),
      server.call('consult', { prompt, request_key: 'review-42' }),
    ]);
    assert.match(textOf(one), /paid once/);
    assert.equal(textOf(one), textOf(two));
    assert.equal(server.cliLog().length, 1);
    // A retry after the end joins the finished job: the same answer, nothing run.
    const retry = await server.call('consult', { prompt, request_key: 'review-42' });
    assert.equal(textOf(retry), textOf(one));
    assert.equal(server.cliLog().length, 1);

    const other = await server.call('consult', {
      prompt: 'something else',
      request_key: 'review-42',
    });
    assert.equal(faultOf(other).fault.code, 'invalid_input');
    assert.match(
      faultOf(other).fault.detail,
      /^request_key: "review-42" already names job [0-9a-f-]{36}/,
    );
    assert.equal(server.cliLog().length, 1);
  });

  it('joins across servers sharing a state dir', async (t) => {
    const a = await startTestServer(t);
    const b = await startTestServer(t, { env: { PHONE_OPUS_STATE_DIR: a.stateDir } });
    const prompt = fake({ sleep_ms: 1500, result: 'one answer' });
    const [fromA, fromB] = await Promise.all([
      a.call('consult', { prompt, cwd: a.dir, request_key: 'shared' }),
      b.call('consult', { prompt, cwd: a.dir, request_key: 'shared' }),
    ]);
    assert.equal(textOf(fromA), textOf(fromB));
    assert.equal(a.cliLog().length + b.cliLog().length, 1);
  });
});
