import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { BIN } from '../support/paths.ts';

// A HOME of its own: on Node 22 and later the server keeps its compile cache under it.
const home = mkdtempSync(join(tmpdir(), 'phone-opus-cli-'));
after(() => rmSync(home, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: home, ...env },
    input: '',
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('phone-opus command line', () => {
  it('prints help and version', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /phone-opus \[serve\]/);
    const version = run(['--version']);
    assert.equal(version.status, 0);
    assert.equal(version.stdout, `${pkg.version}\n`);
  });

  it('refuses unknown options and commands with exit 2 and one clear line', () => {
    for (const args of [['--frobnicate'], ['serve', '--nope'], ['launch']]) {
      const result = run(args);
      assert.equal(result.status, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        /^phone-opus: unknown (option|command) .+ \(see phone-opus --help\)\n$/,
      );
    }
  });

  it('refuses invalid configuration at start with exit 2, naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { PHONE_OPUS_MAX_CONCURRENCY: 'four' },
        /PHONE_OPUS_MAX_CONCURRENCY="four" is not a whole number/,
      ],
      [{ PHONE_OPUS_MAX_CONCURRENCY: '0' }, /PHONE_OPUS_MAX_CONCURRENCY=0 is out of range/],
      [{ PHONE_OPUS_CONSULT_TIMEOUT_S: '-5' }, /PHONE_OPUS_CONSULT_TIMEOUT_S/],
      [
        { PHONE_OPUS_CONSULT_REPLAY: 'always' },
        /PHONE_OPUS_CONSULT_REPLAY="always" is not one of convergent, never_replay/,
      ],
      [{ PHONE_OPUS_METRICS_PORT: '70000' }, /PHONE_OPUS_METRICS_PORT=70000 is out of range/],
      [{ PHONE_OPUS_LOG_PROMPTS: 'maybe' }, /PHONE_OPUS_LOG_PROMPTS/],
      [
        { PHONE_OPUS_ALLOWED_ROOTS: '/definitely/not/here' },
        /PHONE_OPUS_ALLOWED_ROOTS: \/definitely\/not\/here does not exist/,
      ],
    ];
    for (const [env, expected] of cases) {
      const result = run([], env);
      assert.equal(result.status, 2, JSON.stringify(env));
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(result.stdout, '');
    }
  });
});
