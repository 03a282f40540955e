/**
 * The one CRI client every benchmark uses, for Berth and containerd alike, so both are measured through the
 * same call path: the generated grpc-js RuntimeService and ImageService clients (src/api/gen/cri.ts).
 */
import { Metadata, credentials } from '@grpc/grpc-js';
import type { ChannelOptions } from '@grpc/grpc-js';
import { ImageServiceClient, RuntimeServiceClient } from '../src/api/gen/cri.js';
import type {
  ContainerConfig,
  ListContainersResponse,
  ListPodSandboxResponse,
  PodSandboxConfig,
  VersionResponse,
} from '../src/api/gen/cri.js';

export type { VersionResponse } from '../src/api/gen/cri.js';

/** What the kubelet sends as its runtime API version (kubelet's runtimeAPIVersion). */
const KUBELET_API_VERSION = '0.1.0';
/** Deadline of each create, start, stop and remove call when the caller gives none. */
const MUTATION_DEADLINE_MS = 60_000;

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

const deadlineOf = (options: CallOptionsMs): number =>
  options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;

/** A grpc-js unary call as a promise: invoke starts the call with the callback it is given. */
function unary<T>(invoke: (done: (err: Error | null, response: T) => void) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke((err, response) => (err ? reject(err) : resolve(response)));
  });
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

  /** CRI CreateContainer; resolves with the container id. */
  createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
    options: CallOptionsMs = {},
  ): Promise<string> {
    const deadline = deadlineOf(options);
    return unary<{ containerId: string }>((done) =>
      this.client.createContainer({ podSandboxId, config, sandboxConfig }, new Metadata(), { deadline }, done),
    ).then((response) => response.containerId);
  }

  /** CRI StartContainer. */
  async startContainer(containerId: string, options: CallOptionsMs = {}): Promise<void> {
    const deadline = deadlineOf(options);
    await unary((done) => this.client.startContainer({ containerId }, new Metadata(), { deadline }, done));
  }

  /** CreateContainer then StartContainer; resolves with the container id. */
  async runContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const id = await this.createContainer(podSandboxId, config, sandboxConfig, { deadlineMs: MUTATION_DEADLINE_MS });
    await this.startContainer(id, { deadlineMs: MUTATION_DEADLINE_MS });
    return id;
  }

  /** StopContainer (timeoutS seconds before SIGKILL; 0 kills at once) then RemoveContainer. */
  async removeContainer(containerId: string, timeoutS = 0): Promise<void> {
    const deadline = Date.now() + MUTATION_DEADLINE_MS + timeoutS * 1000;
    await unary((done) =>
      this.client.stopContainer({ containerId, timeout: BigInt(timeoutS) }, new Metadata(), { deadline }, done),
    );
    await unary((done) => this.client.removeContainer({ containerId }, new Metadata(), { deadline }, done));
  }

  /** StopPodSandbox then RemovePodSandbox. */
  async removePodSandbox(podSandboxId: string): Promise<void> {
    const deadline = Date.now() + MUTATION_DEADLINE_MS;
    await unary((done) => this.client.stopPodSandbox({ podSandboxId }, new Metadata(), { deadline }, done));
    await unary((done) => this.client.removePodSandbox({ podSandboxId }, new Metadata(), { deadline }, done));
  }

  /** Ids of every container the daemon knows (CRI ListContainers, no filter). */
  async listContainerIds(options: CallOptionsMs = {}): Promise<string[]> {
    const deadline = deadlineOf(options);
    const response = await unary<ListContainersResponse>((done) =>
      this.client.listContainers({ filter: undefined }, new Metadata(), { deadline }, done),
    );
    return response.containers.map((c) => c.id);
  }

  /** Ids of every pod sandbox the daemon knows (CRI ListPodSandbox, no filter). */
  async listPodSandboxIds(options: CallOptionsMs = {}): Promise<string[]> {
    const deadline = deadlineOf(options);
    const response = await unary<ListPodSandboxResponse>((done) =>
      this.client.listPodSandbox({ filter: undefined }, new Metadata(), { deadline }, done),
    );
    return response.items.map((p) => p.id);
  }

  close(): void {
    this.client.close();
    this.images.close();
  }
}
