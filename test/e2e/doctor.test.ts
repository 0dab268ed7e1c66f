import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from '../support/cli.ts';
import { FAKE_CLAUDE } from '../support/paths.ts';

function sandbox(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'phone-opus-doctor-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    HOME: dir,
    PHONE_OPUS_CLAUDE_BIN: FAKE_CLAUDE,
    PHONE_OPUS_STATE_DIR: join(dir, 'state'),
    FAKE_CLAUDE_LOG: join(dir, 'cli.jsonl'),
  };
  return { dir, env };
}

const failLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '');

describe('phone-opus doctor', () => {
  it('passes with a working CLI and prints its path and version', async (t) => {
    const { dir, env } = sandbox(t);
    const result = await runCli(['doctor'], { env, cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(
      result.stdout,
      new RegExp(
        `^ok {4}claude: ${FAKE_CLAUDE} \\(version 9\\.9\\.9 \\(Fake Claude Code\\)\\)$`,
        'm',
      ),
    );
    assert.match(result.stdout, /^ok {4}state dir: .*\/state \(writable\)$/m);
    // Which containment consults get: the PID namespace, or the fallback and why.
    assert.match(
      result.stdout,
      /^(ok {4}containment: pid_namespace \(.+\)|warn {2}containment: process_group: .+)$/m,
    );
    assert.match(result.stdout, /^info {2}auth: not checked/m);
    assert.match(result.stdout, /everything a consult needs is in place\n$/);
    assert.equal(existsSync(join(dir, 'cli.jsonl')), false, 'no consult without --probe');
  });

  it('--probe runs one consult the way the server does', async (t) => {
    const { dir, env } = sandbox(t);
    const result = await runCli(['doctor', '--probe'], { env, cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /^ok {4}probe: Claude Code answered a one-turn consult in [\d.]+ s \(model claude-fake-1, cost \$0\.012300\)$/m,
    );
    const runs = readFileSync(join(dir, 'cli.jsonl'), 'utf8').trim().split('\n');
    assert.equal(runs.length, 1);
    const run = JSON.parse(runs[0] ?? '{}') as { argv: string[]; prompt: string; cwd: string };
    assert.deepEqual(run.argv.slice(0, 3), ['-p', '--output-format', 'stream-json']);
    assert.ok(run.argv.includes('--strict-mcp-config'));
    assert.deepEqual(run.argv.slice(-2), ['--max-turns', '1']);
    assert.match(run.prompt, /pong/);
    assert.notEqual(run.cwd, dir, 'the probe runs in an empty directory of its own');
    assert.equal(existsSync(run.cwd), false, 'and removes it');
  });

  it('--probe fails with one line when the consult fails', async (t) => {
    const { dir, env } = sandbox(t);
    const result = await runCli(['doctor', '--probe'], {
      env: { ...env, FAKE_CLAUDE_EXIT_CODE: '1' },
      cwd: dir,
    });
    assert.equal(result.status, 1);
    const lines = failLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] ?? '',
      /^FAIL {2}probe: downstream_failure \(cli_error\): .+\. Fix: .+\.$/,
    );
    assert.match(result.stdout, /1 problem found\n$/);
  });

  it('fails with one clear line naming the fix when the CLI is missing', async (t) => {
    const { dir, env } = sandbox(t);
    const result = await runCli(['doctor', '--probe'], {
      env: { ...env, PHONE_OPUS_CLAUDE_BIN: join(dir, 'no-such-claude') },
      cwd: dir,
    });
    assert.equal(result.status, 1);
    const lines = failLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] ?? '',
      /^FAIL {2}claude: Claude Code CLI not found: .*no-such-claude does not exist or is not executable\. Fix: install Claude Code \(npm install -g @anthropic-ai\/claude-code\) or set PHONE_OPUS_CLAUDE_BIN/,
    );
    assert.match(result.stdout, /^info {2}probe: skipped/m);
  });

  it('reports an unwritable state dir and invalid configuration, one line each', async (t) => {
    const { dir, env } = sandbox(t);
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const state = await runCli(['doctor'], {
      env: { ...env, PHONE_OPUS_STATE_DIR: file },
      cwd: dir,
    });
    assert.equal(state.status, 1);
    assert.deepEqual(
      failLines(state.stderr).map((l) =>
        /^FAIL {2}state dir: .*not-a-dir is not writable \(.*\)\. Fix: set PHONE_OPUS_STATE_DIR/.test(
          l,
        ),
      ),
      [true],
    );
    const config = await runCli(['doctor'], {
      env: { ...env, PHONE_OPUS_MAX_QUEUE: 'lots' },
      cwd: dir,
    });
    assert.equal(config.status, 1);
    assert.deepEqual(
      failLines(config.stderr).map((l) => /^FAIL {2}config: PHONE_OPUS_MAX_QUEUE="lots"/.test(l)),
      [true],
    );
  });

  it('refuses unknown options with exit 2', async (t) => {
    const { dir, env } = sandbox(t);
    const result = await runCli(['doctor', '--deep'], { env, cwd: dir });
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      'phone-opus: unknown option --deep for doctor (see phone-opus --help)\n',
    );
  });
});
