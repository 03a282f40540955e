/** ImageService.ImageFsInfo: bytes and inodes the image store uses, and where it lives. */
import type { ImageFsInfoRequest, ImageFsInfoResponse } from '../api/gen/cri.js';

export interface ImageFsUsage {
  usage(): Promise<{ sizeBytes: number; inodes: number }>;
  readonly mountpoint: string;
}

export function imageFsInfo(fs: ImageFsUsage) {
  return async (_request: ImageFsInfoRequest): Promise<ImageFsInfoResponse> => {
    const { sizeBytes, inodes } = await fs.usage();
    return {
      imageFilesystems: [
        {
          timestamp: BigInt(Date.now()) * 1_000_000n,
          fsId: { mountpoint: fs.mountpoint },
          usedBytes: { value: BigInt(sizeBytes) },
          inodesUsed: { value: BigInt(inodes) },
        },
      ],
      containerFilesystems: [],
    };
  };
}
