/**
 * SPDY/3.1 for the stream server (exec, attach, port-forward from kubectl, crictl and the kubelet, all through
 * Go's moby/spdystream). Written by hand because no maintained npm library implements SPDY/3.1: `spdy` 4.0.2 and
 * `spdy-transport` 3.0.0 have had no release for years and serve browsers over TLS. The details Go clients
 * depend on (one shared zlib context per direction, no enforced send window) are small enough to own.
 */
export { SpdySession, MAX_DATA_FRAME_BYTES, STREAM_RECEIVE_BUFFER_BYTES } from './spdy-session.js';
export type { SpdySessionOptions } from './spdy-session.js';
export { SpdyStream } from './spdy-stream.js';
export { RstStatus, GoawayStatus } from './frames.js';
export type { HeaderMap } from './header-block.js';
