import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readConfig } from '../../src/shared/config.ts';

describe('readConfig', () => {
  it('applies the documented defaults', () => {
    const config = readConfig({ HOME: '/home/u' }, '/srv');
    assert.ok(config.ok);
    assert.equal(config.value.maxConcurrency, 4);
    assert.equal(config.value.maxQueue, 32);
    assert.equal(config.value.consultTimeoutS, 1800);
    assert.equal(config.value.progressIntervalMs, 15_000);
    assert.equal(config.value.consultReplay, 'never_replay');
    assert.equal(config.value.metricsPort, undefined);
    assert.equal(config.value.metricsHost, '127.0.0.1');
    assert.equal(config.value.stateDir, '/home/u/.local/state/phone_opus');
    assert.equal(config.value.logPrompts, false);
    assert.equal(config.value.allowedRoots, undefined);
  });

  it('uses XDG_STATE_HOME when absolute and resolves a relative state dir', () => {
    const xdg = readConfig({ HOME: '/home/u', XDG_STATE_HOME: '/xdg' }, '/srv');
    assert.ok(xdg.ok);
    assert.equal(xdg.value.stateDir, '/xdg/phone_opus');
    const relative = readConfig({ HOME: '/home/u', PHONE_OPUS_STATE_DIR: 'state' }, '/srv');
    assert.ok(relative.ok);
    assert.equal(relative.value.stateDir, '/srv/state');
  });

  it('treats empty values as unset and parses valid values', () => {
    const config = readConfig(
      {
        PHONE_OPUS_MAX_CONCURRENCY: '',
        PHONE_OPUS_MAX_QUEUE: '0',
        PHONE_OPUS_METRICS_PORT: '0',
        PHONE_OPUS_CONSULT_REPLAY: 'convergent',
        PHONE_OPUS_LOG_PROMPTS: '1',
        PHONE_OPUS_ALLOWED_ROOTS: '/tmp::/',
      },
      '/',
    );
    assert.ok(config.ok);
    assert.equal(config.value.maxConcurrency, 4);
    assert.equal(config.value.maxQueue, 0);
    assert.equal(config.value.metricsPort, 0);
    assert.equal(config.value.consultReplay, 'convergent');
    assert.equal(config.value.logPrompts, true);
    assert.equal(config.value.allowedRoots?.length, 2);
  });

  it('refuses a fractional number rather than rounding it', () => {
    const config = readConfig({ PHONE_OPUS_PROGRESS_INTERVAL_MS: '1.5' }, '/');
    assert.equal(config.ok, false);
  });
});
