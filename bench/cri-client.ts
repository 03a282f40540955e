/**
 * The one CRI client every benchmark uses, for Berth and containerd alike, so both are measured through the
 * same call path: the generated grpc-js RuntimeService and ImageService clients (src/api/gen/cri.ts).
 */
import { Metadata, credentials } from '@grpc/grpc-js';
import type { ChannelOptions } from '@grpc/grpc-js';
import { ImageServiceClient, RuntimeServiceClient } from '../src/api/gen/cri.js';
import type {
  Container,
  ContainerConfig,
  ContainerState,
  ContainerStats,
  ListContainerStatsResponse,
  ListContainersResponse,
  ListPodSandboxResponse,
  ListPodSandboxStatsResponse,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxStats,
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

/** What a List call can filter on (unset: no filter on it); labels are exact matches, ANDed. */
export interface ListFilter {
  readonly labels?: Readonly<Record<string, string>>;
  /** ListContainers only. */
  readonly containerState?: ContainerState;
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

  /** CRI ListContainers, with the filter as the kubelet sends one (an empty filter when none is given). */
  async listContainers(filter: ListFilter = {}, options: CallOptionsMs = {}): Promise<Container[]> {
    const deadline = deadlineOf(options);
    const request = {
      filter: {
        id: '',
        podSandboxId: '',
        state: filter.containerState === undefined ? undefined : { state: filter.containerState },
        labelSelector: { ...filter.labels },
      },
    };
    const response = await unary<ListContainersResponse>((done) =>
      this.client.listContainers(request, new Metadata(), { deadline }, done),
    );
    return response.containers;
  }

  /** CRI ListPodSandbox, filtered on labels. */
  async listPodSandbox(filter: ListFilter = {}, options: CallOptionsMs = {}): Promise<PodSandbox[]> {
    const deadline = deadlineOf(options);
    const request = { filter: { id: '', state: undefined, labelSelector: { ...filter.labels } } };
    const response = await unary<ListPodSandboxResponse>((done) =>
      this.client.listPodSandbox(request, new Metadata(), { deadline }, done),
    );
    return response.items;
  }

  /** CRI ListContainerStats of every container (the kubelet's stats provider sends an empty filter). */
  async listContainerStats(options: CallOptionsMs = {}): Promise<ContainerStats[]> {
    const deadline = deadlineOf(options);
    const request = { filter: { id: '', podSandboxId: '', labelSelector: {} } };
    const response = await unary<ListContainerStatsResponse>((done) =>
      this.client.listContainerStats(request, new Metadata(), { deadline }, done),
    );
    return response.stats;
  }

  /** CRI ListPodSandboxStats of every pod. */
  async listPodSandboxStats(options: CallOptionsMs = {}): Promise<PodSandboxStats[]> {
    const deadline = deadlineOf(options);
    const request = { filter: { id: '', labelSelector: {} } };
    const response = await unary<ListPodSandboxStatsResponse>((done) =>
      this.client.listPodSandboxStats(request, new Metadata(), { deadline }, done),
    );
    return response.stats;
  }

  close(): void {
    this.client.close();
    this.images.close();
  }
}
