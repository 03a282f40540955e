/**
 * sandbox: pod sandboxes (issue #4). Each pod pins its own network, IPC and UTS namespaces as bind-mounted
 * files (no pause process), gets a tmpfs /dev/shm, its sysctls, a CNI network, and /etc/hostname, /etc/hosts and
 * /etc/resolv.conf files for its containers. Records live in the store's `sandboxes` table.
 */
export { SandboxService } from './sandbox-service.js';
export type { PodContainers, Sandbox, SandboxFilter, SandboxNetwork, SandboxServiceDeps } from './sandbox-service.js';
export { PodNamespaces, mountPoints, SHM_OPTIONS } from './pod-namespaces.js';
export type { PinnedNamespaces } from './pod-namespaces.js';
export { sandboxSpecOf, checkSysctls, checkCgroupParent } from './sandbox-spec.js';
export type { CgroupDriver, DnsSpec, PortMappingSpec, SandboxSpec, SpecContext } from './sandbox-spec.js';
export { bandwidthOf, parseBitRate } from './pod-network.js';
export type { Bandwidth, PodNetwork, PodNetworkRequest } from './pod-network.js';
export { renderHosts, renderResolvConf } from './pod-files.js';
export { PodDialer } from './pod-dialer.js';
export type { PodDialerOptions } from './pod-dialer.js';
