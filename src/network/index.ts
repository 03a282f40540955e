/**
 * network: pod networking through CNI plugins (issue #4): CniManager loads the first config in conf_dir
 * (reloaded on change), writes a default bridge conflist when there is none, runs ADD/DEL/CHECK through the
 * plugin chain with loopback first (as containerd does), and keeps each pod's result for its DEL. Also the
 * pod CIDR kubelet sets with UpdateRuntimeConfig.
 */
export { NetworkReadiness, isCniConfigFile, CNI_CONFIG_EXTENSIONS } from './readiness.js';
export { PodCidrService, parsePodCidrs } from './pod-cidr.js';
export type { SettingsStore } from './pod-cidr.js';
export type { Condition } from '../base/condition.js';
export { CniManager } from './cni/cni-manager.js';
export type { CniManagerOptions, CniCallOptions } from './cni/cni-manager.js';
export type {
  CniPod,
  CniPortMapping,
  CniBandwidth,
  CniDns,
  PodNetwork,
  PodIp,
  PodInterface,
  PodDns,
} from './cni/types.js';
export type { ConfigState as CniConfigState } from './cni/config.js';
