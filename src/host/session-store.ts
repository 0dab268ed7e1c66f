import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.ts';
import { writePrivateFileAtomic } from './state-files.ts';

/**
 * Remembers each Claude session's working directory (SPEC §5.1), so that a resume runs where
 * the session started, also after a server restart. A small JSON file in the state dir.
 */
const MAX_SESSIONS = 2000;

export class SessionStore {
  readonly #path: string;
  readonly #log: Logger;
  #map: Map<string, string> | undefined;
  #warned = false;

  constructor(stateDir: string, log: Logger) {
    this.#path = join(stateDir, 'sessions.json');
    this.#log = log;
  }

  get(sessionId: string): string | undefined {
    return this.#load().get(sessionId);
  }

  remember(sessionId: string, cwd: string): void {
    const map = this.#load();
    if (map.get(sessionId) === cwd) return;
    map.delete(sessionId);
    map.set(sessionId, cwd);
    while (map.size > MAX_SESSIONS) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
    try {
      writePrivateFileAtomic(this.#path, `${JSON.stringify(Object.fromEntries(map))}\n`);
    } catch (error) {
      if (!this.#warned) {
        this.#warned = true;
        this.#log(
          `cannot save the session map ${this.#path}: ${(error as Error).message}; resumes will use the given cwd`,
        );
      }
    }
  }

  #load(): Map<string, string> {
    if (this.#map !== undefined) return this.#map;
    this.#map = new Map();
    try {
      const parsed = JSON.parse(readFileSync(this.#path, 'utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null) {
        for (const [id, cwd] of Object.entries(parsed))
          if (typeof cwd === 'string') this.#map.set(id, cwd);
      }
    } catch {
      // No map yet (or unreadable): start empty.
    }
    return this.#map;
  }
}
