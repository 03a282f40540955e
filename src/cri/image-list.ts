/** ImageService.ListImages: every image of the k8s.io namespace, or those a filter reference names. */
import type { CallContext } from './server.js';
import type { ListImagesRequest, ListImagesResponse } from '../api/gen/cri.js';
import type { ImageService } from '../images/index.js';
import { toCriImage } from './image-view.js';

export function imageList(images: ImageService) {
  return async (request: ListImagesRequest, ctx: CallContext): Promise<ListImagesResponse> => {
    const wanted = request.filter?.image?.image ?? '';
    if (wanted !== '') {
      const one = images.find(ctx.namespace, wanted);
      return { images: one === undefined ? [] : [toCriImage(one)] };
    }
    return { images: images.list(ctx.namespace).map(toCriImage) };
  };
}
