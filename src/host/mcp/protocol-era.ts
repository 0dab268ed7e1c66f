/**
 * Which protocol era a stdio connection speaks (SPEC §12), decided as the SDK's `serveStdio`
 * decides it: by the first message that settles it. `initialize` (or a request without a
 * per-request version) opens the 2025 era; a request naming 2026-07-28 in its `_meta` opens the
 * 2026 one. `server/discover` is a probe and settles nothing (a client may fall back to
 * `initialize` after it), nor does a request in a version the server does not speak (refused
 * with -32022; the client may fall back too).
 */
export type Era = 'unknown' | 'legacy' | 'modern';

/** The per-request protocol version of the 2026-07-28 revision. */
const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
/** The revisions served without `initialize` (the SDK's modern era). */
export const MODERN_VERSIONS: readonly string[] = ['2026-07-28'];

type Json = Record<string, unknown>;

/** The protocol version a 2026-style message names in its `_meta`, if any. */
function claimedVersion(m: Json): string | undefined {
  const meta = (m['params'] as Json | undefined)?.['_meta'];
  if (typeof meta !== 'object' || meta === null || !(PROTOCOL_VERSION_KEY in meta))
    return undefined;
  return String((meta as Json)[PROTOCOL_VERSION_KEY]);
}

/** The era this message opens, or 'unknown' if it settles nothing. */
export function eraDecidedBy(method: string, m: Json): Era {
  if (method === 'server/discover') return 'unknown';
  const requested = claimedVersion(m);
  if (method === 'initialize' || requested === undefined) return 'legacy';
  return MODERN_VERSIONS.includes(requested) ? 'modern' : 'unknown';
}

/**
 * On a 2026 connection, the version a request names if it is not one spoken here. The SDK
 * checks only the message that opens the era; every 2026 request names its own.
 */
export function unsupportedModernVersion(m: Json): string | undefined {
  const requested = claimedVersion(m);
  return requested === undefined || MODERN_VERSIONS.includes(requested) ? undefined : requested;
}
