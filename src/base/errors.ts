/**
 * BerthError: every failure a caller can cause or see carries one of the gRPC code names, so domain code
 * never imports grpc and the CRI layer maps codes to wire status numbers in one place (src/cri/errors.ts).
 * Check errors by code (isNotFound), not instanceof: two copies of a module must still agree (undici's advice).
 */

export const ERROR_CODES = Object.freeze([
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const);

export type ErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for('berth.error');

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BerthError';
  }
}

export function isBerthError(err: unknown): err is BerthError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Raw errors whose meaning is never in doubt, whoever threw them: a full disk (errno ENOSPC, a quota's EDQUOT,
 * SQLite's SQLITE_FULL) is RESOURCE_EXHAUSTED wherever it surfaces, so a client sees "the node is full", not
 * UNKNOWN. Every other raw error stays UNKNOWN (the code that knows its meaning classifies it).
 */
const RAW_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  ENOSPC: 'RESOURCE_EXHAUSTED',
  EDQUOT: 'RESOURCE_EXHAUSTED',
  SQLITE_FULL: 'RESOURCE_EXHAUSTED',
});

/** Filesystem errno codes, for ioError: what a caller can do about a failed read or write. */
const ERRNO_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  ...RAW_CODES,
  ENOENT: 'NOT_FOUND',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
});

export function errorCode(err: unknown): ErrorCode {
  if (isBerthError(err)) return err.code;
  const raw = (err as { code?: unknown } | null)?.code;
  return (typeof raw === 'string' ? RAW_CODES[raw] : undefined) ?? 'UNKNOWN';
}

/** True for a full disk (ENOSPC, EDQUOT, SQLITE_FULL), raw or classified. */
export const isResourceExhausted = (err: unknown): boolean => errorCode(err) === 'RESOURCE_EXHAUSTED';

/** A filesystem error as a BerthError whose code says what a caller can do about it (a full disk, say). */
export function ioError(err: unknown, doing: string): BerthError {
  if (isBerthError(err)) return err;
  const code = ERRNO_CODES[(err as NodeJS.ErrnoException).code ?? ''] ?? errorCode(err);
  return new BerthError(code, `${doing}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export const isNotFound = (err: unknown): boolean => errorCode(err) === 'NOT_FOUND';
export const isAlreadyExists = (err: unknown): boolean => errorCode(err) === 'ALREADY_EXISTS';
export const isInvalidArgument = (err: unknown): boolean => errorCode(err) === 'INVALID_ARGUMENT';

/** Adds what we were doing to an error and keeps its code ("start container abc: runc not found"). */
export function wrap(err: unknown, doing: string): BerthError {
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError(errorCode(err), `${doing}: ${message}`, { cause: err });
}

/** The message of anything thrown, for logs and one-line CLI errors. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
