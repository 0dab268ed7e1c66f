import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../../src/host/consult/breaker.ts';

describe('CircuitBreaker', () => {
  const options = { maxLosses: 5, windowMs: 60_000, baseBackoffMs: 5000, maxBackoffMs: 20_000 };

  it('opens after more than 5 losses within the window and refuses with a retry-after', () => {
    const b = new CircuitBreaker(options);
    for (let i = 0; i < 5; i++) b.recordLoss(i * 1000);
    assert.equal(b.state(5000), 'closed');
    b.recordLoss(5500);
    assert.equal(b.state(5500), 'open');
    const refused = b.admit(6500);
    assert.deepEqual(refused, { ok: false, retryAfterMs: 4000 });
    assert.equal(b.allowsReplay(6500), false);
  });

  it('forgets losses older than the window', () => {
    const b = new CircuitBreaker(options);
    for (let i = 0; i < 6; i++) b.recordLoss(i * 20_000);
    assert.equal(b.state(100_000), 'closed');
  });

  it('lets one probe through when half-open; success closes, a lost probe reopens with double back-off', () => {
    const b = new CircuitBreaker(options);
    for (let i = 0; i < 6; i++) b.recordLoss(0);
    assert.equal(b.state(5000), 'half_open');
    assert.deepEqual(b.admit(5000), { ok: true, probe: true });
    assert.equal(b.admit(5001).ok, false, 'only one probe at a time');
    b.recordLoss(5100);
    assert.equal(b.state(5100), 'open');
    assert.equal(b.state(5100 + 9999), 'open');
    assert.equal(b.state(5100 + 10_000), 'half_open');
    assert.deepEqual(b.admit(15_100), { ok: true, probe: true });
    b.recordProbeSurvived();
    assert.equal(b.state(15_200), 'closed');
    assert.deepEqual(b.admit(15_200), { ok: true, probe: false });
  });
});
