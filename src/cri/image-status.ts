/**
 * ImageService.ImageStatus. A missing image is not an error: api.proto says the response's image is
 * simply unset. `verbose` adds the image config as JSON under info["info"], as containerd does.
 */
import type { CallContext } from './server.js';
import type { ImageStatusRequest, ImageStatusResponse } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ImageService } from '../images/index.js';
import { toCriImage } from './image-view.js';

export function imageStatus(images: ImageService) {
  return async (request: ImageStatusRequest, ctx: CallContext): Promise<ImageStatusResponse> => {
    const ref = request.image?.image ?? '';
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'ImageStatus needs an image reference or id');
    const view = images.find(ctx.namespace, ref);
    if (view === undefined) return { image: undefined, info: {} };
    const info: Record<string, string> = request.verbose
      ? { info: JSON.stringify({ id: view.id, imageSpec: view.config, names: view.records.map((r) => r.name) }) }
      : {};
    return { image: toCriImage(view), info };
  };
}
