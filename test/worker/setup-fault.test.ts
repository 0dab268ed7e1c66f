import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Site } from '../../src/shared/fault.ts';
import { cwdFault, spawnFault, tmpdirFault, workerFault } from '../../src/worker/setup-fault.ts';

const at: Site = { generation: 1, stage: 'worker', operation: 'tools/call:consult' };
const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe('faults for what the worker runs into', () => {
  it('are process_failures, retryable only for descriptor or memory exhaustion', () => {
    const exhausted = [
      cwdFault(at, '/w', { kind: 'error', code: 'EMFILE', message: 'too many open files' }, null),
      tmpdirFault(at, errno('EMFILE')),
      spawnFault(at, 'claude', '/w', { code: 'EAGAIN', message: 'spawn EAGAIN', about: 'system' }),
      workerFault(at, errno('ENFILE')),
    ];
    for (const fault of exhausted) {
      assert.equal(fault.fault.code, 'process_failure');
      assert.equal(fault.retryable, true, fault.fault.detail);
      assert.equal(fault.fault.directive, 'retry');
      assert.match(fault.fault.detail, /out of file descriptors or memory/);
    }
    const lasting = [
      cwdFault(at, '/w', { kind: 'error', code: 'ENOTDIR', message: 'not a directory' }, null),
      tmpdirFault(at, errno('EROFS')),
      spawnFault(at, 'claude', '/w', { code: 'ENOENT', message: 'spawn ENOENT', about: 'command' }),
    ];
    for (const fault of lasting) {
      assert.equal(fault.fault.code, 'process_failure');
      assert.equal(fault.retryable, false, fault.fault.detail);
    }
  });

  it('name the culprit: the cwd, TMPDIR or the CLI', () => {
    const cwd = spawnFault(at, 'claude', '/w', { code: 'ENOENT', message: 'spawn', about: 'cwd' });
    assert.match(cwd.fault.detail, /^cwd: \/w could not be entered/);
    assert.doesNotMatch(cwd.fault.detail, /not found/);
    const cli = spawnFault(at, 'claude', '/w', { code: 'ENOENT', message: 'x', about: 'command' });
    assert.match(cli.fault.detail, /Claude Code CLI not found: claude/);
    assert.match(tmpdirFault(at, errno('EROFS')).fault.detail, /in TMPDIR \(.+\): EROFS/);
    const outside = cwdFault(at, '/r/sub', { kind: 'outside', realPath: '/elsewhere' }, ['/r']);
    assert.equal(outside.fault.code, 'invalid_input');
    assert.match(
      outside.fault.detail,
      /^cwd: \/r\/sub now resolves to \/elsewhere, outside the allowed roots \(PHONE_OPUS_ALLOWED_ROOTS=\/r\)/,
    );
  });
});
