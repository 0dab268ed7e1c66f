/**
 * What the machine offers a consult, found once in the background (never on the path to
 * `initialize`): the containment for CLI process trees (SPEC §6.4) and where the Claude CLI is
 * and which version it is. Health, doctor, build_info and the worker pools read it from here.
 */
import { type Containment, detectContainment } from '../../shared/containment.ts';
import { type ClaudeInfo, probeClaude } from './claude-probe.ts';

export class Environment {
  readonly #claudeBin: string;
  readonly #childEnv: Readonly<Record<string, string>>;
  readonly #cwd: string;
  #containment: Containment | null = null;
  #claude: ClaudeInfo | null = null;
  #probing: Promise<void> | undefined;

  constructor(claudeBin: string, childEnv: Readonly<Record<string, string>>, cwd: string) {
    this.#claudeBin = claudeBin;
    this.#childEnv = childEnv;
    this.#cwd = cwd;
  }

  /** The containment (probed on first use, then cached). */
  async containment(): Promise<Containment> {
    this.#containment ??= await detectContainment();
    return this.#containment;
  }

  /** null until the first consult or the background probe has asked for it. */
  get knownContainment(): Containment | null {
    return this.#containment;
  }

  /** null while the probe runs. */
  get claude(): ClaudeInfo | null {
    return this.#claude;
  }

  /** Probe the CLI (`--version`, contained like a consult) once, in the background. */
  probe(): Promise<void> {
    this.#probing ??= this.containment()
      .then((containment) => probeClaude(this.#claudeBin, this.#childEnv, this.#cwd, containment))
      .then(
        (info) => {
          this.#claude = info;
        },
        (error: Error) => {
          this.#claude = { path: null, version: null, reason: error.message };
        },
      );
    return this.#probing;
  }
}
