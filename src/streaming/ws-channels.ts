/**
 * Kubernetes' channel framing over WebSocket (kubelet's wsstream): every message starts with a channel number,
 * one byte (binary protocols) or one ASCII digit followed by base64 (base64 protocols). For exec and attach the
 * channels are 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; v5 adds 255, a close signal the client sends
 * as [255, channel] to end one channel (stdin EOF) without closing the socket.
 *
 * Output channels are Writables whose write completes when ws handed the frame to the socket, so a slow client
 * slows the process's output instead of growing berthd's memory.
 */
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';

export const WS_COMMAND_PROTOCOLS = Object.freeze([
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
]);
/** Port-forward over WebSocket (kubelet's websocket.go): data channel 2i and error channel 2i+1 per port. */
export const WS_PORT_FORWARD_PROTOCOLS = Object.freeze([
  'portforward.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
]);

export const CLOSE_CHANNEL = 255;
/** One frame of output at most; larger writes are split so a 100 MiB burst does not become one message. */
const MAX_FRAME_BYTES = 64 * 1024;

export function isBase64Protocol(protocol: string): boolean {
  return protocol.includes('base64');
}

/** Demultiplexes a WebSocket into per-channel streams. */
export class WsChannels {
  private readonly inputs = new Map<number, PassThrough>();
  private readonly base64: boolean;

  constructor(
    private readonly ws: WebSocket,
    readonly protocol: string,
  ) {
    this.base64 = isBase64Protocol(protocol);
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('close', () => {
      for (const input of this.inputs.values()) input.end();
    });
  }

  /** Data the client sends on a channel (stdin, resize, port-forward data). */
  input(channel: number): PassThrough {
    let stream = this.inputs.get(channel);
    if (stream === undefined) {
      stream = new PassThrough();
      this.inputs.set(channel, stream);
    }
    return stream;
  }

  /** A writable that frames everything written on channel. end() sends nothing (the channel just stops). */
  output(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => this.send(channel, chunk, callback),
    });
  }

  send(channel: number, data: Buffer, callback: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      callback(new Error('websocket closed'));
      return;
    }
    let offset = 0;
    const next = (err?: Error | null): void => {
      if (err) {
        callback(err);
        return;
      }
      if (offset >= data.length && offset > 0) {
        callback();
        return;
      }
      const part = data.subarray(offset, offset + MAX_FRAME_BYTES);
      offset += Math.max(part.length, 1);
      this.ws.send(this.frame(channel, part), { binary: !this.base64 }, next);
    };
    next();
  }

  private frame(channel: number, data: Buffer): Buffer | string {
    if (this.base64) return String.fromCharCode(0x30 + channel) + data.toString('base64');
    const frame = Buffer.allocUnsafe(data.length + 1);
    frame[0] = channel;
    data.copy(frame, 1);
    return frame;
  }

  private onMessage(data: Buffer): void {
    if (data.length === 0) return;
    let channel = data[0] ?? 0;
    let payload: Buffer = data.subarray(1);
    if (this.base64) {
      channel -= 0x30;
      payload = Buffer.from(payload.toString('latin1'), 'base64');
    }
    if (channel === CLOSE_CHANNEL && !this.base64) {
      if (payload.length > 0) this.inputs.get(payload[0] ?? 0)?.end();
      return;
    }
    // Created on first use: a client may send (a request, stdin) before the session asked for the channel.
    const input = this.input(channel);
    if (!input.writableEnded) input.write(payload);
  }
}
