#!/usr/bin/env node
// The *node fake* of docs/performance.md: the sh fake's output from a Node process (~40–80 ms of
// start-up CPU per spawn). `burn=S` in the prompt burns S seconds of CPU first, as the real CLI's
// start-up does (~0.74 s); `sleep=S` then waits S seconds (an API call).
import { readFileSync } from 'node:fs';

if (process.argv.includes('--version')) {
  process.stdout.write('9.9.9 (bench node fake)\n');
  process.exit(0);
}
const prompt = readFileSync(0, 'utf8');
const seconds = (name) => Number(new RegExp(`${name}=([0-9.]+)`).exec(prompt)?.[1] ?? 0);
const burnUntil = performance.now() + seconds('burn') * 1000;
while (performance.now() < burnUntil) {
  // burn CPU
}
await new Promise((resolve) => setTimeout(resolve, seconds('sleep') * 1000));
const script = readFileSync(new URL('./fake-claude.sh', import.meta.url), 'utf8');
// Same two lines as the sh fake: the single-quoted JSON lines of its printf.
const lines = script.match(/^'(\{.*\})'/gm).map((quoted) => quoted.slice(1, -1));
process.stdout.write(`${lines.join('\n')}\n`);
