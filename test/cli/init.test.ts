import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definesTomlServer } from '../../src/cli/client-config.ts';
import { configFile } from '../../src/cli/init.ts';

describe('definesTomlServer', () => {
  const cases: [string, boolean][] = [
    ['[mcp_servers.phone_opus]\ncommand = "x"', true],
    ['[mcp_servers."phone_opus"]', true],
    ["[ mcp_servers.'phone_opus' ]", true],
    ['[mcp_servers.phone_opus.env]\nA = "1"', true],
    ['[mcp_servers]\nphone_opus = { command = "x" }', true],
    ['[mcp_servers]\nphone_opus.command = "x"', true],
    ['mcp_servers.phone_opus.command = "x"', true],
    ['[mcp_servers.phone_opus_dev]\ncommand = "x"', false],
    ['[mcp_servers.other]\nphone_opus = 1', false],
    ['# [mcp_servers.phone_opus]\n[profiles.phone_opus]', false],
    ['', false],
  ];
  for (const [text, expected] of cases) {
    it(`${expected ? 'finds' : 'does not find'} the server in ${JSON.stringify(text)}`, () => {
      assert.equal(definesTomlServer(text, 'phone_opus'), expected);
    });
  }
});

describe('configFile', () => {
  const base = { env: { HOME: '/home/u' }, cwd: '/work/p' };
  it('knows where each client keeps its configuration', () => {
    assert.equal(configFile('claude-code', { ...base, platform: 'linux' }), '/work/p/.mcp.json');
    assert.equal(configFile('codex', { ...base, platform: 'linux' }), '/home/u/.codex/config.toml');
    assert.equal(
      configFile('codex', {
        ...base,
        env: { HOME: '/home/u', CODEX_HOME: '/c' },
        platform: 'linux',
      }),
      '/c/config.toml',
    );
    assert.equal(configFile('cursor', { ...base, platform: 'darwin' }), '/home/u/.cursor/mcp.json');
    assert.equal(
      configFile('claude-desktop', { ...base, platform: 'darwin' }),
      '/home/u/Library/Application Support/Claude/claude_desktop_config.json',
    );
    assert.equal(
      configFile('claude-desktop', { ...base, platform: 'linux' }),
      '/home/u/.config/Claude/claude_desktop_config.json',
    );
  });
});
