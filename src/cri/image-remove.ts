/**
 * ImageService.RemoveImage by id, tag or digest. api.proto: "This call is idempotent, and must not
 * return an error if the image has already been removed."
 */
import type { RemoveImageRequest, RemoveImageResponse } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ImageService } from '../images/index.js';
import { CRI_NAMESPACE } from './image-view.js';

export function imageRemove(images: ImageService) {
  return async (request: RemoveImageRequest): Promise<RemoveImageResponse> => {
    const ref = request.image?.image ?? '';
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'RemoveImage needs an image reference or id');
    await images.remove(CRI_NAMESPACE, ref);
    return {};
  };
}
