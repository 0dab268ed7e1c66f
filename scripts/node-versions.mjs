// The Node.js versions phone-opus is tested on besides the machine's own, and a cache of their
// binaries. The binaries come from the npm registry (the `node-<platform>-<arch>` packages, one
// per Node release), so CI needs no network beyond the registry. Used by scripts/ci.mjs and by
// the cold_init_nodes benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The one place the tested Node versions are pinned (exact versions: CI must be repeatable). */
export const PINNED_NODE_VERSIONS = ['22.23.5', '24.22.3'];

/** `$PHONE_OPUS_CI_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/phone-opus-ci`: outside any clone. */
export function cacheRoot(env = process.env) {
  if (env.PHONE_OPUS_CI_CACHE) return env.PHONE_OPUS_CI_CACHE;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'phone-opus-ci');
}

/** `vX.Y.Z` as printed by `node --version`, or null when the binary does not run. */
export function versionOf(nodeBin) {
  const result = spawnSync(nodeBin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The path of a verified `node` binary of exactly `version`: the cached one when it runs and
 * reports that version, else fetched from the registry (`npm pack`, which checks the tarball
 * against the registry's integrity hash), unpacked beside the cache and moved into place only
 * once it passed the same check. Concurrent callers are safe: the last complete copy wins.
 */
export function ensureNode(version, { log = () => {}, env = process.env } = {}) {
  const root = cacheRoot(env);
  const dir = join(root, `node-${version}`);
  const bin = join(dir, 'bin', 'node');
  const want = `v${version}`;
  if (existsSync(bin)) {
    const got = versionOf(bin);
    if (got === want) return bin;
    log(`cached ${bin} reports ${got ?? 'nothing (does not run)'}; fetching it again`);
  }
  const pkg = `node-${process.platform}-${process.arch}@${version}`;
  mkdirSync(root, { recursive: true });
  const staging = mkdtempSync(join(root, `.node-${version}-`));
  try {
    log(`fetching ${pkg} from the npm registry into ${dir}`);
    const packed = spawnSync(
      npm,
      ['pack', pkg, '--pack-destination', staging, '--silent', '--no-fund', '--no-audit'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 },
    );
    const tarball = readdirSync(staging).find((name) => name.endsWith('.tgz'));
    if (packed.status !== 0 || tarball === undefined) {
      throw new Error(`npm pack ${pkg} failed: ${(packed.stderr || packed.stdout || '').trim()}`);
    }
    const unpacked = join(staging, 'node');
    mkdirSync(unpacked);
    const tar = spawnSync(
      'tar',
      [
        '-xzf',
        join(staging, tarball),
        '-C',
        unpacked,
        '--strip-components=1',
        'package/bin/node',
        'package/LICENSE',
      ],
      { encoding: 'utf8' },
    );
    if (tar.status !== 0) throw new Error(`unpacking ${tarball} failed: ${tar.stderr.trim()}`);
    const got = versionOf(join(unpacked, 'bin', 'node'));
    if (got !== want) throw new Error(`${pkg} reports ${got ?? 'nothing (does not run)'}`);
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(unpacked, dir);
    } catch (error) {
      // Another run put a copy there first; keep it if it checks out.
      if (versionOf(bin) !== want) throw error;
    }
    return bin;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
