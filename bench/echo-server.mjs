#!/usr/bin/env node
// The raw stdio JSON-RPC floor: newline-delimited JSON-RPC with no SDK, no validation and no
// work. `tools/call` answers a fixed tool result about the size of phone-opus's concise
// health_snapshot, so the floor differs from the server only in what the server does per call.
const RESULT = {
  content: [{ type: 'text', text: 'ready gen=1 threads=0/0 in_flight=0 queued=0 worker=none' }],
};

const answer = (message) => {
  switch (message.method) {
    case 'initialize':
      return {
        protocolVersion: message.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'bench-echo', version: '0.0.0' },
      };
    case 'tools/call':
      return RESULT;
    default:
      return {};
  }
};

let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let newline = buffer.indexOf('\n');
  while (newline !== -1) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    newline = buffer.indexOf('\n');
    if (line.trim() === '') continue;
    const message = JSON.parse(line);
    if (message.id === undefined) continue; // a notification
    process.stdout.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: answer(message) })}\n`,
    );
  }
});
