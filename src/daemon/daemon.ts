/**
 * The composition root: builds every service in dependency order, serves them on the unix socket, and
 * closes them in reverse. The only place that calls `new` on services.
 *
 * Startup order: directories -> metadata store (also the single-instance lock on <root>) -> services ->
 * socket claimed and bound (mode 0660) -> ready. Shutdown: stop accepting, let calls in flight finish
 * (bounded), close the store, remove the socket.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CachedAsync } from '../base/cached-async.js';
import { ensureDir } from '../base/fs.js';
import { BerthError, messageOf } from '../base/errors.js';
import { parseByteQuantity, parseDurationMs } from '../base/quantity.js';
import type { Logger } from '../base/logger.js';
import { redactConfig } from '../config/index.js';
import type { Config } from '../config/index.js';
import { META_DB_NAME, MetadataStore } from '../store/index.js';
import {
  boundingCapabilities,
  ConmonRuntime,
  ContainerService,
  defaultSeccompProfile,
  hostDevices,
  LogRotator,
  ownOomScoreAdj,
  RuntimeReadiness,
} from '../runtime/index.js';
import { spawnDetached, spawnWithSyncPipe } from '../base/spawn-sync-pipe.js';
import { CniManager, PodCidrService } from '../network/index.js';
import type { PodNetwork } from '../sandbox/index.js';
import { createCriServices } from '../cri/index.js';
import { ContentStore, LeaseManager } from '../content/index.js';
import { decodeDockerAuth, ImagePuller, ImagePusher, ImageService, RegistryClient } from '../images/index.js';
import { createSnapshotter } from '../snapshots/index.js';
import { CgroupStats, DiskUsageCache } from '../stats/index.js';
import { EventBus, fromContainerEvent } from '../events/index.js';
import type { BerthEvent, ContainerEvent } from '../events/index.js';
import { MetricsService } from '../metrics/index.js';
import { PodDialer, PodNamespaces, SandboxService } from '../sandbox/index.js';
import { loadTlsMaterial, selfSignedTls, StreamServer } from '../streaming/index.js';
import type { TlsMaterial } from '../streaming/index.js';
import { spawnInteractive } from '../base/interactive-process.js';
import { streamBackendOf } from './stream-backend.js';
import { exec } from '../base/exec.js';
import { createAdminService } from '../admin/index.js';
import { claimSocketPath } from './socket.js';
import { pluginEntries, PluginTable } from './plugins.js';
import { CriConnections } from './cri-connection.js';

export interface DaemonOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly version: string;
  /** How long shutdown waits for calls in flight before cancelling them. */
  readonly shutdownGraceMs?: number;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 8000;
/** How stale ImageFsInfo may be: kubelet image GC compares it with the filesystem at this kind of period. */
const IMAGE_FS_USAGE_MAX_AGE_MS = 5000;
/**
 * Writable-layer usage (ListContainerStats, PodSandboxStats, ContainerStats): one walk per layer per few
 * seconds, shared by the calls of one kubelet poll; an older value (up to a minute) is answered at once while
 * a refresh runs, and at most 4 walks run at once, so 200 containers never mean 200 walks in one RPC.
 */
const LAYER_USAGE_MAX_AGE_MS = 5000;
const LAYER_USAGE_MAX_STALE_MS = 60_000;
const LAYER_USAGE_CONCURRENCY = 4;
const SOCKET_MODE = 0o660;

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class Daemon {
  private store: MetadataStore | undefined;
  private server: Server | undefined;
  /** Stops accepting connections on the socket. */
  private stopAccepting: (() => void) | undefined;
  private registry: RegistryClient | undefined;
  private cni: CniManager | undefined;
  private conmonRuntime: ConmonRuntime | undefined;
  private layerUsage: DiskUsageCache | undefined;
  private logRotator: LogRotator | undefined;
  private streamServer: StreamServer | undefined;
  private metrics: MetricsService | undefined;
  private isReady = false;
  /** Only a socket this daemon bound is removed on close: never another berthd's. */
  private hasBoundSocket = false;
  private closing: Promise<void> | undefined;
  /** Ends the server streams (event subscriptions) when shutdown begins. */
  private readonly shuttingDown = new AbortController();

  constructor(private readonly options: DaemonOptions) {}

  get socketPath(): string {
    return this.options.config.grpc.address;
  }

  async start(): Promise<void> {
    const { config, log } = this.options;
    await ensureDir(config.root, 0o711);
    await ensureDir(config.state, 0o711);
    await ensureDir(dirname(this.socketPath), 0o711);

    this.store = MetadataStore.open(config.root, nowNs);
    const store = this.store;
    const cri = config.plugins.cri;
    const podCidrs = new PodCidrService(store.settings);

    // Events of every kind (`berth events`); container lifecycle events join from their own bus below.
    const events = new EventBus<BerthEvent>();
    const contentRoot = join(config.root, 'content');
    const content = new ContentStore(contentRoot);
    await content.init();
    const registry = new RegistryClient({
      mirrors: cri.registry.mirrors,
      requestTimeoutMs: parseDurationMs(cri.image_pull_progress_timeout),
      credentialsFor: (host) => {
        const auth = cri.registry.configs[host]?.auth;
        if (auth === undefined) return undefined;
        if (auth.auth !== '') return decodeDockerAuth(auth.auth);
        if (auth.identitytoken !== '') return { identityToken: auth.identitytoken };
        return auth.username !== '' ? { username: auth.username, password: auth.password } : undefined;
      },
      tls: Object.fromEntries(
        Object.entries(cri.registry.configs).map(([host, c]) => [
          host,
          { insecureSkipVerify: c.tls.insecure_skip_verify },
        ]),
      ),
    });
    this.registry = registry;
    const leases = new LeaseManager();
    const kind = cri.containerd.snapshotter;
    const snapshotter = createSnapshotter(kind, { root: join(config.root, 'snapshots', kind), exec });
    await snapshotter.init();
    // kubelet polls ImageFsInfo every few seconds; a walk of the snapshot store is too slow for each call.
    const imageFsUsage = new CachedAsync(() => snapshotter.usage(), IMAGE_FS_USAGE_MAX_AGE_MS);
    const imagesInUse: { current: () => ReadonlySet<string> } = { current: () => new Set() };
    const images = await ImageService.open({
      repo: store.images,
      content,
      leases,
      layers: snapshotter,
      puller: new ImagePuller(registry, content, leases, snapshotter, cri.max_concurrent_downloads),
      pusher: new ImagePusher(registry, content, cri.max_concurrent_downloads),
      log: log.child({ component: 'images' }),
      nowNs,
      imagesInUse: () => imagesInUse.current(),
      events,
    });

    const cni = new CniManager({
      binDirs: cri.cni.bin_dir.split(':').filter((d) => d !== ''),
      confDir: cri.cni.conf_dir,
      exec,
      cacheDir: join(config.root, 'cni', 'results'),
      log: log.child({ component: 'cni' }),
      defaultSubnet: podCidrs.get().length > 0 ? podCidrs.get().join(',') : cri.cni.default_subnet,
      pluginTimeoutMs: parseDurationMs(cri.cni.plugin_timeout),
    });
    this.cni = cni;
    if (await cni.writeDefaultConfig()) log.info({ confDir: cri.cni.conf_dir }, 'wrote the default CNI config');
    await cni.start();
    const podNamespaces = new PodNamespaces(exec, spawnDetached);
    // Pods and containers need each other (stopping a pod stops its containers): bound once both exist.
    const podContainers: { current?: ContainerService } = {};
    const sandboxes = await SandboxService.open({
      containers: {
        stopAll: async (id) => podContainers.current?.stopAll(id),
        removeAll: async (id) => podContainers.current?.removeAll(id),
      },
      repo: store.sandboxes,
      namespaces: podNamespaces,
      network: podNetworkOf(cni),
      rootDir: join(config.root, 'sandboxes'),
      stateDir: join(config.state, 'sandboxes'),
      specContext: {
        defaultRuntime: cri.containerd.default_runtime_name,
        runtimes: Object.keys(cri.containerd.runtimes),
        cgroupDriver: cri.cgroup_driver,
      },
      log: log.child({ component: 'sandbox' }),
      nowNs,
      events,
    });

    const containersDir = join(config.state, 'containers');
    const conmonRuntime = new ConmonRuntime({
      exec,
      spawnWithSyncPipe,
      spawnInteractive,
      conmonPath: cri.conmon_path,
      runtimes: Object.fromEntries(Object.entries(cri.containerd.runtimes).map(([name, r]) => [name, r.binary])),
      stateDir: config.state,
      bundleDirOf: (id) => join(containersDir, id),
      cgroupDriver: cri.cgroup_driver,
      log: log.child({ component: 'conmon' }),
      nowNs,
      runtimeTimeoutMs: parseDurationMs(cri.runtime_timeout),
      createTimeoutMs: parseDurationMs(cri.runtime_create_timeout),
    });
    await conmonRuntime.init();
    this.conmonRuntime = conmonRuntime;
    const containerEvents = new EventBus<ContainerEvent>();
    containerEvents.subscribe((e) => events.publish(fromContainerEvent(e)));
    const layerUsage = new DiskUsageCache({
      maxAgeMs: LAYER_USAGE_MAX_AGE_MS,
      maxStaleMs: LAYER_USAGE_MAX_STALE_MS,
      concurrency: LAYER_USAGE_CONCURRENCY,
      walk: (key) => snapshotter.usageOf(key),
    });
    this.layerUsage = layerUsage;
    const containers = await ContainerService.open({
      events: containerEvents,
      repo: store.containers,
      runtime: conmonRuntime,
      snapshotter,
      layerUsage,
      cgroups: new CgroupStats(),
      pods: sandboxes,
      images,
      stateDir: containersDir,
      host: {
        capabilities: await boundingCapabilities(),
        devices: await hostDevices(),
        cgroupDriver: cri.cgroup_driver,
        minOomScoreAdj: await ownOomScoreAdj(),
        seccompDefault: defaultSeccompProfile(),
      },
      log: log.child({ component: 'containers' }),
      nowNs,
      unmountAll: (path) => podNamespaces.unmountIfMounted(path),
    });
    podContainers.current = containers;
    const logRotator = new LogRotator({
      mode: cri.container_log_rotation,
      maxSizeBytes: parseByteQuantity(cri.container_log_max_size),
      maxFiles: cri.container_log_max_files,
      intervalMs: parseDurationMs(cri.container_log_monitor_interval),
      containers,
      log: log.child({ component: 'log-rotator' }),
    });
    this.logRotator = logRotator;
    logRotator.start();
    imagesInUse.current = () => containers.imagesInUse();

    const streamServer = new StreamServer({
      address: cri.stream_server_address,
      port: cri.stream_server_port,
      ...(cri.enable_tls_streaming ? { tls: await this.streamTls() } : {}),
      backend: streamBackendOf(containers, sandboxes, new PodDialer({ spawnInteractive })),
      log: log.child({ component: 'streaming' }),
    });
    await streamServer.start();
    this.streamServer = streamServer;

    // Opt-in: with no address nothing is collected and the RPC hook is absent.
    const metrics =
      config.metrics.address === ''
        ? undefined
        : new MetricsService({
            address: config.metrics.address,
            sources: {
              containersByState: () => containers.countByState(),
              podsByState: () => sandboxes.countByState(),
            },
            log: log.child({ component: 'metrics' }),
          });
    if (metrics !== undefined) {
      this.metrics = metrics;
      events.subscribe((e) => metrics.observeEvent(e));
      await metrics.start();
    }
    const hooks = {
      ...(metrics === undefined ? {} : { onCallEnd: metrics.observeRpc.bind(metrics) }),
      shutdown: this.shuttingDown.signal,
    };

    const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    const isReady = (): boolean => this.isReady;
    const rpcLog = log.child({ component: 'rpc' });
    for (const svc of createCriServices(
      {
        info: {
          version: this.options.version,
          cgroupDriver: cri.cgroup_driver,
          runtimeHandlers: Object.keys(cri.containerd.runtimes),
          redactedConfig: () => redactConfig(config),
        },
        runtimeReadiness: new RuntimeReadiness({
          defaultRuntimeName: cri.containerd.default_runtime_name,
          runtimes: cri.containerd.runtimes,
          conmonPath: cri.conmon_path,
        }),
        networkReadiness: { check: () => cni.status() },
        podCidrs,
        sandboxes,
        containers,
        containerEvents,
        streams: streamServer,
        nowNs,
        images,
        imageFs: {
          mountpoint: snapshotter.root,
          usage: async () => {
            const u = await imageFsUsage.get();
            return { sizeBytes: u.bytes, inodes: u.inodes };
          },
        },
        namespaceExists: (name) => store.namespaces.list().some((ns) => ns.name === name),
      },
      rpcLog,
      isReady,
      hooks,
    )) {
      server.addService(svc.definition, svc.implementation);
    }
    const plugins = new PluginTable(
      pluginEntries({
        config,
        exec,
        snapshotter,
        cni,
        streamServerUrl: () => streamServer.address,
        metricsUrl: () => metrics?.url,
        metaDbPath: join(config.root, META_DB_NAME),
        contentRoot,
      }),
    );
    const admin = createAdminService(
      {
        namespaces: store.namespaces,
        images,
        content: {
          list: () => images.listContent(),
          info: (digest) => content.info(digest),
          read: (digest, start) => content.createReadStream(digest, start),
          delete: (digest) => images.deleteContent(digest),
        },
        snapshots: {
          store: snapshotter,
          layerImages: () => images.layerImages(),
          removeLayer: (chainId) => images.removeLayer(chainId),
          containerOf: (key) => {
            const c = containers.snapshotOwner(key);
            return c === undefined ? undefined : `${c.namespace}/${c.config.metadata?.name ?? c.id}`;
          },
          removeActive: (key) => containers.removeLeftoverSnapshot(key),
        },
        events,
        plugins,
        nowNs,
      },
      rpcLog,
      isReady,
      hooks,
    );
    server.addService(admin.definition, admin.implementation);
    this.server = server;

    await claimSocketPath(this.socketPath);
    this.stopAccepting = await listenUnix(server, this.socketPath, log);
    this.hasBoundSocket = true;
    await chmod(this.socketPath, SOCKET_MODE);
    this.isReady = true;
    log.info(
      {
        socket: this.socketPath,
        root: config.root,
        state: config.state,
        streamServer: streamServer.address,
        ...(metrics === undefined ? {} : { metrics: metrics.url }),
      },
      'berthd is serving',
    );
  }

  /** The stream server's URL base (http(s)://address:port). */
  get streamServerAddress(): string {
    return this.streamServer?.address ?? '';
  }

  private async streamTls(): Promise<TlsMaterial> {
    const { config } = this.options;
    const pair = config.plugins.cri.x509_key_pair_streaming;
    if (pair.tls_cert_file !== '' || pair.tls_key_file !== '') {
      if (pair.tls_cert_file === '' || pair.tls_key_file === '') {
        throw new BerthError(
          'INVALID_ARGUMENT',
          'plugins.cri.x509_key_pair_streaming: set both tls_cert_file and tls_key_file, or neither',
        );
      }
      return loadTlsMaterial(pair.tls_cert_file, pair.tls_key_file);
    }
    return selfSignedTls(exec, join(config.state, 'tls'), config.plugins.cri.stream_server_address);
  }

  /** Idempotent; safe to call after a failed start. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const { log } = this.options;
    this.isReady = false;
    const server = this.server;
    this.stopAccepting?.();
    this.shuttingDown.abort();
    if (server !== undefined) {
      await shutdownServer(server, this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, log);
    }
    if (this.hasBoundSocket) await rm(this.socketPath, { force: true });
    await this.streamServer?.close();
    await this.metrics?.close();
    await this.registry?.close();
    await this.cni?.close();
    await this.logRotator?.close();
    this.conmonRuntime?.close();
    await this.layerUsage?.close();
    this.store?.close();
    log.info('berthd stopped');
  }
}

/**
 * Listens on the unix socket ourselves and hands each connection to grpc-js through its connection
 * injector: as the native socket, or with the client-to-server bytes passing through AuthorityRewriter when
 * the client sends the socket path as :authority (crictl v1.26), which Node's HTTP/2 server refuses
 * (cri-connection.ts).
 */
async function listenUnix(server: Server, path: string, log: Logger): Promise<() => void> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const connections = new CriConnections(injector, log);
  const listener = createServer((socket: Socket) => connections.accept(socket));
  // Once it stops accepting, end the connections still being read: grpc-js does not know them yet.
  const stopAccepting = (): void => {
    listener.close();
    connections.close();
  };
  // The socket is created with the umask's mode; tighten the umask so it is never world-accessible,
  // even for the moment before chmod.
  const previous = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(path, () => {
        listener.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new BerthError('FAILED_PRECONDITION', `listen on ${path}: ${messageOf(err)}`, { cause: err });
  } finally {
    process.umask(previous);
  }
  return stopAccepting;
}

/** Stop accepting, let calls in flight finish for up to graceMs, then cancel what is left. */
async function shutdownServer(server: Server, graceMs: number, log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      log.warn({ graceMs }, 'calls still in flight after the grace period; cancelling them');
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The sandbox's view of CNI: IPs as strings, IPv4 first. */
function podNetworkOf(cni: CniManager): PodNetwork {
  const podOf = (req: Parameters<PodNetwork['setUp']>[0]) => ({
    id: req.id,
    netnsPath: req.netnsPath,
    podName: req.podName,
    podNamespace: req.podNamespace,
    podUid: req.podUid,
    portMappings: req.portMappings.map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      ...(p.hostIp === '' ? {} : { hostIP: p.hostIp }),
    })),
    ...(req.bandwidth === undefined ? {} : { bandwidth: req.bandwidth }),
    ...(req.dns === undefined ? {} : { dns: req.dns }),
  });
  return {
    setUp: async (req) => ({ ips: (await cni.setUp(podOf(req))).ips.map((ip) => ip.address) }),
    tearDown: (req) => cni.tearDown(podOf(req)),
  };
}
