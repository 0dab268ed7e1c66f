import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faults } from '../../src/shared/fault.ts';

const at = { generation: 1, stage: 'host', operation: 'tools/call:consult' } as const;

describe('faults', () => {
  it('gives retry_after_ms in whole milliseconds, rounded up', () => {
    for (const fault of [
      faults.circuitOpen(at, 'paused', 4999.2),
      faults.overloaded(at, 'busy', 4999.2),
    ]) {
      assert.equal(fault.hint?.retry_after_ms, 5000);
      assert.equal(fault.hint?.message, 'retry after 5000 ms');
      assert.equal(fault.retryable, true);
    }
  });

  it('lets a process failure be retryable when a retry can help', () => {
    assert.equal(faults.processFailure(at, 'x').retryable, false);
    const transient = faults.processFailure(at, 'EMFILE', undefined, true);
    assert.equal(transient.retryable, true);
    assert.equal(transient.fault.directive, 'retry');
  });
});
