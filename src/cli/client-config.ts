/**
 * Merging phone-opus into an MCP client's config file without disturbing anything else:
 * JSON configs get `mcpServers.phone_opus`, Codex's TOML gets a table appended. A config
 * that already defines a different phone_opus entry is left alone (refused), never clobbered.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

export const SERVER_KEY = 'phone_opus';

export type ServerEntry = Record<string, unknown>;

export type WriteResult =
  | { readonly kind: 'written' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'refused'; readonly reason: string };

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Merge `mcpServers.phone_opus` into a JSON config, keeping everything else as it was. */
export function writeJson(path: string, entry: ServerEntry | undefined): WriteResult {
  const text = readIfPresent(path);
  let root: Record<string, unknown> = {};
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return {
        kind: 'refused',
        reason: `${path} is not valid JSON (${(error as Error).message}); fix it, or add the snippet by hand`,
      };
    }
    if (!isObject(parsed))
      return {
        kind: 'refused',
        reason: `${path} does not hold a JSON object; add the snippet by hand`,
      };
    root = parsed;
  }
  const servers = root['mcpServers'] ?? {};
  if (!isObject(servers))
    return {
      kind: 'refused',
      reason: `${path}: "mcpServers" is not an object; add the snippet by hand`,
    };
  if (SERVER_KEY in servers) {
    if (isDeepStrictEqual(servers[SERVER_KEY], entry)) return { kind: 'unchanged' };
    return {
      kind: 'refused',
      reason: `${path} already has a different "${SERVER_KEY}" server; edit or remove it, then run this again`,
    };
  }
  root['mcpServers'] = { ...servers, [SERVER_KEY]: entry };
  replaceFile(path, `${JSON.stringify(root, null, 2)}\n`);
  return { kind: 'written' };
}

/** Append the table to a TOML config; refuse if the server is already defined there. */
export function writeToml(path: string, table: string): WriteResult {
  const text = readIfPresent(path) ?? '';
  if (definesTomlServer(text, SERVER_KEY)) {
    return {
      kind: 'refused',
      reason: `${path} already defines mcp_servers.${SERVER_KEY}; edit or remove it, then run this again`,
    };
  }
  const separator =
    text === '' ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  replaceFile(path, `${text}${separator}${table}`);
  return { kind: 'written' };
}

/** `[mcp_servers.NAME]` (or `."NAME"`), `[mcp_servers.NAME.env]`, or `NAME = …` under `[mcp_servers]`. */
export function definesTomlServer(text: string, name: string): boolean {
  const key = `(?:${name}|"${name}"|'${name}')`;
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header !== null && !line.startsWith('[[')) {
      table = header[1] ?? '';
      if (new RegExp(`^mcp_servers\\s*\\.\\s*${key}(\\s*\\.|$)`).test(table)) return true;
      continue;
    }
    if (table === 'mcp_servers' && new RegExp(`^${key}\\s*[.=]`).test(line)) return true;
    if (table === '' && new RegExp(`^mcp_servers\\s*\\.\\s*${key}\\s*[.=]`).test(line)) return true;
  }
  return false;
}

/** Atomic replace that keeps the file's permissions (configs may hold secrets). */
function replaceFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  let mode = 0o600;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    // new file
  }
  const temp = `${path}.phone-opus-${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  renameSync(temp, path);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
