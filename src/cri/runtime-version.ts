/** RuntimeService.Version: names the runtime and the CRI version it speaks. */
import type { VersionRequest, VersionResponse } from '../api/gen/cri.js';
import type { RuntimeInfo } from './deps.js';

// The "version of the kubelet runtime API" field; containerd and CRI-O answer 0.1.0 too.
const KUBE_RUNTIME_API_VERSION = '0.1.0';

export function runtimeVersion(info: RuntimeInfo) {
  return async (_request: VersionRequest): Promise<VersionResponse> => ({
    version: KUBE_RUNTIME_API_VERSION,
    runtimeName: 'berth',
    runtimeVersion: info.version,
    runtimeApiVersion: 'v1',
  });
}
