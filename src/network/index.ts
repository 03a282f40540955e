/**
 * network: pod networking through CNI plugins (issue #4). For now: NetworkReady from conf_dir, and the
 * pod CIDR kubelet sets with UpdateRuntimeConfig.
 */
export { NetworkReadiness, isCniConfigFile, CNI_CONFIG_EXTENSIONS } from './readiness.js';
export { PodCidrService, parsePodCidrs } from './pod-cidr.js';
export type { SettingsStore } from './pod-cidr.js';
export type { Condition } from '../base/condition.js';
