/**
 * images: image references, the registry client (OCI distribution), pulls, and the image records of
 * each namespace (issue #3, landing in slices).
 *
 * On disk: image name records in the store's `images` table (one row per normalized name, pointing at a
 * manifest digest and the config digest that is the CRI image id); manifests, configs and layers in the
 * content store; unpacked layers in the snapshotter. A record is written only after everything it points
 * at is committed, so a crash never leaves a listed half image.
 */
export { ImageIndex } from './image-index.js';
export type { IndexedImage } from './image-index.js';
export { parseWwwAuthenticate } from './auth-challenge.js';
export type { AuthChallenge } from './auth-challenge.js';
export { RegistryClient, MANIFEST_ACCEPT } from './registry/registry-client.js';
export type {
  FetchedBlob,
  FetchedManifest,
  RegistryClientConfig,
  RegistryCredentials,
  Repository,
  RequestOptions,
  HostTlsConfig,
  BlobToPush,
  PushBlobOptions,
  PushBlobOutcome,
  UploadSession,
} from './registry/registry-client.js';
export { pushEndpointFor } from './registry/endpoints.js';
export { ImagePusher } from './image-push.js';
export type { BlobPushState, PushContent, PushedImage, PushProgress, PushRequest } from './image-push.js';
export { endpointsFor, upstreamUrl } from './registry/endpoints.js';
export type { RegistryEndpoint } from './registry/endpoints.js';
export {
  familiarName,
  looksLikeImageId,
  nameWithDigest,
  nameWithTag,
  parseReference,
  referenceString,
} from './reference.js';
export type { ImageReference } from './reference.js';
export { ImageService } from './image-service.js';
export type { BlobReference, ContentUse, ImageDetails, ImageView, PruneResult } from './image-service.js';
export { credentialsFromAuth } from './credentials.js';
export type { AuthFields } from './credentials.js';
export { ImagePuller } from './image-pull.js';
export type { LayerProgress, LayerState, PulledImage, PullOptions } from './image-pull.js';
export { hostPlatform, parseImageConfig, parseManifestDocument, selectManifest, MEDIA_TYPE } from './manifest.js';
export type { Descriptor, ImageConfig, Manifest, ManifestDocument, Platform } from './manifest.js';
export { decodeDockerAuth } from './registry/docker-auth.js';
export { readImageArchive } from './archive/archive-reader.js';
export { writeImageArchive } from './archive/archive-writer.js';
export type {
  ArchiveContent,
  ArchiveFormat,
  ArchiveImage,
  ArchiveSource,
  ImportedImage,
  ReadArchiveOptions,
} from './archive/archive-types.js';
