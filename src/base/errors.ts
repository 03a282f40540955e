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

export function errorCode(err: unknown): ErrorCode {
  return isBerthError(err) ? err.code : 'UNKNOWN';
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
