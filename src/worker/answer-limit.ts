/**
 * Answers above PHONE_OPUS_MAX_ANSWER_BYTES are not returned inline (SPEC §5.1): holding and
 * sending them could take the server down. The whole answer is saved to a user-only file in
 * the state dir instead, and the consult fails with `answer_too_large` naming the limit and
 * the file. Nothing is lost.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createFault, type FaultRecord, type Site } from '../shared/fault.ts';
import type { ConsultSuccess } from '../shared/wire.ts';
import type { AnswerSink } from './line-skeleton.ts';

export type AnswerSpool = {
  /** For the stream reader: where the answer of an over-long result line goes. */
  readonly openSink: () => AnswerSink;
  /** Apply the limit to a successful result; removes the spool file unless it is the answer's home. */
  readonly settle: (
    at: Site,
    outcome: { ok: true; value: ConsultSuccess } | { ok: false; fault: FaultRecord },
    answerInSink: boolean,
  ) => { ok: true; value: ConsultSuccess } | { ok: false; fault: FaultRecord };
  readonly dispose: () => void;
};

export function answerSpool(dir: string, maxBytes: number): AnswerSpool {
  let path: string | undefined;
  let fd: number | undefined;
  let bytes = 0;
  let kept = false;

  const create = (): { path: string; fd: number } => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.txt`);
    return { path: file, fd: openSync(file, 'wx', 0o600) };
  };
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  const dispose = () => {
    close();
    if (path !== undefined && !kept) rmSync(path, { force: true });
  };

  const tooLarge = (at: Site, value: ConsultSuccess, file: string, size: number): FaultRecord =>
    createFault(
      'downstream_failure',
      at,
      `Claude Code answered with ${size} bytes, above the ${maxBytes}-byte limit (PHONE_OPUS_MAX_ANSWER_BYTES); the full answer is saved in ${file}`,
      {
        reason: 'answer_too_large',
        hint: {
          message: `Read the answer from ${file}, or ask for a shorter answer (or raise PHONE_OPUS_MAX_ANSWER_BYTES).`,
          answer_file: file,
          answer_bytes: size,
          ...(value.session_id === null ? {} : { session_id: value.session_id }),
          num_turns: value.num_turns,
        },
      },
    );

  return {
    openSink: () => {
      const opened = create();
      path = opened.path;
      fd = opened.fd;
      return {
        write: (text) => {
          bytes += writeSync(fd as number, text);
        },
      };
    },
    settle: (at, outcome, answerInSink) => {
      if (!outcome.ok) return outcome;
      if (answerInSink && path !== undefined) {
        close();
        if (bytes <= maxBytes) {
          return { ok: true, value: { ...outcome.value, response: readFileSync(path, 'utf8') } };
        }
        kept = true;
        return { ok: false, fault: tooLarge(at, outcome.value, path, bytes) };
      }
      const size = Buffer.byteLength(outcome.value.response);
      if (size <= maxBytes) return outcome;
      const saved = create();
      try {
        writeSync(saved.fd, outcome.value.response);
      } finally {
        closeSync(saved.fd);
      }
      return { ok: false, fault: tooLarge(at, outcome.value, saved.path, size) };
    },
    dispose,
  };
}
