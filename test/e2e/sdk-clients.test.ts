import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { fake } from '../support/fake.ts';
import { BIN } from '../support/paths.ts';
import { survivors, waitFor } from '../support/proc.ts';
import { serverRig } from '../support/server.ts';

/** The v2 SDK client (`@modelcontextprotocol/client`), as clients built on it connect. */
async function connect(t: TestContext, negotiation: 'legacy' | 'modern') {
  const rig = serverRig({ PHONE_OPUS_PROGRESS_INTERVAL_MS: '100' });
  const client = new Client(
    { name: 'v2-client-test', version: '1' },
    negotiation === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: rig.env,
    cwd: rig.dir,
    stderr: 'pipe',
  });
  await client.connect(transport);
  t.after(async () => {
    await client.close();
    await rig.verifyNothingLeft();
  });
  return { client, rig };
}

const text = (result: { content?: unknown }) =>
  ((result.content as { text?: string }[] | undefined)?.[0]?.text ?? '') as string;

for (const negotiation of ['modern', 'legacy'] as const) {
  describe(`the v2 SDK client (${negotiation === 'modern' ? 'pinned to 2026-07-28' : 'initialize, 2025-11-25'})`, () => {
    it('runs health, telemetry and a consult with progress; a cancel stops the CLI', async (t) => {
      const { client, rig } = await connect(t, negotiation);
      assert.equal(client.getProtocolEra(), negotiation);
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((tool) => tool.name),
        ['consult', 'consult_result', 'consult_cancel', 'health_snapshot', 'telemetry_snapshot'],
      );
      assert.deepEqual(tools[0]?._meta, {
        phoneOpus: { dispatch: 'worker', replayContract: 'never_replay' },
      });
      assert.match(
        text(await client.callTool({ name: 'health_snapshot', arguments: {} })),
        /^cold gen=1 /,
      );

      const progress: { progress: number; message?: string | undefined }[] = [];
      const answer = await client.callTool(
        { name: 'consult', arguments: { prompt: fake({ sleep_ms: 400, result: 'v2 answer' }) } },
        { onprogress: (p) => progress.push(p), timeout: 20_000 },
      );
      assert.match(text(answer), /^consult ok /);
      assert.match(text(answer), /v2 answer/);
      assert.ok(progress.length >= 2, JSON.stringify(progress));
      assert.ok(progress.every((p, i) => i === 0 || p.progress > (progress[i - 1]?.progress ?? 0)));

      const telemetry = await client.callTool({
        name: 'telemetry_snapshot',
        arguments: { render: 'json' },
      });
      assert.equal(
        ((telemetry.structuredContent as Record<string, unknown>)['successes'] as number) >= 2,
        true,
      );

      const abort = new AbortController();
      const pending = client.callTool(
        { name: 'consult', arguments: { prompt: fake({ sleep_ms: 30_000 }) } },
        { signal: abort.signal, timeout: 60_000 },
      );
      const runs = await waitFor(rig.cliLog, (r) => r.length === 2);
      abort.abort('stop');
      await assert.rejects(pending);
      const cli = runs[1]?.pid as number;
      assert.deepEqual(await survivors([cli], 5000), []);
      const after = await client.callTool({
        name: 'health_snapshot',
        arguments: { render: 'json' },
      });
      const health = after.structuredContent as { in_flight: number };
      assert.equal(
        await waitFor(
          async () =>
            (
              (await client.callTool({ name: 'health_snapshot', arguments: { render: 'json' } }))
                .structuredContent as { in_flight: number }
            ).in_flight,
          (n) => n === 0,
          2000,
        ),
        0,
        `the slot is free (was ${health.in_flight})`,
      );
    });
  });
}
