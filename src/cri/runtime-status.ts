/**
 * RuntimeService.Status: the RuntimeReady and NetworkReady conditions kubelet turns into node readiness;
 * `verbose` adds the effective config (secrets redacted) as JSON under info["config"], as containerd does.
 */
import type { StatusRequest, StatusResponse } from '../api/gen/cri.js';
import type { RuntimeServiceDeps } from './deps.js';

export function runtimeStatus(deps: RuntimeServiceDeps) {
  return async (request: StatusRequest): Promise<StatusResponse> => {
    const [runtime, network] = await Promise.all([deps.runtimeReadiness.check(), deps.networkReadiness.check()]);
    const info: Record<string, string> = {};
    if (request.verbose) {
      info['config'] = JSON.stringify(deps.info.redactedConfig());
      info['podCIDRs'] = JSON.stringify(deps.podCidrs.get());
    }
    return {
      status: {
        conditions: [
          { type: 'RuntimeReady', status: runtime.isReady, reason: runtime.reason, message: runtime.message },
          { type: 'NetworkReady', status: network.isReady, reason: network.reason, message: network.message },
        ],
      },
      info,
      // The default handler is listed with the empty name (api.proto: "empty = the default handler"), then each
      // configured handler by name. No optional runtime features are claimed until they are implemented.
      runtimeHandlers: ['', ...deps.info.runtimeHandlers].map((name) => ({
        name,
        features: { recursiveReadOnlyMounts: false, userNamespaces: false },
      })),
      features: { supplementalGroupsPolicy: false, userNamespacesHostNetwork: false, mountOptions: false },
    };
  };
}
