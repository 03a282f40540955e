/** ImageService.PullImage: returns the image id (sha256 of the config), with the request's credentials. */
import type { PullImageRequest, PullImageResponse } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from './server.js';
import { credentialsFromAuth } from '../images/index.js';
import type { ImageService } from '../images/index.js';

export function imagePull(images: ImageService) {
  return async (request: PullImageRequest, ctx: CallContext): Promise<PullImageResponse> => {
    const ref = request.image?.image ?? '';
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'PullImage needs an image reference');
    const credentials = credentialsFromAuth(request.auth);
    const view = await images.pull(ctx.namespace, ref, {
      ...(credentials ? { credentials } : {}),
      signal: ctx.signal,
    });
    return { imageRef: view.id };
  };
}
