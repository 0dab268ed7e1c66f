/** Diagnostics go to stderr: stdout carries only MCP frames. */
export type Logger = (line: string) => void;

export const stderrLogger: Logger = (line) => {
  try {
    process.stderr.write(`phone-opus: ${line}\n`);
  } catch {
    // stderr gone too: nothing left to tell.
  }
};
