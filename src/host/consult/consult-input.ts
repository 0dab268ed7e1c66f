/**
 * Turn schema-checked consult arguments into a runnable request: the working directory is
 * resolved, canonicalised and fenced; a resume runs in its session's remembered directory.
 * The fence is checked again where the CLI starts (worker/working-dir.ts): the directory may
 * change while the consult waits in the queue.
 */
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConsultArgs } from '../../shared/catalog.ts';
import type { Config } from '../../shared/config.ts';
import { err, type Outcome, ok } from '../../shared/outcome.ts';
import type { ConsultRequest } from '../../shared/wire.ts';
import { isWithin } from '../../shared/within.ts';
import type { SessionStore } from '../state/session-store.ts';

export type ResolvedConsult = { readonly request: ConsultRequest; readonly timeoutMs: number };

export async function resolveConsult(
  args: ConsultArgs,
  deps: { readonly config: Config; readonly serverCwd: string; readonly sessions: SessionStore },
): Promise<Outcome<ResolvedConsult, string>> {
  const { config, serverCwd, sessions } = deps;
  const remembered = args.session_id === undefined ? undefined : sessions.get(args.session_id);
  let cwd: string;
  if (args.cwd !== undefined) {
    const canonical = await canonicalDirectory(resolve(serverCwd, args.cwd));
    if (!canonical.ok) return canonical;
    cwd = canonical.value;
    if (remembered !== undefined && remembered !== cwd) {
      return err(
        `cwd: ${cwd} contradicts session ${args.session_id}, which runs in ${remembered} (omit cwd to resume there)`,
      );
    }
  } else if (remembered !== undefined) {
    const canonical = await canonicalDirectory(remembered);
    if (!canonical.ok)
      return err(`session ${args.session_id}: its directory is gone (${canonical.error})`);
    cwd = canonical.value;
  } else {
    const canonical = await canonicalDirectory(serverCwd);
    if (!canonical.ok) return canonical;
    cwd = canonical.value;
  }
  if (
    config.allowedRoots !== undefined &&
    !config.allowedRoots.some((root) => isWithin(cwd, root))
  ) {
    return err(
      `cwd: ${cwd} is outside the allowed roots (PHONE_OPUS_ALLOWED_ROOTS=${config.allowedRoots.join(':')})`,
    );
  }
  const model = args.model ?? config.defaultModel;
  const request: ConsultRequest = {
    prompt: args.prompt,
    cwd,
    ...(args.max_turns === undefined ? {} : { maxTurns: args.max_turns }),
    ...(model === undefined ? {} : { model }),
    ...(args.max_budget_usd === undefined ? {} : { maxBudgetUsd: args.max_budget_usd }),
    ...(args.session_id === undefined ? {} : { resumeSessionId: args.session_id }),
  };
  return ok({ request, timeoutMs: (args.timeout_s ?? config.consultTimeoutS) * 1000 });
}

async function canonicalDirectory(path: string): Promise<Outcome<string, string>> {
  let canonical: string;
  try {
    canonical = await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return err(
      code === 'ENOENT'
        ? `cwd: ${path} does not exist`
        : code === 'EACCES'
          ? `cwd: ${path} is not accessible (permission denied)`
          : `cwd: ${path} cannot be resolved (${code ?? (error as Error).message})`,
    );
  }
  try {
    if (!(await stat(canonical)).isDirectory()) return err(`cwd: ${canonical} is not a directory`);
  } catch (error) {
    return err(`cwd: ${canonical} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  return ok(canonical);
}
