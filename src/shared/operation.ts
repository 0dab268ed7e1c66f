/** Operation keys name what a request did: `tools/call:<tool>` or the bare method. */
export const operationKey = (method: string, toolName?: string): string =>
  method === 'tools/call' && toolName !== undefined ? `tools/call:${toolName}` : method;
