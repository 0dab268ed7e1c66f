import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { fake } from '../support/fake.ts';
import { isAlive, survivors, waitFor } from '../support/proc.ts';
import { type RawSession, startRawSession } from '../support/raw-session.ts';
import type { FakeRun } from '../support/server.ts';
import { connectTaskClient } from '../support/task-client.ts';

/**
 * MCP tasks on consult jobs (SPEC §11, task id = job id): the 2025-11-25 task methods and the
 * 2026-07-28 `io.modelcontextprotocol/tasks` extension, on the wire and through ext-tasks.
 */

type Message = Record<string, unknown>;
const resultOf = (m: Message) => m['result'] as Record<string, unknown>;
const errorOf = (m: Message) => m['error'] as { code: number; message: string };
const textOf = (result: { content?: unknown }) =>
  String((result.content as { text?: string }[] | undefined)?.[0]?.text ?? '');
const runsOf = (s: RawSession) => s.cliRuns() as FakeRun[];

/** A request on 2025-11-25 (after initialize), answered. */
async function legacy(s: RawSession, method: string, params: Record<string, unknown> = {}) {
  const id = randomUUID();
  s.send({ jsonrpc: '2.0', id, method, params });
  return s.next((m) => m['id'] === id, 30_000);
}

const TASKS = 'io.modelcontextprotocol/tasks';
/** A request on 2026-07-28: its envelope, declaring the tasks extension unless told not to. */
async function modern(
  s: RawSession,
  method: string,
  params: Record<string, unknown> = {},
  tasks = true,
) {
  const id = randomUUID();
  const _meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
    'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1' },
  };
  s.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta } });
  return s.next((m) => m['id'] === id, 30_000);
}

describe('tasks, protocol 2025-11-25', () => {
  it('creates a task for params.task; tasks/get, list, result and cancel; TTL honoured', async (t) => {
    const s = startRawSession(t);
    const init = await legacy(s, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: { tasks: {} },
      clientInfo: { name: 'raw-tasks', version: '1' },
    });
    assert.deepEqual(resultOf(init)['capabilities'], {
      tools: { listChanged: false },
      logging: {},
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    });
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const tools = resultOf(await legacy(s, 'tools/list'))['tools'] as Message[];
    assert.deepEqual(tools.find((tool) => tool['name'] === 'consult')?.['execution'], {
      taskSupport: 'optional',
    });

    const created = resultOf(
      await legacy(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 1500, result: 'task answer' }) },
        task: { ttl: 600_000 },
      }),
    );
    const task = created['task'] as Record<string, unknown>;
    const taskId = String(task['taskId']);
    assert.match(taskId, /^[0-9a-f-]{36}$/);
    assert.equal(task['status'], 'working');
    assert.equal(task['ttl'], 600_000);
    assert.equal(typeof task['pollInterval'], 'number');
    assert.equal(typeof task['createdAt'], 'string');
    assert.equal(resultOf(await legacy(s, 'tasks/get', { taskId }))['status'], 'working');
    const listed = resultOf(await legacy(s, 'tasks/list'))['tasks'] as Message[];
    assert.deepEqual(
      listed.map((x) => x['taskId']),
      [taskId],
    );
    // tasks/result blocks until the end, then gives the consult's own result.
    const result = resultOf(await legacy(s, 'tasks/result', { taskId })) as CallToolResult;
    assert.equal(result.isError, undefined);
    assert.match(textOf(result), /^consult ok /);
    assert.match(textOf(result), /task answer/);
    assert.deepEqual(result._meta?.['io.modelcontextprotocol/related-task'], { taskId });
    assert.equal(resultOf(await legacy(s, 'tasks/get', { taskId }))['status'], 'completed');
    assert.equal(runsOf(s).length, 1);

    // A consult that fails is still a completed task: its result is the fault (isError).
    const failing = resultOf(
      await legacy(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ is_error: true, api_error_status: 500 }) },
        task: {},
      }),
    )['task'] as Message;
    const failed = resultOf(
      await legacy(s, 'tasks/result', { taskId: failing['taskId'] }),
    ) as CallToolResult;
    assert.equal(failed.isError, true);
    assert.equal(
      resultOf(await legacy(s, 'tasks/get', { taskId: failing['taskId'] }))['status'],
      'completed',
    );

    // tasks/cancel stops the CLI tree; a second cancel of a finished task is an error.
    const long = resultOf(
      await legacy(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 60_000, grandchildren: 1 }) },
        task: {},
      }),
    )['task'] as Message;
    const runs = await waitFor(
      () => runsOf(s),
      (r) => r.length === 3,
    );
    const cancelled = resultOf(await legacy(s, 'tasks/cancel', { taskId: long['taskId'] }));
    assert.equal(cancelled['status'], 'cancelled');
    assert.deepEqual(await survivors([runs[2]?.pid as number, ...(runs[2]?.children ?? [])]), []);
    const again = errorOf(await legacy(s, 'tasks/cancel', { taskId: long['taskId'] }));
    assert.equal(again.code, -32602);
    assert.match(again.message, /already ended \(cancelled\)/);
    assert.equal(errorOf(await legacy(s, 'tasks/get', { taskId: randomUUID() })).code, -32602);

    // A task asked to be kept one second is gone soon after it ends.
    const short = resultOf(
      await legacy(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ result: 'brief' }) },
        task: { ttl: 1000 },
      }),
    )['task'] as Message;
    assert.equal(short['ttl'], 1000);
    await legacy(s, 'tasks/result', { taskId: short['taskId'] });
    const expired = await waitFor(
      () => legacy(s, 'tasks/get', { taskId: short['taskId'] }),
      (m) => 'error' in m,
      10_000,
      250,
    );
    assert.match(errorOf(expired).message, /unknown task .* \(or expired\)/);

    // Bad arguments with params.task: a plain isError result, no task.
    const refused = resultOf(
      await legacy(s, 'tools/call', { name: 'consult', arguments: { prompt: 7 }, task: {} }),
    );
    assert.equal(refused['isError'], true);
    assert.equal(refused['task'], undefined);
    // Without params.task, a consult is a plain call as before.
    const plain = resultOf(
      await legacy(s, 'tools/call', { name: 'consult', arguments: { prompt: fake({}) } }),
    );
    assert.match(textOf(plain), /^consult ok /);
  });
});

describe('tasks, protocol 2026-07-28 (io.modelcontextprotocol/tasks)', () => {
  it('answers resultType task when the request declares the extension; tasks/get inlines the result; tasks/cancel', async (t) => {
    const s = startRawSession(t);
    const created = resultOf(
      await modern(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 1500, result: 'modern task answer' }) },
      }),
    );
    assert.equal(created['resultType'], 'task');
    const taskId = String(created['taskId']);
    assert.equal(created['status'], 'working');
    assert.equal(typeof created['ttlMs'], 'number');
    assert.equal(typeof created['pollIntervalMs'], 'number');
    const done = await waitFor(
      async () => resultOf(await modern(s, 'tasks/get', { taskId })),
      (r) => r['status'] !== 'working',
      20_000,
      200,
    );
    assert.equal(done['status'], 'completed');
    assert.equal(done['resultType'], 'complete');
    assert.match(textOf(done['result'] as CallToolResult), /modern task answer/);

    const long = resultOf(
      await modern(s, 'tools/call', {
        name: 'consult',
        arguments: { prompt: fake({ sleep_ms: 60_000 }) },
      }),
    );
    const runs = await waitFor(
      () => runsOf(s),
      (r) => r.length === 2,
    );
    const cancel = resultOf(await modern(s, 'tasks/cancel', { taskId: long['taskId'] }));
    assert.equal(cancel['resultType'], 'complete');
    assert.deepEqual(await survivors([runs[1]?.pid as number]), []);
    assert.equal(
      resultOf(await modern(s, 'tasks/get', { taskId: long['taskId'] }))['status'],
      'cancelled',
    );

    // A request without the extension gets the plain result.
    const plain = resultOf(
      await modern(s, 'tools/call', { name: 'consult', arguments: { prompt: fake({}) } }, false),
    );
    assert.equal(plain['resultType'], 'complete');
    assert.match(textOf(plain), /^consult ok /);
  });
});

for (const era of ['legacy', 'modern'] as const) {
  describe(`tasks through ext-tasks on the v2 SDK client (${era === 'legacy' ? '2025-11-25' : '2026-07-28'})`, () => {
    it('runs a consult as a task to its result, and cancels one', async (t) => {
      const { client, session, rig } = await connectTaskClient(t, era);
      assert.equal(client.getProtocolEra(), era);
      const execution = await session.callTool(
        'consult',
        { prompt: fake({ sleep_ms: 800, result: `${era} via ext-tasks` }) },
        { task: { preference: 'require' } },
      );
      assert.equal(execution.kind, 'task');
      const { outcome } = await execution.settle();
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const result = (outcome as { result: CallToolResult }).result;
      assert.match(textOf(result), /^consult ok /);
      assert.match(textOf(result), new RegExp(`${era} via ext-tasks`));

      const long = await session.callTool(
        'consult',
        { prompt: fake({ sleep_ms: 60_000 }) },
        { task: { preference: 'require' } },
      );
      assert.equal(long.kind, 'task');
      const runs = await waitFor(rig.cliLog, (r) => r.length === 2);
      await long.cancel();
      assert.deepEqual(await survivors([runs[1]?.pid as number]), []);
      const settled = await long.settle();
      assert.equal(settled.outcome.status, 'cancelled');
      assert.ok(!isAlive(runs[1]?.pid as number));
    });
  });
}
