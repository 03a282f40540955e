/**
 * Which URLs serve a registry host: the configured mirrors in order, then the host itself, like
 * containerd's CRI registry config. docker.io is served by registry-1.docker.io. A host is spoken to
 * over plain HTTP only when its endpoint URL says http://, or when it is a loopback host: docker
 * treats localhost registries as insecure by default, and a loopback address never leaves the machine.
 */
export interface RegistryEndpoint {
  /** "https://registry-1.docker.io" or "http://127.0.0.1:5000": no trailing slash. */
  readonly baseUrl: string;
  readonly isMirror: boolean;
}

export interface MirrorConfig {
  readonly mirrors: Readonly<Record<string, { readonly endpoint: readonly string[] }>>;
}

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

export function upstreamUrl(domain: string): string {
  if (domain === 'docker.io') return 'https://registry-1.docker.io';
  return `${LOOPBACK_HOST.test(domain) ? 'http' : 'https'}://${domain}`;
}

export function endpointsFor(domain: string, config: MirrorConfig): RegistryEndpoint[] {
  const mirrors = (config.mirrors[domain]?.endpoint ?? []).map((url) => ({
    baseUrl: url.replace(/\/+$/, '').replace(/\/v2$/, ''),
    isMirror: true,
  }));
  const upstream = { baseUrl: upstreamUrl(domain), isMirror: false };
  return mirrors.some((m) => m.baseUrl === upstream.baseUrl) ? mirrors : [...mirrors, upstream];
}
