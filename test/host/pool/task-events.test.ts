import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskEvents } from '../../../src/host/pool/task-events.ts';
import type { WorkerEvent } from '../../../src/shared/wire.ts';

const spawned = (taskId: number): WorkerEvent => ({ type: 'spawned', taskId, pgid: 42, start: '' });
const reaped = (taskId: number): WorkerEvent => ({ type: 'reaped', taskId, pgid: 42 });

function harness(lateMs = 50) {
  const orphans: WorkerEvent[] = [];
  const events = new TaskEvents((event) => orphans.push(event), lateMs);
  return { events, orphans };
}

describe('TaskEvents', () => {
  it('routes by task id; an event for nobody goes to the orphan handler', () => {
    const { events, orphans } = harness();
    const seen: WorkerEvent[] = [];
    events.subscribe(1, (event) => seen.push(event));
    events.deliver(spawned(1));
    events.deliver(spawned(2));
    assert.deepEqual(seen, [spawned(1)]);
    assert.deepEqual(orphans, [spawned(2)]);
  });

  it('ends at once when the reply’s count has already arrived', () => {
    const { events, orphans } = harness();
    const subscription = events.subscribe(1, () => {});
    events.deliver(spawned(1));
    events.deliver(reaped(1));
    subscription.end(2);
    assert.equal(events.size, 0);
    events.deliver(reaped(1));
    assert.equal(orphans.length, 1);
  });

  it('keeps listening for events that trail the reply, then stops at the count', () => {
    const { events, orphans } = harness(60_000);
    const seen: WorkerEvent[] = [];
    const subscription = events.subscribe(1, (event) => seen.push(event));
    events.deliver(spawned(1));
    subscription.end(2); // the reply overtook 'reaped'
    assert.equal(events.size, 1);
    events.deliver(reaped(1));
    assert.deepEqual(seen, [spawned(1), reaped(1)]);
    assert.equal(events.size, 0, 'no timer needed once the count is reached');
    assert.deepEqual(orphans, []);
  });

  it('without a count (a lost thread) keeps listening for a short while only', async () => {
    const { events, orphans } = harness(30);
    const seen: WorkerEvent[] = [];
    events.subscribe(1, (event) => seen.push(event)).end();
    events.deliver(spawned(1));
    assert.deepEqual(seen, [spawned(1)]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(events.size, 0);
    events.deliver(reaped(1));
    assert.deepEqual(orphans, [reaped(1)]);
  });

  it('a count that never arrives in full stops listening after the grace period', async () => {
    const { events } = harness(30);
    events.subscribe(1, () => {}).end(3);
    events.deliver(spawned(1));
    assert.equal(events.size, 1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(events.size, 0);
  });
});
