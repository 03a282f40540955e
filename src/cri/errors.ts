/**
 * The one table from Berth's error code names to gRPC status numbers (and back, for the CLI).
 * Domain code throws BerthError with a code name; only this file knows the numbers.
 */
import { status } from '@grpc/grpc-js';
import type { ServiceError, StatusObject } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { BerthError, errorCode, isBerthError, messageOf } from '../base/errors.js';
import type { ErrorCode } from '../base/errors.js';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = Object.freeze({
  CANCELLED: status.CANCELLED,
  UNKNOWN: status.UNKNOWN,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ABORTED: status.ABORTED,
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
  UNAVAILABLE: status.UNAVAILABLE,
  DATA_LOSS: status.DATA_LOSS,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
});

/** The status object grpc-js sends for a thrown error. Unclassified errors become UNKNOWN. */
export function toStatus(err: unknown): Partial<StatusObject> & { code: status; details: string } {
  const code = GRPC_STATUS[errorCode(err)];
  return { code, details: messageOf(err), metadata: new Metadata() };
}

export function isClassified(err: unknown): boolean {
  return isBerthError(err);
}

/** For clients (the CLI): a grpc-js ServiceError turned back into a BerthError. */
export function fromServiceError(err: ServiceError): BerthError {
  const entry = Object.entries(GRPC_STATUS).find(([, num]) => num === err.code);
  const code = (entry?.[0] ?? 'UNKNOWN') as ErrorCode;
  return new BerthError(code, err.details || err.message, { cause: err });
}
