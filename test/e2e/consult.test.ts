import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fake } from '../support/fake.ts';
import { faultOf, startTestServer, textOf } from '../support/server.ts';

describe('consult with the fake CLI', () => {
  it('runs the CLI with the exact argv, the prompt on stdin, in cwd, without nesting variables', async (t) => {
    const server = await startTestServer(t, {
      env: { CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli' },
    });
    const work = join(server.dir, 'work');
    mkdirSync(work);
    const prompt = '--looks-like-a-flag\nreview this';
    const result = await server.call('consult', {
      prompt,
      cwd: work,
      max_turns: 3,
      model: 'sonnet',
      max_budget_usd: 0.5,
    });
    assert.equal(result.isError, undefined);
    const [run] = server.cliLog();
    assert.ok(run);
    assert.deepEqual(run.argv, [
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--strict-mcp-config',
      '--mcp-config',
      '{"mcpServers":{}}',
      '--disable-slash-commands',
      '--no-chrome',
      '--tools',
      'Bash,Read,Grep,Glob,WebFetch,WebSearch',
      '--permission-mode',
      'dontAsk',
      '--max-turns',
      '3',
      '--model',
      'sonnet',
      '--max-budget-usd',
      '0.5',
    ]);
    assert.equal(run.prompt, prompt);
    assert.equal(run.cwd, realpathSync(work));
    // PWD names the directory the CLI was started in (the worker enters it by descriptor).
    assert.deepEqual(run.env, {
      CLAUDECODE: null,
      CLAUDE_CODE_ENTRYPOINT: null,
      PWD: realpathSync(work),
    });
  });

  it('returns porcelain by default and json with structuredContent on request', async (t) => {
    const server = await startTestServer(t);
    const porcelain = await server.call('consult', { prompt: fake({ result: 'the answer' }) });
    const text = textOf(porcelain);
    assert.match(
      text,
      /^consult ok turns=1 duration=\S+ model=claude-fake-1 stop=end_turn cost=\$0\.012300\n/,
    );
    assert.match(text, /\ncwd: .+\nsession: [0-9a-f-]{36}\nresponse:\nthe answer$/);
    assert.equal(porcelain.structuredContent, undefined);

    const json = await server.call('consult', {
      prompt: fake({ result: 'the answer' }),
      render: 'json',
    });
    const data = json.structuredContent as Record<string, unknown>;
    assert.deepEqual(Object.keys(data).sort(), [
      'cwd',
      'duration_ms',
      'model',
      'num_turns',
      'permission_denial_count',
      'response',
      'session_id',
      'stop_reason',
      'total_cost_usd',
    ]);
    assert.equal(data['response'], 'the answer');
    assert.deepEqual(JSON.parse(textOf(json)), data);

    const full = await server.call('consult', {
      prompt: fake({ result: 'x' }),
      render: 'json',
      detail: 'full',
    });
    const f = full.structuredContent as Record<string, unknown>;
    for (const key of [
      'prompt_chars',
      'max_turns',
      'duration_api_ms',
      'usage',
      'model_usage',
      'permission_denials',
      'generation',
      'attempts',
    ]) {
      assert.ok(key in f, `full detail has ${key}`);
    }
    assert.equal(f['generation'], 1);
    assert.equal(f['attempts'], 1);
  });

  it('delivers a 250 KB answer intact', async (t) => {
    const server = await startTestServer(t);
    const result = await server.call('consult', {
      prompt: fake({ result_bytes: 250_000 }),
      render: 'json',
    });
    const response = (result.structuredContent as { response: string }).response;
    assert.equal(response.length, 250_000);
    assert.ok(response.startsWith('00000000 x'));
    assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent);
    const porcelain = textOf(
      await server.call('consult', { prompt: fake({ result_bytes: 250_000 }) }),
    );
    assert.ok(porcelain.endsWith(`\nresponse:\n${response}`), 'porcelain carries the whole answer');
  });

  it('reports permission denials', async (t) => {
    const server = await startTestServer(t);
    const denial = {
      tool_name: 'Bash',
      tool_use_id: 'toolu_1',
      tool_input: { command: 'touch x' },
    };
    const result = await server.call('consult', { prompt: fake({ permission_denials: [denial] }) });
    assert.match(textOf(result), /\npermission_denials: 1\n/);
  });
});

describe('consult argument validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing prompt', {}, /prompt: is required/],
    ['blank prompt', { prompt: '  \n ' }, /prompt: must not be blank/],
    ['prompt of the wrong type', { prompt: ['a'] }, /prompt: must be a string/],
    ['NUL in the prompt', { prompt: 'a\0b' }, /prompt: prompt must not contain NUL/],
    [
      'oversized prompt',
      { prompt: 'x'.repeat(1024 * 1024 + 1) },
      /prompt: must be at most 1048576 bytes/,
    ],
    ['unknown key', { prompt: 'hi', verbose: true }, /verbose: unknown argument/],
    ['max_turns 0', { prompt: 'hi', max_turns: 0 }, /max_turns: must be at least 1/],
    ['fractional max_turns', { prompt: 'hi', max_turns: 1.5 }, /max_turns: must be an integer/],
    ['string max_turns', { prompt: 'hi', max_turns: '3' }, /max_turns: must be an integer/],
    [
      'negative budget',
      { prompt: 'hi', max_budget_usd: -1 },
      /max_budget_usd: must be greater than 0/,
    ],
    ['empty model', { prompt: 'hi', model: '' }, /model: must not be empty/],
    [
      'model that looks like a flag',
      { prompt: 'hi', model: '--help' },
      /model: must be a model alias/,
    ],
    ['bad session id', { prompt: 'hi', session_id: 'abc' }, /session_id: must be a session id/],
    [
      'timeout over the maximum',
      { prompt: 'hi', timeout_s: 1801 },
      /timeout_s: must be at most 1800/,
    ],
    ['bad render', { prompt: 'hi', render: 'xml' }, /render: must be "porcelain" or "json"/],
    ['lone surrogate in cwd', { prompt: 'hi', cwd: 'a\uD800b' }, /cwd: cwd must be valid Unicode/],
  ];
  it('rejects each bad argument with invalid_input naming the field and rule, spawning nothing', async (t) => {
    const server = await startTestServer(t);
    for (const [name, args, expected] of cases) {
      const result = await server.call('consult', args);
      assert.equal(result.isError, true, name);
      const fault = faultOf(result);
      assert.equal(fault.fault.code, 'invalid_input', name);
      assert.equal(fault.jsonrpc_code, -32602, name);
      assert.equal(fault.retryable, false, name);
      assert.match(fault.fault.detail, expected, name);
      assert.match(textOf(result), expected, name);
    }
    assert.deepEqual(server.cliLog(), []);
  });

  it('resolves, canonicalises and checks cwd', async (t) => {
    const server = await startTestServer(t);
    mkdirSync(join(server.dir, 'real'));
    symlinkSync(join(server.dir, 'real'), join(server.dir, 'link'));
    writeFileSync(join(server.dir, 'file.txt'), 'x');
    const ok = await server.call('consult', { prompt: 'hi', cwd: 'link' });
    assert.equal(ok.isError, undefined);
    assert.equal(server.cliLog()[0]?.cwd, realpathSync(join(server.dir, 'real')));
    const missing = await server.call('consult', { prompt: 'hi', cwd: 'nope' });
    assert.match(faultOf(missing).fault.detail, /cwd: .*nope does not exist/);
    const file = await server.call('consult', { prompt: 'hi', cwd: 'file.txt' });
    assert.match(faultOf(file).fault.detail, /cwd: .*file\.txt is not a directory/);
  });

  it('fences cwd with PHONE_OPUS_ALLOWED_ROOTS, also through symlinks', async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'phone-opus-roots-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    mkdirSync(join(root, 'inside'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(root, 'escape'));
    const server = await startTestServer(t, { env: { PHONE_OPUS_ALLOWED_ROOTS: root } });
    const inside = await server.call('consult', { prompt: 'hi', cwd: join(root, 'inside') });
    assert.equal(inside.isError, undefined);
    for (const cwd of [outside, join(root, 'escape'), base]) {
      const fault = faultOf(await server.call('consult', { prompt: 'hi', cwd }));
      assert.equal(fault.fault.code, 'invalid_input', cwd);
      assert.match(
        fault.fault.detail,
        /is outside the allowed roots \(PHONE_OPUS_ALLOWED_ROOTS=/,
        cwd,
      );
    }
    assert.equal(server.cliLog().length, 1);
  });
});

describe('consult failures', () => {
  const cases: [string, object, string, boolean][] = [
    [
      '401',
      { is_error: true, api_error_status: 401, result: 'Failed to authenticate. API Error: 401' },
      'auth',
      false,
    ],
    [
      'not logged in',
      { is_error: true, result: 'Not logged in · Please run /login' },
      'auth',
      false,
    ],
    [
      '429',
      { is_error: true, api_error_status: 429, result: 'API Error: 429' },
      'rate_limit',
      true,
    ],
    [
      '529',
      { is_error: true, api_error_status: 529, result: 'API Error: 529' },
      'rate_limit',
      true,
    ],
    ['500', { is_error: true, api_error_status: 500, result: 'API Error: 500' }, 'api_error', true],
    [
      'max turns',
      {
        subtype: 'error_max_turns',
        is_error: true,
        omit_result_text: true,
        errors: ['Reached maximum number of turns (1)'],
      },
      'max_turns',
      false,
    ],
    [
      'budget',
      { subtype: 'error_max_budget_usd', is_error: true, omit_result_text: true },
      'budget',
      false,
    ],
    ['other error', { is_error: true, result: 'something broke' }, 'cli_error', false],
    ['exit 0 with is_error', { is_error: true, exit_code: 0, result: 'odd' }, 'cli_error', false],
    ['garbage output', { raw_stdout: 'this is not json\n', exit_code: 0 }, 'invalid_output', false],
    [
      'crash without output',
      { raw_stdout: '', exit_code: 3, stderr: 'boom on stderr' },
      'cli_error',
      false,
    ],
  ];
  it('classifies each envelope into a downstream_failure reason', async (t) => {
    const server = await startTestServer(t);
    for (const [name, directive, reason, retryable] of cases) {
      const result = await server.call('consult', { prompt: fake(directive) });
      assert.equal(result.isError, true, name);
      const fault = faultOf(result);
      assert.equal(fault.fault.code, 'downstream_failure', name);
      assert.equal(fault.reason, reason, name);
      assert.equal(fault.retryable, retryable, name);
      assert.equal(fault.stage, 'claude', name);
    }
    const crash = faultOf(
      await server.call('consult', {
        prompt: fake({ raw_stdout: '', exit_code: 3, stderr: 'boom on stderr' }),
      }),
    );
    assert.match(crash.fault.detail, /exited with status 3: boom on stderr/);
    const garbage = faultOf(
      await server.call('consult', {
        prompt: fake({ raw_stdout: 'this is not json\n', exit_code: 0 }),
      }),
    );
    assert.match(garbage.fault.detail, /this is not json/);
  });

  it('reports a missing CLI as a process_failure that says how to install, not retryable', async (t) => {
    const server = await startTestServer(t, {
      env: { PHONE_OPUS_CLAUDE_BIN: '/nonexistent/claude' },
    });
    const result = await server.call('consult', { prompt: 'hi' });
    const fault = faultOf(result);
    assert.equal(fault.fault.code, 'process_failure');
    assert.equal(fault.retryable, false);
    assert.match(fault.fault.detail, /not found: \/nonexistent\/claude/);
    assert.match(textOf(result), /PHONE_OPUS_CLAUDE_BIN/);
  });
});
