/** Promise wrappers for grpc-js unary calls in tests. */
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata as GrpcMetadata } from '@grpc/grpc-js';
import type { UnaryMethod } from '../../src/cli/client.js';

export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, timeoutMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new GrpcMetadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** The ServiceError a call failed with (fails the test if it succeeded). */
export async function unaryError<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<ServiceError> {
  try {
    await unary(method, request);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
