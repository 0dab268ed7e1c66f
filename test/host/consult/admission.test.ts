import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, type AdmissionResult } from '../../../src/host/consult/admission.ts';

const admitted = (r: AdmissionResult) => {
  assert.equal(r.kind, 'admitted');
  return r.kind === 'admitted' ? r.release : () => {};
};

describe('Admission', () => {
  it('runs up to capacity, queues FIFO up to maxQueue, refuses beyond', async () => {
    const a = new Admission(1, 2);
    const never = new AbortController().signal;
    const first = admitted(await a.acquire(never));
    const order: string[] = [];
    const second = a.acquire(never).then((r) => {
      order.push('second');
      return r;
    });
    const third = a.acquire(never).then((r) => {
      order.push('third');
      return r;
    });
    assert.equal((await a.acquire(never)).kind, 'overloaded');
    assert.deepEqual([a.running, a.queued], [1, 2]);
    first();
    admitted(await second)();
    admitted(await third)();
    assert.deepEqual(order, ['second', 'third']);
    assert.deepEqual([a.running, a.queued], [0, 0]);
  });

  it('drops a cancelled waiter from the queue without running it', async () => {
    const a = new Admission(1, 1);
    const release = admitted(await a.acquire(new AbortController().signal));
    const controller = new AbortController();
    const waiting = a.acquire(controller.signal);
    controller.abort();
    assert.equal((await waiting).kind, 'aborted');
    assert.equal(a.queued, 0);
    release();
    assert.equal(a.running, 0);
  });
});
