/**
 * Port-forward over WebSocket (kubelet's websocket port-forward): the ports come from the URL's `port` query
 * parameters (they must be among the ports of the CRI request, when it named any); port i gets data channel 2i
 * and error channel 2i+1, and the first message on each of them is the port number, two bytes little-endian.
 * One connection per port per socket: the client opens another socket (another PortForward call) for more.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { messageOf } from '../base/errors.js';
import type { PortForwardStreamRequest, StreamBackend } from './stream-backend.js';
import { WsChannels } from './ws-channels.js';

const NORMAL_CLOSURE = 1000;

export async function serveWsPortForward(
  backend: StreamBackend,
  req: PortForwardStreamRequest,
  ports: readonly number[],
  ws: WebSocket,
): Promise<void> {
  const channels = new WsChannels(ws, ws.protocol === '' ? 'channel.k8s.io' : ws.protocol);
  const sendAsync = (channel: number, data: Buffer): Promise<void> =>
    new Promise((resolve) => channels.send(channel, data, () => resolve()));
  await Promise.all(
    ports.map(async (port, i) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16LE(port);
      await Promise.all([sendAsync(2 * i, prefix), sendAsync(2 * i + 1, prefix)]);
      let conn: Duplex;
      try {
        conn = await backend.dial(req, port);
      } catch (err) {
        await sendAsync(
          2 * i + 1,
          Buffer.from(`error forwarding port ${port} to pod ${req.podSandboxId}: ${messageOf(err)}`),
        );
        return;
      }
      await relay(conn, channels, 2 * i, ws);
    }),
  );
  ws.close(NORMAL_CLOSURE);
}

function relay(conn: Duplex, channels: WsChannels, channel: number, ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    const input = channels.input(channel);
    input.pipe(conn);
    conn.pipe(channels.output(channel), { end: false });
    const done = (): void => {
      conn.destroy();
      resolve();
    };
    conn.once('close', done);
    conn.once('error', done);
    ws.once('close', done);
  });
}
