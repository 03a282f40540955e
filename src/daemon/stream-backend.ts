/**
 * The stream server's backend, wired from the container and sandbox services: streaming exec through the OCI
 * runtime, attach through conmon, port-forward dials inside the pod's network namespace.
 */
import { BerthError } from '../base/errors.js';
import type { ContainerService } from '../runtime/index.js';
import type { PodDialer, SandboxService } from '../sandbox/index.js';
import { relayProcess } from '../streaming/index.js';
import type { StreamBackend } from '../streaming/index.js';

export function streamBackendOf(
  containers: ContainerService,
  sandboxes: SandboxService,
  dialer: PodDialer,
): StreamBackend {
  return {
    exec: (req, io) =>
      relayProcess(
        (size) =>
          containers.execInteractive(req.namespace, req.containerId, req.cmd, {
            tty: req.tty,
            ...(size === undefined ? {} : { cols: size.width, rows: size.height }),
          }),
        io,
        req.tty,
      ),
    attach: async (req, io) => {
      io.onResize((size) => {
        containers.resizeTerminal(req.namespace, req.containerId, size.width, size.height).catch(() => undefined);
      });
      await containers.attach(req.namespace, req.containerId, io);
    },
    dial: async (req, port) => {
      const pod = sandboxes.get(req.namespace, req.podSandboxId);
      if (pod.state !== 'ready') throw new BerthError('FAILED_PRECONDITION', `pod sandbox ${pod.id} is not ready`);
      return dialer.dial(pod.spec.hostNetwork ? undefined : pod.network.netns, port);
    },
  };
}
