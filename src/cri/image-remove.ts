/**
 * ImageService.RemoveImage by id, tag or digest. api.proto: "This call is idempotent, and must not
 * return an error if the image has already been removed."
 */
import type { CallContext } from './server.js';
import type { RemoveImageRequest, RemoveImageResponse } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ImageService } from '../images/index.js';

export function imageRemove(images: ImageService) {
  return async (request: RemoveImageRequest, ctx: CallContext): Promise<RemoveImageResponse> => {
    const ref = request.image?.image ?? '';
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'RemoveImage needs an image reference or id');
    await images.remove(ctx.namespace, ref);
    return {};
  };
}
