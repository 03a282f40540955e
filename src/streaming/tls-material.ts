/**
 * The stream server's certificate with enable_tls_streaming: the configured pair, or a self-signed pair made
 * at start (as containerd does when no pair is configured). Made with openssl: Node cannot create X.509
 * certificates itself, and a fresh pair per start needs no key management; clients of a self-signed stream
 * server skip verification, as kubelet's proxy does for runtime stream URLs.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, messageOf } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import { stderrTail } from '../base/exec.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const OPENSSL_TIMEOUT_MS = 30_000;

export async function loadTlsMaterial(certFile: string, keyFile: string): Promise<TlsMaterial> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return { cert, key };
  } catch (err) {
    throw new BerthError('FAILED_PRECONDITION', `read the stream server's TLS pair: ${messageOf(err)}`);
  }
}

/** A self-signed P-256 pair for the given address, valid ten years. */
export async function selfSignedTls(exec: Exec, dir: string, address: string): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'stream.key');
  const certFile = join(dir, 'stream.crt');
  const san = /^[0-9.]+$|:/.test(address) ? `IP:${address}` : `DNS:${address}`;
  const res = await exec({
    file: '/usr/bin/openssl',
    args: [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '3650',
      '-subj',
      '/CN=berth-stream-server',
      '-addext',
      `subjectAltName=${san},DNS:localhost`,
    ],
    timeoutMs: OPENSSL_TIMEOUT_MS,
  });
  if (res.exitCode !== 0) {
    throw new BerthError('FAILED_PRECONDITION', `make a self-signed stream certificate: ${stderrTail(res.stderr)}`);
  }
  const material = await loadTlsMaterial(certFile, keyFile);
  await rm(keyFile, { force: true });
  return material;
}
