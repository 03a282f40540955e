/** RuntimeService.UpdateRuntimeConfig: kubelet hands over the node's pod CIDR(s); we keep them. */
import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from '../api/gen/cri.js';
import type { PodCidrs } from './deps.js';

export function updateRuntimeConfig(podCidrs: PodCidrs) {
  return async (request: UpdateRuntimeConfigRequest): Promise<UpdateRuntimeConfigResponse> => {
    podCidrs.update(request.runtimeConfig?.networkConfig?.podCidr ?? '');
    return {};
  };
}
