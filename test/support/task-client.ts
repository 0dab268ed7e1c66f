import type { TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createTaskSessionFromClient } from '@modelcontextprotocol/ext-tasks/client';
import { BIN } from './paths.ts';
import { type ServerRig, serverRig } from './server.ts';

type Message = { id?: unknown; method?: string; [key: string]: unknown };
type Raw = { method: string; params?: unknown };

/**
 * A stdio transport that can also send a request of its own on the same pipe and hand its
 * response back: ext-tasks needs such a raw path for the 2026 task shapes, which the v2
 * Client's typed requests do not carry.
 */
class TapTransport {
  readonly #inner: StdioClientTransport;
  readonly #pending = new Map<unknown, (message: Message) => void>();
  #next = 1_000_000;
  onmessage?: (message: Message) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  constructor(inner: StdioClientTransport) {
    this.#inner = inner;
  }

  async start(): Promise<void> {
    this.#inner.onmessage = (message) => {
      const m = message as Message;
      const waiter = this.#pending.get(m.id);
      if (waiter !== undefined && m.method === undefined) {
        this.#pending.delete(m.id);
        waiter(m);
      } else this.onmessage?.(m);
    };
    this.#inner.onerror = (error) => this.onerror?.(error);
    this.#inner.onclose = () => this.onclose?.();
    return this.#inner.start();
  }

  send(message: unknown): Promise<void> {
    return this.#inner.send(message as never);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  rawDispatch = async (request: Raw) => {
    const id = this.#next++;
    const reply = new Promise<Message>((resolve) => this.#pending.set(id, resolve));
    await this.#inner.send({ ...request, id, jsonrpc: '2.0' } as never);
    const m = await reply;
    return 'error' in m
      ? { kind: 'error' as const, error: m['error'] as never }
      : { kind: 'result' as const, result: m['result'] as never };
  };
}

/**
 * The ext-tasks requester session over the v2 SDK client, as a tasks-aware client would
 * use it: 2025-11-25 after initialize, or 2026-07-28 (pinned) through the extension.
 */
export async function connectTaskClient(
  t: TestContext,
  era: 'legacy' | 'modern',
  env: Record<string, string> = {},
): Promise<{
  rig: ServerRig;
  client: Client;
  session: ReturnType<typeof createTaskSessionFromClient>;
}> {
  const rig = serverRig(env);
  const client = new Client(
    { name: 'ext-tasks-test', version: '1' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  const tap = new TapTransport(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN],
      env: rig.env,
      cwd: rig.dir,
      stderr: 'pipe',
    }),
  );
  await client.connect(tap as never);
  const session = createTaskSessionFromClient(client, {
    endpointId: 'phone-opus-test',
    ...(era === 'modern'
      ? {
          rawDispatch: tap.rawDispatch as never,
          v2RequestFraming: {
            protocolVersion: '2026-07-28',
            clientInfo: { name: 'ext-tasks-test', version: '1' },
            clientCapabilities: {},
          },
        }
      : {}),
  });
  t.after(async () => {
    await session.close();
    await client.close();
    await rig.verifyNothingLeft();
  });
  return { rig, client, session };
}
