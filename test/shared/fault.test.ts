import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFault } from '../../src/shared/fault.ts';

const at = { generation: 1, stage: 'host', operation: 'tools/call:consult' } as const;

describe('faults', () => {
  it('gives retry_after_ms in whole milliseconds, rounded up', () => {
    for (const fault of [
      createFault('circuit_open', at, 'paused', { retryAfterMs: 4999.2 }),
      createFault('overloaded', at, 'busy', { retryAfterMs: 4999.2 }),
    ]) {
      assert.equal(fault.hint?.retry_after_ms, 5000);
      assert.equal(fault.hint?.message, 'retry after 5000 ms');
      assert.equal(fault.retryable, true);
    }
  });

  it('lets a process failure be retryable when a retry can help', () => {
    assert.equal(createFault('process_failure', at, 'x').retryable, false);
    const transient = createFault('process_failure', at, 'EMFILE', { retryable: true });
    assert.equal(transient.retryable, true);
    assert.equal(transient.fault.directive, 'retry');
  });
});
