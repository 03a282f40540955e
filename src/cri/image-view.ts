/** Image views as CRI Image messages (shared by ListImages, ImageStatus and PullImage). */
import type { Image } from '../api/gen/cri.js';
import type { ImageView } from '../images/index.js';

/** CRI works in containerd's k8s.io namespace. */
export const CRI_NAMESPACE = 'k8s.io';

export function toCriImage(view: ImageView): Image {
  return {
    id: view.id,
    repoTags: [...view.repoTags],
    repoDigests: [...view.repoDigests],
    size: BigInt(view.sizeBytes),
    uid: view.uid === undefined ? undefined : { value: BigInt(view.uid) },
    username: view.username,
    spec: { image: view.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: view.id },
    pinned: false,
  };
}
