/**
 * Is the pod network usable? Like containerd and CRI-O: ready once conf_dir holds a CNI network config
 * (.conflist, .conf or .json). kubelet keeps the node NotReady (NetworkPluginNotReady) until then;
 * host-network pods still run.
 */
import { readdir } from 'node:fs/promises';
import type { Condition } from '../base/condition.js';
import { isCniConfigFile } from './cni/config.js';

export { CNI_CONFIG_EXTENSIONS, isCniConfigFile } from './cni/config.js';

export class NetworkReadiness {
  constructor(private readonly confDir: string) {}

  async check(): Promise<Condition> {
    let names: string[];
    try {
      names = await readdir(this.confDir);
    } catch {
      names = [];
    }
    if (names.some(isCniConfigFile)) return { isReady: true, reason: '', message: '' };
    return {
      isReady: false,
      reason: 'NetworkPluginNotReady',
      message: `network plugin is not ready: no CNI network config found in ${this.confDir}`,
    };
  }
}
