/** State files are private to the user: directories 0700, files 0600, replaced atomically. */
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writePrivateFileAtomic(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  inDir(path, () => writeFileSync(temp, content, { mode: 0o600 }));
  renameSync(temp, path);
}

/** Run `write`; if the directory is missing, create it (0700) and run it again. */
function inDir<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return write();
  }
}

/** Strings longer than this are written in slices of it. */
const SLICE_CHARS = 32 * 1024;
/** Output is handed to the OS in pieces of about this many characters. */
const FLUSH_CHARS = 64 * 1024;

/**
 * `JSON.stringify(value)` + '\n', written atomically like `writePrivateFileAtomic`; when the
 * caller says the value is `large`, in small pieces: a record that holds a megabytes-long answer
 * never becomes one string (each would be garbage the size of the answer, which the heap keeps
 * until a full collection).
 */
export function writePrivateJsonAtomic(path: string, value: unknown, large: boolean): void {
  // A small record is one string and one write: the common case, and the cheapest.
  if (!large) {
    writePrivateFileAtomic(path, `${JSON.stringify(value)}\n`);
    return;
  }
  const temp = `${path}.${process.pid}.tmp`;
  const fd = inDir(path, () => openSync(temp, 'w', 0o600));
  try {
    let pending = '';
    const out = (text: string) => {
      pending += text;
      if (pending.length >= FLUSH_CHARS) {
        writeSync(fd, pending);
        pending = '';
      }
    };
    writeJson(value, out);
    writeSync(fd, `${pending}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

function writeJson(value: unknown, out: (text: string) => void): void {
  if (typeof value === 'string' && value.length > SLICE_CHARS) {
    // A surrogate pair cut in two is written as two escapes, which JSON reads back as the pair.
    out('"');
    for (let at = 0; at < value.length; at += SLICE_CHARS) {
      out(JSON.stringify(value.slice(at, at + SLICE_CHARS)).slice(1, -1));
    }
    out('"');
    return;
  }
  if (Array.isArray(value)) {
    out('[');
    value.forEach((item, i) => {
      if (i > 0) out(',');
      writeJson(item === undefined || typeof item === 'function' ? null : item, out);
    });
    out(']');
    return;
  }
  if (typeof value === 'object' && value !== null && !isJsonLeaf(value)) {
    out('{');
    let first = true;
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || typeof item === 'function') continue;
      out(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      writeJson(item, out);
    }
    out('}');
    return;
  }
  out(JSON.stringify(value) ?? 'null');
}

/** Objects whose JSON form is their own (Date has toJSON). */
const isJsonLeaf = (value: object): boolean =>
  typeof (value as { toJSON?: unknown }).toJSON === 'function';
