/** exec and attach over WebSocket: the channel streams handed to the transport-independent session. */
import type { WebSocket } from 'ws';
import { hasJsonStatus, serveCommand } from './remote-command.js';
import type { AttachStreamRequest, ExecStreamRequest, StreamBackend } from './stream-backend.js';
import { WsChannels } from './ws-channels.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const NORMAL_CLOSURE = 1000;

export async function serveWsCommand(
  backend: StreamBackend,
  req: ExecStreamRequest | AttachStreamRequest,
  ws: WebSocket,
): Promise<void> {
  const channels = new WsChannels(ws, ws.protocol);
  const gone = new AbortController();
  ws.on('close', () => gone.abort());
  ws.on('error', () => gone.abort());
  const protocol = ws.protocol;
  await serveCommand(backend, req, {
    // Without v5's close signal a client cannot end stdin, so it only ends with the socket.
    protocol: hasJsonStatus(protocol) ? 'v4.channel.k8s.io' : 'channel.k8s.io',
    stdin: req.stdin ? channels.input(STDIN) : undefined,
    stdout: req.stdout ? channels.output(STDOUT) : undefined,
    stderr: req.stderr && !req.tty ? channels.output(STDERR) : undefined,
    resize: req.tty ? channels.input(RESIZE) : undefined,
    signal: gone.signal,
    finish: async (status) => {
      if (status.length > 0) await new Promise<void>((resolve) => channels.send(ERROR, status, () => resolve()));
      ws.close(NORMAL_CLOSURE);
    },
  });
}
