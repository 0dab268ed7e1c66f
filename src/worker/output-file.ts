/**
 * The CLI's stdout goes to a private regular file, not a pipe: the CLI exits without waiting
 * for a pipe to drain, so a large answer written through a pipe can be cut off (exit 0, output
 * lost), while writes to a file are complete when it exits. The file is read as it grows, for
 * live progress, and once more after exit. The directory is named after this server, so that
 * one left behind by a killed server is removed by the next (host/abandoned-output.ts).
 */
import { closeSync, openSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { outputDirPrefix } from '../shared/output-dirs.ts';

export type OutputFile = {
  /** Give this to the child as its stdout. */
  readonly fd: number;
  /** Our copy of the write end is not needed once the child has its own. */
  readonly closeWriteEnd: () => void;
  /** Text appended since the last call, at most about 4 MiB at a time ('' when there is none). */
  readonly readNew: () => Promise<string>;
  readonly dispose: () => Promise<void>;
};

const CHUNK = 256 * 1024;
/** Callers loop until ''; a bounded piece keeps a huge output from becoming one string. */
const MAX_PIECE = 16 * CHUNK;

/** Create the file; throws (e.g. ENOENT, EROFS for an unusable TMPDIR) with nothing left behind. */
export async function createOutputFile(): Promise<OutputFile> {
  const dir = await mkdtemp(join(tmpdir(), outputDirPrefix()));
  const path = join(dir, 'stdout.jsonl');
  const cleanUp = () => rm(dir, { recursive: true, force: true });
  let fd: number;
  let reader: FileHandle;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    await cleanUp();
    throw error;
  }
  try {
    reader = await open(path, 'r');
  } catch (error) {
    closeSync(fd);
    await cleanUp();
    throw error;
  }
  const decoder = new StringDecoder('utf8');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let offset = 0;
  let writeEndOpen = true;
  const closeWriteEnd = () => {
    if (writeEndOpen) {
      writeEndOpen = false;
      closeSync(fd);
    }
  };
  return {
    fd,
    closeWriteEnd,
    readNew: async () => {
      const pieces: string[] = [];
      for (let total = 0; total < MAX_PIECE; ) {
        const { bytesRead } = await reader.read(buffer, 0, CHUNK, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        total += bytesRead;
        pieces.push(decoder.write(buffer.subarray(0, bytesRead)));
      }
      return pieces.join('');
    },
    dispose: async () => {
      closeWriteEnd();
      await reader.close().catch(() => {});
      await cleanUp();
    },
  };
}
