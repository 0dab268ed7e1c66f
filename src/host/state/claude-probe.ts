/**
 * Where the Claude CLI is and which version it is, for health, doctor and build_info.
 * Resolved once in the background (never on the path to `initialize`) and cached.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Containment } from '../../shared/containment.ts';
import { runCapture } from '../../shared/process-tree.ts';

export type ClaudeInfo =
  | { readonly path: string; readonly version: string | null; readonly reason: string | null }
  | { readonly path: null; readonly version: null; readonly reason: string };

/** The absolute path the OS would run for `bin` with this PATH, or why there is none. */
export async function resolveExecutable(
  bin: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<{ ok: true; path: string } | { ok: false; reason: string }> {
  const candidates = bin.includes('/')
    ? [isAbsolute(bin) ? bin : resolve(cwd, bin)]
    : (env['PATH'] ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, bin));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return { ok: true, path: candidate };
    } catch {
      // keep looking
    }
  }
  return {
    ok: false,
    reason: bin.includes('/')
      ? `${bin} does not exist or is not executable`
      : `${bin} was not found on PATH`,
  };
}

/** Run `<bin> --version`, contained like a consult: whatever it starts ends with it. */
export async function probeClaude(
  bin: string,
  env: Readonly<Record<string, string>>,
  cwd: string,
  containment: Containment,
  timeoutMs = 15_000,
): Promise<ClaudeInfo> {
  const resolved = await resolveExecutable(bin, env, cwd);
  if (!resolved.ok) return { path: null, version: null, reason: resolved.reason };
  const run = await runCapture(resolved.path, ['--version'], {
    cwd,
    env,
    stdinText: '',
    timeoutMs,
    containment,
  });
  if (!run.ok)
    return { path: resolved.path, version: null, reason: `cannot run it: ${run.failure.message}` };
  const version = run.stdout.trim().split('\n')[0]?.trim() ?? '';
  if (run.exitCode !== 0 || version === '') {
    const said = (run.stderr.trim() || run.stdout.trim()).slice(0, 300);
    return {
      path: resolved.path,
      version: null,
      reason: `\`--version\` exited with status ${run.exitCode}${said === '' ? '' : `: ${said}`}`,
    };
  }
  return { path: resolved.path, version, reason: null };
}
