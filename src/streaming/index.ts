/**
 * streaming: the stream server behind the CRI Exec, Attach and PortForward RPCs (issue #6): single-use URLs,
 * SPDY/3.1 and WebSocket transports, the remotecommand and port-forward protocols. The runtime work (a process
 * in a container, a container's stdio, a connection inside a pod) comes from a StreamBackend the daemon wires.
 */
export { StreamServer } from './stream-server.js';
export type { StreamServerOptions } from './stream-server.js';
export { StreamTokens, TOKEN_TTL_MS } from './stream-tokens.js';
export { loadTlsMaterial, selfSignedTls } from './tls-material.js';
export type { TlsMaterial } from './tls-material.js';
export { encodeResult, hasJsonStatus, PORT_FORWARD_PROTOCOL, SPDY_COMMAND_PROTOCOLS } from './remote-command.js';
export { ResizeDecoder } from './resize-decoder.js';
export { relayProcess } from './process-relay.js';
export { WS_COMMAND_PROTOCOLS, WS_PORT_FORWARD_PROTOCOLS, CLOSE_CHANNEL } from './ws-channels.js';
export { SpdySession, SpdyStream } from './spdy/index.js';
export type {
  AttachStreamRequest,
  ExecOutcome,
  ExecStreamRequest,
  PortForwardStreamRequest,
  StreamBackend,
  StreamIo,
  StreamRequest,
  TerminalSize,
} from './stream-backend.js';
