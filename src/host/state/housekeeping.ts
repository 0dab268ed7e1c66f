/**
 * What killed servers leave behind (SIGKILL cannot be caught): their CLIs' output directories
 * and their Prometheus discovery files. Cleared once per server, after the handshake or at the
 * first consult, whichever comes first, so that it never delays `initialize`.
 */
import type { Logger } from '../log.ts';
import { pruneDiscoveryFiles } from '../observability/discovery.ts';
import { removeAbandonedOutputDirs } from './abandoned-output.ts';

export function housekeeping(stateDir: string, log: Logger): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    void removeAbandonedOutputDirs().then((removed) => {
      if (removed.length > 0)
        log(`removed ${removed.length} output dir(s) left by servers that are gone`);
    });
    setImmediate(() => pruneDiscoveryFiles(stateDir));
  };
}
