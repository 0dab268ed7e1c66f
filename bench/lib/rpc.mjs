// A minimal newline-delimited JSON-RPC client over a child's stdio: no SDK, no validation, so
// that round-trip figures measure the server and not the client.
import { spawn } from 'node:child_process';

export class RpcClient {
  #child;
  #pending = new Map();
  #nextId = 1;
  #buffer = '';
  /** Responses that arrived for no pending request (e.g. an answer to a cancelled one). */
  unexpected = [];
  notifications = 0;
  stderr = '';
  exited;

  constructor(child) {
    this.#child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.stdout.setEncoding('utf8').on('data', (chunk) => this.#onData(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-64 * 1024); // the last 64 KiB
    });
    child.stdin.on('error', () => {});
  }

  static spawn(command, args, { env, cwd }) {
    return new RpcClient(spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  get pid() {
    return this.#child.pid;
  }

  /** Send a request; `id` lets the caller cancel it. */
  start(method, params) {
    const id = this.#nextId++;
    const promise = new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#write({ jsonrpc: '2.0', id, method, params });
    return { id, promise };
  }

  async request(method, params) {
    const message = await this.start(method, params).promise;
    if (message.error !== undefined) throw new Error(`${method}: ${JSON.stringify(message.error)}`);
    return message.result;
  }

  notify(method, params) {
    this.#write({ jsonrpc: '2.0', method, params });
  }

  /** Forget a request that will never be answered (a cancelled one, per MCP). */
  drop(id) {
    this.#pending.delete(id);
  }

  async initialize() {
    await this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'phone-opus-bench', version: '0.0.0' },
    });
    this.notify('notifications/initialized');
  }

  /** Close stdin (the server's shutdown signal) and wait for the exit; SIGKILL after `graceMs`. */
  async close(graceMs = 6000) {
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    for (const { reject } of this.#pending.values()) reject(new Error('connection closed'));
    this.#pending.clear();
    return exit;
  }

  #write(message) {
    this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  #onData(chunk) {
    this.#buffer += chunk;
    let newline = this.#buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      newline = this.#buffer.indexOf('\n');
      if (line.trim() === '') continue;
      const message = JSON.parse(line);
      if (message.id === undefined || message.method !== undefined) {
        this.notifications += 1;
        continue;
      }
      const waiter = this.#pending.get(message.id);
      if (waiter === undefined) {
        this.unexpected.push(message);
        continue;
      }
      this.#pending.delete(message.id);
      waiter.resolve(message);
    }
  }
}
