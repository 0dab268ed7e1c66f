/**
 * Parameter checks the SDK gets wrong (SPEC §4): it answers schema failures of known methods
 * with -32603 and a zod dump, and silently drops a request whose `_meta` it cannot parse
 * (no response at all). Each problem found here is answered -32602 naming the field.
 */
type Json = Record<string, unknown>;

const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isToken = (value: unknown): boolean =>
  typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value));

/** `params._meta` as the protocol defines it: an object whose known keys have their types. */
function checkMeta(params: Json): string | undefined {
  if (!('_meta' in params)) return undefined;
  const meta = params['_meta'];
  if (!isObject(meta)) return 'params._meta must be an object';
  if ('progressToken' in meta && !isToken(meta['progressToken'])) {
    return 'params._meta.progressToken must be a string or an integer';
  }
  const related = meta['io.modelcontextprotocol/related-task'];
  if (related !== undefined && (!isObject(related) || typeof related['taskId'] !== 'string')) {
    return 'params._meta["io.modelcontextprotocol/related-task"] must be an object with a string taskId';
  }
  return undefined;
}

/** `modern`: a 2026-07-28 connection, where the SDK judges what that revision changed. */
export function checkParams(method: string, params: Json, modern = false): string | undefined {
  const meta = checkMeta(params);
  if (meta !== undefined) return meta;
  switch (method) {
    case 'initialize': {
      if (typeof params['protocolVersion'] !== 'string')
        return 'initialize params.protocolVersion must be a string';
      if (!isObject(params['capabilities'])) {
        return 'initialize params.capabilities must be an object';
      }
      const info = params['clientInfo'];
      if (
        !isObject(info) ||
        typeof info['name'] !== 'string' ||
        typeof info['version'] !== 'string'
      ) {
        return 'initialize params.clientInfo must be an object with string name and version';
      }
      return undefined;
    }
    case 'tools/call':
      if (typeof params['name'] !== 'string') return 'tools/call params.name must be a string';
      if ('arguments' in params && !isObject(params['arguments'])) {
        return 'tools/call params.arguments must be an object';
      }
      return undefined;
    case 'tools/list':
      if ('cursor' in params && typeof params['cursor'] !== 'string')
        return 'tools/list params.cursor must be a string';
      return undefined;
    case 'logging/setLevel':
      // Gone in 2026-07-28 (the SDK answers -32601): a level travels in each request's _meta.
      if (modern) return undefined;
      if (!(LOG_LEVELS as readonly unknown[]).includes(params['level'])) {
        return `logging/setLevel params.level must be one of ${LOG_LEVELS.join(', ')}`;
      }
      return undefined;
    default:
      return undefined;
  }
}
