/** ImageService.PullImage: returns the image id (sha256 of the config), with the request's credentials. */
import type { AuthConfig, PullImageRequest, PullImageResponse } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from './server.js';
import { decodeDockerAuth } from '../images/index.js';
import type { ImageService, RegistryCredentials } from '../images/index.js';
import { CRI_NAMESPACE } from './image-view.js';

/** CRI AuthConfig -> registry credentials; `auth` is base64("user:password") as in docker's config.json. */
export function credentialsOf(auth: AuthConfig | undefined): RegistryCredentials | undefined {
  if (auth === undefined) return undefined;
  let { username, password } = auth;
  if (auth.auth !== '') ({ username, password } = decodeDockerAuth(auth.auth));
  const creds: RegistryCredentials = {
    ...(username !== '' ? { username, password } : {}),
    ...(auth.identityToken !== '' ? { identityToken: auth.identityToken } : {}),
    ...(auth.registryToken !== '' ? { registryToken: auth.registryToken } : {}),
  };
  return Object.keys(creds).length === 0 ? undefined : creds;
}

export function imagePull(images: ImageService) {
  return async (request: PullImageRequest, ctx: CallContext): Promise<PullImageResponse> => {
    const ref = request.image?.image ?? '';
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'PullImage needs an image reference');
    const credentials = credentialsOf(request.auth);
    const view = await images.pull(CRI_NAMESPACE, ref, {
      ...(credentials ? { credentials } : {}),
      signal: ctx.signal,
    });
    return { imageRef: view.id };
  };
}
