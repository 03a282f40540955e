/** RuntimeService.RuntimeConfig: tells kubelet which cgroup driver to use, so the two never disagree. */
import { CgroupDriver } from '../api/gen/cri.js';
import type { RuntimeConfigRequest, RuntimeConfigResponse } from '../api/gen/cri.js';
import type { RuntimeInfo } from './deps.js';

export function runtimeConfig(info: RuntimeInfo) {
  return async (_request: RuntimeConfigRequest): Promise<RuntimeConfigResponse> => ({
    linux: { cgroupDriver: info.cgroupDriver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS },
  });
}
