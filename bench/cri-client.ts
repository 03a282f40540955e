/**
 * The one CRI client every benchmark uses, for Berth and containerd alike, so both are measured through the
 * same call path: the generated grpc-js RuntimeService and ImageService clients (src/api/gen/cri.ts).
 */
import { Metadata, credentials } from '@grpc/grpc-js';
import type { ChannelOptions } from '@grpc/grpc-js';
import { ImageServiceClient, RuntimeServiceClient } from '../src/api/gen/cri.js';
import type { ContainerConfig, PodSandboxConfig, VersionResponse } from '../src/api/gen/cri.js';

export type { VersionResponse } from '../src/api/gen/cri.js';

/** What the kubelet sends as its runtime API version (kubelet's runtimeAPIVersion). */
const KUBELET_API_VERSION = '0.1.0';

export interface CriClientOptions {
  /**
   * Give this client its own subchannel (grpc.use_local_subchannel_pool). grpc-js otherwise shares
   * subchannels between clients of one target, and a subchannel whose connect failed waits out a
   * reconnect backoff (1 s and growing): a readiness poll would then measure the backoff, not the daemon.
   */
  readonly isolated?: boolean;
}

export interface CallOptionsMs {
  readonly deadlineMs?: number;
}

export class CriClient {
  private readonly client: RuntimeServiceClient;
  private readonly images: ImageServiceClient;

  /** endpoint: unix:///path/to.sock */
  constructor(endpoint: string, options: CriClientOptions = {}) {
    const channelOptions: ChannelOptions = options.isolated ? { 'grpc.use_local_subchannel_pool': 1 } : {};
    this.client = new RuntimeServiceClient(endpoint, credentials.createInsecure(), channelOptions);
    this.images = new ImageServiceClient(endpoint, credentials.createInsecure(), channelOptions);
  }

  version(options: CallOptionsMs = {}): Promise<VersionResponse> {
    const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
    return new Promise((resolve, reject) => {
      this.client.version({ version: KUBELET_API_VERSION }, new Metadata(), { deadline }, (err, response) => {
        if (err) reject(err);
        else resolve(response);
      });
    });
  }

  /** CRI PullImage as kubelet sends it (no auth, no sandbox config); resolves with the image id. */
  pullImage(image: string, options: CallOptionsMs = {}): Promise<string> {
    const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    return new Promise((resolve, reject) => {
      this.images.pullImage(
        { image: spec, auth: undefined, sandboxConfig: undefined },
        new Metadata(),
        { deadline },
        (err, response) => {
          if (err) reject(err);
          else resolve(response.imageRef);
        },
      );
    });
  }

  /** CRI RunPodSandbox; resolves with the pod id. */
  runPodSandbox(config: PodSandboxConfig, options: CallOptionsMs = {}): Promise<string> {
    const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
    return new Promise((resolve, reject) => {
      this.client.runPodSandbox({ config, runtimeHandler: '' }, new Metadata(), { deadline }, (err, response) => {
        if (err) reject(err);
        else resolve(response.podSandboxId);
      });
    });
  }

  /** CreateContainer then StartContainer; resolves with the container id. */
  async runContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const id = await new Promise<string>((resolve, reject) => {
      this.client.createContainer(
        { podSandboxId, config, sandboxConfig },
        new Metadata(),
        { deadline: Date.now() + 60_000 },
        (err, response) => (err ? reject(err) : resolve(response.containerId)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.client.startContainer({ containerId: id }, new Metadata(), { deadline: Date.now() + 60_000 }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
    return id;
  }

  /** StopPodSandbox then RemovePodSandbox. */
  async removePodSandbox(podSandboxId: string): Promise<void> {
    for (const call of [this.client.stopPodSandbox.bind(this.client), this.client.removePodSandbox.bind(this.client)]) {
      await new Promise<void>((resolve, reject) => {
        call({ podSandboxId }, new Metadata(), { deadline: Date.now() + 60_000 }, (err: Error | null) =>
          err ? reject(err) : resolve(),
        );
      });
    }
  }

  close(): void {
    this.client.close();
    this.images.close();
  }
}
