/**
 * RuntimeService Exec, Attach and PortForward: validate the request against the container or pod, store it
 * behind a single-use token and answer with the stream server's URL (the session itself runs there).
 */
import type {
  AttachRequest,
  AttachResponse,
  ExecRequest,
  ExecResponse,
  PortForwardRequest,
  PortForwardResponse,
} from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { StreamRequest } from '../streaming/index.js';
import type { Containers } from './containers.js';
import type { Sandboxes } from './pod-sandbox.js';
import type { CallContext } from './server.js';

export interface StreamUrls {
  urlFor(req: StreamRequest): string;
}

function checkStdio(req: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (!req.stdin && !req.stdout && !req.stderr) {
    throw new BerthError('INVALID_ARGUMENT', 'one of stdin, stdout or stderr must be set');
  }
  if (req.tty && req.stderr) throw new BerthError('INVALID_ARGUMENT', 'tty and stderr cannot both be set');
}

export function exec(containers: Containers, streams: StreamUrls) {
  return async (req: ExecRequest, ctx: CallContext): Promise<ExecResponse> => {
    checkStdio(req);
    if (req.cmd.length === 0) throw new BerthError('INVALID_ARGUMENT', 'exec needs a command');
    const c = containers.get(ctx.namespace, req.containerId);
    if (c.state !== 'running') throw new BerthError('FAILED_PRECONDITION', `container ${c.id} is not running`);
    const url = streams.urlFor({
      kind: 'exec',
      namespace: ctx.namespace,
      containerId: c.id,
      cmd: [...req.cmd],
      tty: req.tty,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
    });
    return { url };
  };
}

export function attach(containers: Containers, streams: StreamUrls) {
  return async (req: AttachRequest, ctx: CallContext): Promise<AttachResponse> => {
    checkStdio(req);
    const c = containers.checkAttach(ctx.namespace, req.containerId, req);
    const url = streams.urlFor({
      kind: 'attach',
      namespace: ctx.namespace,
      containerId: c.id,
      tty: req.tty,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
    });
    return { url };
  };
}

export function portForward(sandboxes: Sandboxes, streams: StreamUrls) {
  return async (req: PortForwardRequest, ctx: CallContext): Promise<PortForwardResponse> => {
    const bad = req.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
    if (bad !== undefined) throw new BerthError('INVALID_ARGUMENT', `invalid port ${bad}: ports are 1-65535`);
    const pod = sandboxes.get(ctx.namespace, req.podSandboxId);
    if (pod.state !== 'ready') throw new BerthError('FAILED_PRECONDITION', `pod sandbox ${pod.id} is not ready`);
    const url = streams.urlFor({
      kind: 'portforward',
      namespace: ctx.namespace,
      podSandboxId: pod.id,
      ports: [...req.port],
    });
    return { url };
  };
}
