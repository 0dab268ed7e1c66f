/**
 * How a CLI's processes are held together (SPEC §6.4), strongest first:
 *
 * - `pid_namespace`: `setpriv --pdeathsig SIGKILL -- unshare --pid --fork --kill-child` (through
 *   a user namespace when not root). Everything the CLI starts, including `setsid` children and
 *   double-forked daemons, lives in the namespace; when its PID 1 (our guard shell) ends, for
 *   whatever reason, the kernel kills all of it. `unshare` blocks SIGTERM, so its parent-death
 *   signal is SIGKILL, which `--kill-child` passes on to the namespace.
 * - `process_group`: the guard alone (`setpriv --pdeathsig SIGTERM`), plus the /proc tracking of
 *   members that leave the group; or, without setpriv, a plain group.
 *
 * Chosen once per thread by trying the namespace, and cached.
 */
import { isExecutable } from './executable.ts';
import { runCapture } from './process-tree.ts';

export type ContainmentMode = 'pid_namespace' | 'process_group';

export type Containment = {
  readonly mode: ContainmentMode;
  /** The command (and arguments) that runs a contained command; empty for a plain group. */
  readonly launcher: readonly string[];
  /** Why the strongest containment is not in use. */
  readonly reason?: string;
};

/** What health and doctor show. */
export const describeContainment = (c: Containment): { mode: ContainmentMode; reason?: string } =>
  c.reason === undefined ? { mode: c.mode } : { mode: c.mode, reason: c.reason };

const SYSTEM_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
/** util-linux tools are looked up in the system directories only, never through PATH. */
const systemTool = (name: string): string | null =>
  SYSTEM_DIRS.map((dir) => `${dir}/${name}`).find(isExecutable) ?? null;

const PROBE_TIMEOUT_MS = 5000;

let detected: Promise<Containment> | undefined;

/** The strongest containment that works here (probed once, then cached). */
export function detectContainment(): Promise<Containment> {
  detected ??= probe().catch(
    (error: unknown): Containment => ({
      mode: 'process_group',
      launcher: [],
      reason: `the containment probe failed: ${(error as Error).message}`,
    }),
  );
  return detected;
}

async function probe(): Promise<Containment> {
  const setpriv = systemTool('setpriv');
  if (setpriv === null) {
    return {
      mode: 'process_group',
      launcher: [],
      reason:
        'setpriv (util-linux) not found: no PID namespace, and a server killed by SIGKILL leaves its CLIs running',
    };
  }
  const guard: Containment = {
    mode: 'process_group',
    launcher: [setpriv, '--pdeathsig', 'SIGTERM', '--'],
  };
  const unshare = systemTool('unshare');
  if (unshare === null) return { ...guard, reason: 'unshare (util-linux) not found' };
  // Root can create the namespace directly; anyone else needs a user namespace to own it.
  const variants =
    process.getuid?.() === 0
      ? [[], ['--user', '--map-current-user']]
      : [['--user', '--map-current-user']];
  const problems: string[] = [];
  for (const userns of variants) {
    const launcher = [
      setpriv,
      '--pdeathsig',
      'SIGKILL',
      '--',
      unshare,
      ...userns,
      '--pid',
      '--fork',
      '--kill-child=SIGKILL',
      '--',
    ];
    const [command, ...prefix] = launcher as [string, ...string[]];
    // The namespace works if the shell inside it is PID 1.
    const run = await runCapture(command, [...prefix, '/bin/sh', '-c', 'echo $$'], {
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      stdinText: '',
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    if (run.ok && run.exitCode === 0 && run.stdout.trim() === '1') {
      return { mode: 'pid_namespace', launcher };
    }
    const said = run.ok
      ? run.stderr.trim().split('\n')[0] || `exit status ${run.exitCode}`
      : run.failure.message;
    problems.push(`unshare ${[...userns, '--pid'].join(' ')}: ${said}`);
  }
  return { ...guard, reason: `no PID namespace (${problems.join('; ')})` };
}
