import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from '../support/cli.ts';
import { BIN, FAKE_CLAUDE } from '../support/paths.ts';

type Entry = {
  type?: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  timeout?: number;
};
type JsonConfig = { mcpServers: Record<string, Entry> };

function sandbox(t: TestContext) {
  const home = mkdtempSync(join(tmpdir(), 'phone-opus-init-test-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const project = join(home, 'project');
  mkdirSync(project);
  return { home, project, env: { HOME: home, PHONE_OPUS_CLAUDE_BIN: FAKE_CLAUDE } };
}

/** Just enough TOML for what init emits: [tables] and `key = <JSON-compatible value>`. */
function parseToml(text: string): Record<string, Record<string, unknown>> {
  const tables: Record<string, Record<string, unknown>> = {};
  let table: Record<string, unknown> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const header = /^\[([\w.]+)\]$/.exec(line);
    if (header !== null) {
      table = {};
      tables[header[1] ?? ''] = table;
      continue;
    }
    const pair = /^(\w+) = (.+)$/.exec(line);
    if (pair === null || table === undefined) throw new Error(`unexpected TOML line: ${line}`);
    table[pair[1] ?? ''] = JSON.parse(pair[2] ?? '');
  }
  return tables;
}

describe('phone-opus init', () => {
  it('prints a parseable snippet for each client that starts this server', async (t) => {
    const { project, env } = sandbox(t);
    for (const client of ['claude-code', 'cursor', 'claude-desktop']) {
      const result = await runCli(['init', '--client', client], { env, cwd: project });
      assert.equal(result.status, 0, result.stderr);
      const entry = (JSON.parse(result.stdout) as JsonConfig).mcpServers['phone_opus'];
      assert.ok(entry, client);
      assert.equal(entry.command, process.execPath, client);
      assert.deepEqual(entry.args, [BIN], client);
      if (client === 'claude-code') {
        assert.equal(entry.type, 'stdio');
        assert.match(
          result.stderr,
          /claude mcp add --scope user phone_opus -- \S+ \S+phone-opus\.js/,
        );
        assert.match(result.stderr, /MCP_TOOL_TIMEOUT=1860000/);
        // Claude Code's per-server limit is a hard wall clock: above the consult timeout.
        assert.equal(entry.timeout, 1_860_000);
      } else {
        assert.equal(entry.timeout, undefined, client);
        // Apps started from the desktop do not see the shell's PATH; their own clock ends a
        // call, so a long consult answers with a job id before it does.
        assert.deepEqual(
          entry.env,
          {
            PHONE_OPUS_DEFAULT_WAIT_S: client === 'cursor' ? '50' : '200',
            PHONE_OPUS_CLAUDE_BIN: FAKE_CLAUDE,
          },
          client,
        );
        assert.match(
          result.stderr,
          /PHONE_OPUS_DEFAULT_WAIT_S=\d+ makes a longer consult answer with a job_id/,
        );
      }
    }
    const codex = await runCli(['init', '--client=codex'], {
      env: { ...env, PHONE_OPUS_CONSULT_TIMEOUT_S: '600' },
      cwd: project,
    });
    assert.equal(codex.status, 0, codex.stderr);
    assert.deepEqual(parseToml(codex.stdout), {
      'mcp_servers.phone_opus': {
        command: process.execPath,
        args: [BIN],
        startup_timeout_sec: 20,
        tool_timeout_sec: 660,
      },
    });
    assert.match(codex.stderr, /\.codex\/config\.toml/);
  });

  it('names `phone-opus` when PATH finds this package (terminal clients only)', async (t) => {
    const { home, project, env } = sandbox(t);
    const bin = join(home, 'bin');
    mkdirSync(bin);
    symlinkSync(BIN, join(bin, 'phone-opus'));
    const withPath = { ...env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    const codex = await runCli(['init', '--client', 'codex'], { env: withPath, cwd: project });
    assert.equal(parseToml(codex.stdout)['mcp_servers.phone_opus']?.['command'], 'phone-opus');
    const cursor = await runCli(['init', '--client', 'cursor'], { env: withPath, cwd: project });
    assert.equal(
      (JSON.parse(cursor.stdout) as JsonConfig).mcpServers['phone_opus']?.command,
      process.execPath,
    );
  });

  it('--write merges into an existing JSON config, keeping other servers, and is idempotent', async (t) => {
    const { home, project, env } = sandbox(t);
    const path = join(home, '.cursor', 'mcp.json');
    mkdirSync(join(home, '.cursor'));
    const other = { command: 'other-server', args: ['--flag'] };
    writeFileSync(path, JSON.stringify({ mcpServers: { other }, theme: 'dark' }), { mode: 0o640 });
    const first = await runCli(['init', '--client', 'cursor', '--write'], { env, cwd: project });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /added the phone_opus server to .*\.cursor\/mcp\.json/);
    const merged = JSON.parse(readFileSync(path, 'utf8')) as JsonConfig & { theme: string };
    assert.deepEqual(merged.mcpServers['other'], other);
    assert.equal(merged.theme, 'dark');
    assert.equal(merged.mcpServers['phone_opus']?.command, process.execPath);
    assert.equal(statSync(path).mode & 0o777, 0o640, 'permissions kept');

    const again = await runCli(['init', '--client', 'cursor', '--write'], { env, cwd: project });
    assert.equal(again.status, 0);
    assert.match(again.stdout, /already has this phone_opus server/);

    const changed = { ...merged, mcpServers: { ...merged.mcpServers, phone_opus: other } };
    writeFileSync(path, JSON.stringify(changed));
    const refused = await runCli(['init', '--client', 'cursor', '--write'], { env, cwd: project });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already has a different "phone_opus" server; edit or remove it/);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), changed, 'left alone');

    writeFileSync(path, '{ not json');
    const broken = await runCli(['init', '--client', 'cursor', '--write'], { env, cwd: project });
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /is not valid JSON/);
  });

  it('--write creates missing JSON configs (Claude Code project, Claude Desktop)', async (t) => {
    const { home, project, env } = sandbox(t);
    const code = await runCli(['init', '--client', 'claude-code', '--write'], {
      env,
      cwd: project,
    });
    assert.equal(code.status, 0, code.stderr);
    const mcp = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8')) as JsonConfig;
    assert.deepEqual(mcp.mcpServers['phone_opus']?.args, [BIN]);
    const desktop = await runCli(['init', '--client', 'claude-desktop', '--write'], {
      env,
      cwd: project,
    });
    assert.equal(desktop.status, 0, desktop.stderr);
    const path = join(home, '.config', 'Claude', 'claude_desktop_config.json');
    assert.equal(
      (JSON.parse(readFileSync(path, 'utf8')) as JsonConfig).mcpServers['phone_opus']?.command,
      process.execPath,
    );
  });

  it('--write appends a Codex table once and refuses when it is already there', async (t) => {
    const { home, project, env } = sandbox(t);
    const path = join(home, '.codex', 'config.toml');
    mkdirSync(join(home, '.codex'));
    const existing = 'model = "o4"\n\n[mcp_servers.other]\ncommand = "other"\nargs = []';
    writeFileSync(path, existing);
    const first = await runCli(['init', '--client', 'codex', '--write'], { env, cwd: project });
    assert.equal(first.status, 0, first.stderr);
    const text = readFileSync(path, 'utf8');
    assert.ok(text.startsWith(`${existing}\n\n[mcp_servers.phone_opus]\n`), text);
    const tables = parseToml(text.replace(/^model = .*\n/, ''));
    assert.deepEqual(tables['mcp_servers.other'], { command: 'other', args: [] });
    assert.equal(tables['mcp_servers.phone_opus']?.['tool_timeout_sec'], 1860);

    const again = await runCli(['init', '--client', 'codex', '--write'], { env, cwd: project });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already defines mcp_servers\.phone_opus; edit or remove it/);
    assert.equal(readFileSync(path, 'utf8'), text, 'left alone');
  });

  it('refuses bad usage with exit 2', async (t) => {
    const { project, env } = sandbox(t);
    for (const args of [
      ['init'],
      ['init', '--client', 'vim'],
      ['init', '--client', 'codex', '--force'],
    ]) {
      const result = await runCli(args, { env, cwd: project });
      assert.equal(result.status, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        /^phone-opus: (init needs --client claude-code\|codex\|cursor\|claude-desktop|unknown option --force for init)/,
      );
    }
  });
});
