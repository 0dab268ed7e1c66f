/** The result of every fallible step: data, never a thrown error. */
export type Outcome<T, F> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: F };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });
export const err = <F>(error: F): { readonly ok: false; readonly error: F } => ({
  ok: false,
  error,
});
