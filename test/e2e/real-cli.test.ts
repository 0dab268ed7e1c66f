import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildClaudeArgv } from '../../src/shared/claude-cli.ts';
import {
  bigReply,
  lastToolResultText,
  type MessagesRequestBody,
  userText,
} from '../support/fake-anthropic-api.ts';
import { type RealCliRig, runRealCli, startRealCliRig, tag } from '../support/real-cli.ts';
import { startTestServer, textOf } from '../support/server.ts';

/**
 * The built phone-opus server driving the REAL Claude Code CLI (the pinned devDependency)
 * against the fake Messages API, offline. One fake per file; consults run one at a time
 * (node:test runs a file's tests in sequence). Errors, cancel and timeout are in
 * real-cli-errors.test.ts.
 */

const FIXTURE_LINE = 'fixture line 7f3c2a: the answer is forty-two';
const BIG = 300_000;

let rig: RealCliRig;
before(async () => {
  rig = await startRealCliRig({
    basic: { reply: 'pong from the real CLI' },
    big: { replyBytes: BIG },
    resume: { reply: 'noted' },
    slow: { reply: 'worth the wait', delayMs: 4000 },
  });
});
after(async () => {
  await rig.dispose();
});

const json = (r: { structuredContent?: unknown }) => r.structuredContent as Record<string, unknown>;
const messagesOf = (body: MessagesRequestBody) => (body.messages ?? []) as { role: string }[];

describe('consult with the real Claude Code CLI (offline, fake API)', () => {
  it('returns the reply with session, turns, usage, cost and model; a prompt starting with - arrives', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const work = rig.workDir('basic');
    const prompt = `--not-a-flag -p please answer ${tag('basic')}`;
    const result = await server.call('consult', {
      prompt,
      cwd: work,
      render: 'json',
      detail: 'full',
    });
    assert.equal(result.isError, undefined, textOf(result));
    const data = json(result);
    assert.equal(data['response'], 'pong from the real CLI');
    assert.match(String(data['session_id']), /^[0-9a-f-]{36}$/);
    assert.equal(data['num_turns'], 1);
    assert.equal(data['stop_reason'], 'end_turn');
    assert.equal(data['model'], 'claude-opus-4-8'); // the CLI's default, `[1m]` stripped
    assert.ok(Number(data['total_cost_usd']) > 0);
    assert.equal(data['cwd'], realpathSync(work));
    const usage = data['usage'] as Record<string, unknown>;
    assert.ok(Number(usage['input_tokens']) > 0 && Number(usage['output_tokens']) > 0);
    assert.deepEqual(Object.keys(data['model_usage'] as object), ['claude-opus-4-8[1m]']);
    assert.deepEqual(data['permission_denials'], []);
    // The prompt went in on stdin, verbatim, and the one API request carried it.
    const [request, ...more] = rig.requestsOf('basic');
    assert.ok(request);
    assert.equal(more.length, 0);
    assert.ok(userText(request).includes(prompt), userText(request));
    const recorded = rig.api.messageRequests().find((r) => r.body === request);
    assert.equal(recorded?.headers['x-claude-code-session-id'], data['session_id']);
    // Everything the CLI keeps went to CLAUDE_CONFIG_DIR, nothing to the (server's) HOME,
    // where only the server's own compile cache may be (Node 22 and later).
    assert.ok(existsSync(join(rig.configDir, '.claude.json')));
    assert.ok(existsSync(join(rig.configDir, 'projects')));
    const hidden = readdirSync(server.dir).filter((e) => e.startsWith('.'));
    assert.deepEqual(
      hidden.filter((e) => e !== '.cache'),
      [],
    );
    if (hidden.includes('.cache')) {
      assert.deepEqual(readdirSync(join(server.dir, '.cache')), ['phone-opus']);
      assert.deepEqual(readdirSync(join(server.dir, '.cache', 'phone-opus')), ['compile-cache']);
    }
  });

  it('runs Read inside cwd and feeds the file back; a denied Bash write is counted (porcelain)', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const work = rig.workDir('read');
    const file = join(work, 'fixture.txt');
    writeFileSync(file, `${FIXTURE_LINE}\n`);
    rig.setCase('read', {
      toolCalls: [
        { name: 'Bash', input: { command: 'touch touched.txt' } },
        { name: 'Read', input: { file_path: file } },
      ],
      reply: 'read back: {{TOOL_RESULT}}',
    });
    const text = textOf(
      await server.call('consult', { prompt: `read the fixture ${tag('read')}`, cwd: work }),
    );
    assert.match(
      text,
      /^consult ok turns=3 duration=\S+ model=claude-opus-4-8 stop=end_turn cost=/,
    );
    assert.match(text, /\npermission_denials: 1\nresponse:\nread back: /);
    // The file's content made the round trip: Read → tool_result → the fake's reply.
    assert.ok(text.includes(FIXTURE_LINE), text);
    assert.equal(existsSync(join(work, 'touched.txt')), false);
  });

  it('refuses Write and Edit, and denies a writing Bash command (listed in permission_denials)', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const work = rig.workDir('refused');
    const existing = join(work, 'existing.txt');
    writeFileSync(existing, 'original\n');
    rig.setCase('refused', {
      toolCalls: [
        { name: 'Write', input: { file_path: join(work, 'written.txt'), content: 'x' } },
        {
          name: 'Edit',
          input: { file_path: existing, old_string: 'original', new_string: 'changed' },
        },
        { name: 'Bash', input: { command: 'touch touched.txt' } },
      ],
      reply: 'gave up',
    });
    const result = await server.call('consult', {
      prompt: `change some files ${tag('refused')}`,
      cwd: work,
      render: 'json',
      detail: 'full',
    });
    assert.equal(result.isError, undefined, textOf(result));
    const data = json(result);
    assert.equal(data['response'], 'gave up');
    assert.equal(data['num_turns'], 4);
    assert.equal(existsSync(join(work, 'written.txt')), false);
    assert.equal(readFileSync(existing, 'utf8'), 'original\n');
    assert.equal(existsSync(join(work, 'touched.txt')), false);
    // What each tool call got back: Write/Edit are not tools at all; Bash was denied.
    const results = rig.requestsOf('refused').map(lastToolResultText);
    assert.equal(results.length, 4);
    assert.match(results[1] ?? '', /No such tool available: Write/);
    assert.match(results[2] ?? '', /No such tool available: Edit/);
    assert.match(results[3] ?? '', /Permission to use Bash .*denied/);
    // Only the Bash denial is a permission denial.
    assert.equal(data['permission_denial_count'], 1);
    const denials = data['permission_denials'] as {
      tool_name: string;
      tool_use_id: string;
      tool_input: Record<string, unknown>;
    }[];
    assert.equal(denials.length, 1);
    assert.equal(denials[0]?.tool_name, 'Bash');
    assert.equal(denials[0]?.tool_input['command'], 'touch touched.txt');
    assert.match(denials[0]?.tool_use_id ?? '', /^toolu_/);
  });

  it('returns a pending result after wait_s, and the answer through consult_result', async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const work = rig.workDir('slow');
    const pending = await server.call('consult', {
      prompt: `take your time ${tag('slow')}`,
      cwd: work,
      wait_s: 1,
      render: 'json',
    });
    assert.equal(pending.isError, undefined, textOf(pending));
    const status = json(pending);
    assert.match(String(status['status']), /^(queued|running)$/);
    const jobId = String(status['job_id']);
    const answer = await server.call(
      'consult_result',
      { job_id: jobId, wait_s: 120, render: 'json' },
      { timeout: 150_000 },
    );
    assert.equal(answer.isError, undefined, textOf(answer));
    const data = json(answer);
    assert.equal(data['response'], 'worth the wait');
    assert.match(String(data['session_id']), /^[0-9a-f-]{36}$/);
    assert.equal(rig.requestsOf('slow').length, 1, 'the CLI ran once, never restarted');
  });

  it(`delivers a ${BIG}-byte answer byte for byte`, async (t) => {
    const server = await startTestServer(t, { env: rig.env });
    const result = await server.call('consult', {
      prompt: `a long answer please ${tag('big')}`,
      cwd: rig.workDir('big'),
      render: 'json',
    });
    assert.equal(result.isError, undefined, textOf(result).slice(0, 2000));
    const response = String(json(result)['response']);
    assert.equal(response.length, BIG);
    assert.ok(response === bigReply(BIG), 'the answer differs from bigReply(BIG)');
  });

  it('resumes in the session’s cwd, also after a restart, with every optional flag accepted', async (t) => {
    const serverCwd = rig.workDir('server-cwd');
    const work = rig.workDir('resume');
    const first = await startTestServer(t, { env: rig.env, cwd: serverCwd });
    const one = await first.call('consult', {
      prompt: `remember ALPHA ${tag('resume')}`,
      cwd: work,
      render: 'json',
    });
    assert.equal(one.isError, undefined, textOf(one));
    const sessionId = String(json(one)['session_id']);

    // cwd omitted: the server runs the resume where the session began, not in its own cwd.
    const two = await first.call('consult', {
      prompt: `and BETA ${tag('resume')}`,
      session_id: sessionId,
      render: 'json',
    });
    assert.equal(two.isError, undefined, textOf(two));
    assert.equal(json(two)['cwd'], realpathSync(work));
    assert.equal(json(two)['session_id'], sessionId); // --resume keeps the id
    let seen = rig.requestsOf('resume');
    assert.equal(seen.length, 2);
    const second = seen[1] as MessagesRequestBody;
    assert.deepEqual(
      messagesOf(second).map((m) => m.role),
      ['user', 'assistant', 'user'],
    );
    assert.match(userText(second), /ALPHA[\s\S]*BETA/);
    assert.ok(JSON.stringify(messagesOf(second)[1]).includes('noted'));
    await first.close();

    // A new server with the same state dir (and yet another cwd) still knows the session.
    // This consult also sets every optional flag phone-opus passes to the CLI.
    const restarted = await startTestServer(t, {
      env: { ...rig.env, PHONE_OPUS_STATE_DIR: first.stateDir },
      cwd: rig.workDir('server-cwd-2'),
    });
    const three = await restarted.call('consult', {
      prompt: `and GAMMA ${tag('resume')}`,
      session_id: sessionId,
      max_turns: 3,
      model: 'sonnet',
      max_budget_usd: 5,
      render: 'json',
      detail: 'full',
    });
    assert.equal(three.isError, undefined, textOf(three));
    const data = json(three);
    assert.equal(data['cwd'], realpathSync(work));
    assert.equal(data['response'], 'noted');
    assert.equal(data['max_turns'], 3);
    assert.equal(data['model'], 'claude-sonnet-5'); // `sonnet`, resolved by the CLI
    assert.doesNotMatch(restarted.stderr(), /unknown option/i);
    seen = rig.requestsOf('resume');
    assert.equal(seen.length, 3);
    const third = seen[2] as MessagesRequestBody;
    assert.equal(third.model, 'claude-sonnet-5');
    // The whole conversation came along. With --max-budget-usd the CLI also appends a
    // `role: "system"` entry ("USD budget: $0/$5; $5 remaining") to `messages`.
    assert.deepEqual(
      messagesOf(third)
        .filter((m) => m.role !== 'system')
        .map((m) => m.role),
      ['user', 'assistant', 'user', 'assistant', 'user'],
    );
    assert.match(userText(third), /ALPHA[\s\S]*BETA[\s\S]*GAMMA/);
  });

  it('would catch an unknown option: the CLI names the first flag it does not know', async () => {
    const work = rig.workDir('argv');
    const argv = buildClaudeArgv({
      prompt: 'unused',
      cwd: work,
      maxTurns: 3,
      model: 'sonnet',
      maxBudgetUsd: 5,
      resumeSessionId: '00000000-0000-4000-8000-000000000000',
    });
    for (const flag of ['--max-turns', '--model', '--max-budget-usd', '--resume'])
      assert.ok(argv.includes(flag), flag);
    // Commander stops at the first unknown option, so naming the bogus flag (last) also
    // proves that every flag of phone-opus's argv before it is known to this CLI.
    const run = await runRealCli([...argv, '--bogus-flag'], {
      cwd: work,
      env: { ...rig.env, HOME: rig.home },
      input: `never sent ${tag('argv')}`,
    });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr.trim(), "error: unknown option '--bogus-flag'");
    assert.equal(rig.requestsOf('argv').length, 0);
  });
});
