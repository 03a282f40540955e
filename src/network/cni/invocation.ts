/**
 * What one plugin run gets, per the CNI spec 1.0 "Execution protocol": the CNI_* environment and, on
 * stdin, the plugin's config with the list's name and cniVersion, the previous result (prevResult) and a
 * runtimeConfig holding only the capabilities the plugin declared (spec "Deriving runtimeConfig"). Pure
 * functions, so every byte a plugin sees is unit-tested.
 */
import { BerthError } from '../../base/errors.js';
import type { NetworkConfigList, PluginConfig } from './config.js';
import type { CniPod, JsonObject } from './types.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** The PATH plugins run with: portmap and bridge's ipMasq call iptables, which lives in the sbin dirs. */
const PLUGIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const POD_ID = /^[0-9a-f]{64}$/;
/** CNI_ARGS is "K=V;K=V": a value holding ';' or '=' would smuggle in another key. */
const CNI_ARGS_UNSAFE = /[;=\0\n]/;

export function assertPodId(id: string): void {
  if (!POD_ID.test(id))
    throw new BerthError('INVALID_ARGUMENT', `pod sandbox id "${id}" is not 64 lowercase hex digits`);
}

/**
 * CNI_ARGS as the kubelet's dockershim, containerd and CRI-O send it: IgnoreUnknown=1 first so plugins that
 * know none of the K8S_* keys do not fail on them.
 */
export function buildCniArgs(pod: CniPod): string {
  const pairs: [string, string][] = [
    ['K8S_POD_NAMESPACE', pod.podNamespace],
    ['K8S_POD_NAME', pod.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.id],
    ['K8S_POD_UID', pod.podUid],
  ];
  for (const [key, value] of pairs) {
    if (CNI_ARGS_UNSAFE.test(value)) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `pod ${pod.id}: ${key} "${value}" holds a character CNI_ARGS cannot carry`,
      );
    }
  }
  return ['IgnoreUnknown=1', ...pairs.map(([k, v]) => `${k}=${v}`)].join(';');
}

export interface PluginEnvRequest {
  readonly command: CniCommand;
  readonly pod: CniPod;
  /** '' on DEL when the netns is gone: spec 1.0 lets DEL run without one and plugins then skip netns work. */
  readonly netnsPath: string;
  readonly ifName: string;
  readonly binDirs: readonly string[];
}

export function buildPluginEnv(req: PluginEnvRequest): Record<string, string> {
  return {
    PATH: PLUGIN_PATH,
    CNI_COMMAND: req.command,
    CNI_CONTAINERID: req.pod.id,
    CNI_NETNS: req.netnsPath,
    CNI_IFNAME: req.ifName,
    CNI_ARGS: buildCniArgs(req.pod),
    CNI_PATH: req.binDirs.join(':'),
  };
}

/**
 * runtimeConfig for one plugin: only capabilities it declared and the pod has data for. Port mappings
 * without a host port are not published (containerd and CRI-O skip them too).
 */
export function buildRuntimeConfig(plugin: PluginConfig, pod: CniPod): JsonObject {
  const rc: JsonObject = {};
  const has = (cap: string): boolean => plugin.capabilities.includes(cap);
  const ports = (pod.portMappings ?? []).filter((p) => p.hostPort > 0);
  if (has('portMappings') && ports.length > 0) {
    rc['portMappings'] = ports.map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      ...(p.hostIP !== undefined && p.hostIP !== '' ? { hostIP: p.hostIP } : {}),
    }));
  }
  if (has('bandwidth') && pod.bandwidth !== undefined && Object.keys(pod.bandwidth).length > 0) {
    rc['bandwidth'] = { ...pod.bandwidth };
  }
  if (has('dns') && pod.dns !== undefined) {
    rc['dns'] = {
      ...(pod.dns.servers !== undefined ? { servers: [...pod.dns.servers] } : {}),
      ...(pod.dns.searches !== undefined ? { searches: [...pod.dns.searches] } : {}),
      ...(pod.dns.options !== undefined ? { options: [...pod.dns.options] } : {}),
    };
  }
  return rc;
}

/**
 * The stdin of one plugin: its own config, then the list's name and cniVersion, prevResult when there is
 * one, and runtimeConfig (replacing any in the file, as libcni does) when non-empty.
 */
export function buildPluginStdin(
  list: NetworkConfigList,
  plugin: PluginConfig,
  pod: CniPod,
  prevResult: JsonObject | undefined,
): string {
  const conf: JsonObject = { ...plugin.raw, name: list.name, cniVersion: list.cniVersion };
  delete conf['prevResult'];
  delete conf['runtimeConfig'];
  if (prevResult !== undefined) conf['prevResult'] = prevResult;
  const rc = buildRuntimeConfig(plugin, pod);
  if (Object.keys(rc).length > 0) conf['runtimeConfig'] = rc;
  return JSON.stringify(conf);
}
