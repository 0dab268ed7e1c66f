/**
 * Remembers each Claude session's working directory (SPEC §5.1), so that a resume runs where
 * the session started, also after a server restart. One small file per session under
 * `<state>/sessions/`, replaced atomically: servers sharing a state dir (several IDE windows)
 * add and read records independently and never overwrite each other's (SPEC §10). The single
 * map file of earlier versions (`sessions.json`) is still read.
 */
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { writePrivateFileAtomic } from './state-files.ts';

const MAX_SESSIONS = 2000;
/** Pruning lists the directory: do it once per this many new records. */
const PRUNE_EVERY = 100;

type Record = { readonly cwd: string };

export class SessionStore {
  readonly #dir: string;
  readonly #legacyPath: string;
  readonly #log: Logger;
  #legacy: Map<string, string> | undefined;
  #writes = 0;
  readonly #warned = new Set<string>();

  constructor(stateDir: string, log: Logger) {
    this.#dir = join(stateDir, 'sessions');
    this.#legacyPath = join(stateDir, 'sessions.json');
    this.#log = log;
  }

  get(sessionId: string): string | undefined {
    const path = this.#pathOf(sessionId);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return this.#loadLegacy().get(sessionId);
    }
    const record = parseRecord(text);
    if (record === undefined) {
      this.#warnOnce(`the session record ${path} is unreadable; ignoring it`);
      return this.#loadLegacy().get(sessionId);
    }
    return record.cwd;
  }

  remember(sessionId: string, cwd: string): void {
    if (this.get(sessionId) === cwd) return;
    try {
      writePrivateFileAtomic(this.#pathOf(sessionId), `${JSON.stringify({ cwd })}\n`);
    } catch (error) {
      this.#warnOnce(
        `cannot save session records in ${this.#dir}: ${(error as Error).message}; resumes will use the given cwd`,
      );
      return;
    }
    this.#writes += 1;
    if (this.#writes % PRUNE_EVERY === 0) this.#prune();
  }

  /** Session ids are UUIDs (checked at the boundary), so they are safe as file names. */
  #pathOf(sessionId: string): string {
    return join(this.#dir, `${sessionId}.json`);
  }

  /** Keep the newest MAX_SESSIONS records. */
  #prune(): void {
    try {
      const records = readdirSync(this.#dir)
        .filter((name) => name.endsWith('.json'))
        .map((name) => {
          const path = join(this.#dir, name);
          try {
            return { path, mtime: statSync(path).mtimeMs };
          } catch {
            return { path, mtime: 0 };
          }
        });
      if (records.length <= MAX_SESSIONS) return;
      records.sort((a, b) => a.mtime - b.mtime);
      for (const { path } of records.slice(0, records.length - MAX_SESSIONS)) {
        try {
          unlinkSync(path);
        } catch {
          // another server pruned it first
        }
      }
    } catch {
      // no directory yet, or unreadable: nothing to prune
    }
  }

  #loadLegacy(): Map<string, string> {
    if (this.#legacy !== undefined) return this.#legacy;
    this.#legacy = new Map();
    let text: string;
    try {
      text = readFileSync(this.#legacyPath, 'utf8');
    } catch {
      return this.#legacy; // none: nothing from earlier versions
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
      for (const [id, cwd] of Object.entries(parsed)) {
        if (typeof cwd === 'string') this.#legacy.set(id, cwd);
      }
    } catch (error) {
      this.#warnOnce(
        `the session map ${this.#legacyPath} is unreadable (${(error as Error).message}); its sessions resume only with an explicit cwd`,
      );
    }
    return this.#legacy;
  }

  #warnOnce(line: string): void {
    if (this.#warned.has(line)) return;
    this.#warned.add(line);
    this.#log(line);
  }
}

function parseRecord(text: string): Record | undefined {
  try {
    const parsed = JSON.parse(text) as { cwd?: unknown };
    return typeof parsed.cwd === 'string' ? { cwd: parsed.cwd } : undefined;
  } catch {
    return undefined;
  }
}
