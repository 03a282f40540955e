/**
 * Which URLs serve a registry host: the configured mirrors in order, then the host itself, like
 * containerd's CRI registry config. docker.io is served by registry-1.docker.io. A host is spoken to
 * over plain HTTP only when its endpoint URL says http://, or when it is a loopback host: docker
 * treats localhost registries as insecure by default, and a loopback address never leaves the machine.
 * Pushes never go to mirrors (a mirror is a read-only cache): only to the host of the reference.
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

/**
 * Where pushes for a host go: the host itself. A mirror entry whose URL names that same host is used
 * as is, so an operator can say `endpoint = ["http://registry.lan:5000"]` to push over plain HTTP.
 */
export function pushEndpointFor(domain: string, config: MirrorConfig): RegistryEndpoint {
  const upstream = upstreamUrl(domain);
  const own = (config.mirrors[domain]?.endpoint ?? [])
    .map((url) => url.replace(/\/+$/, '').replace(/\/v2$/, ''))
    .find((url) => {
      try {
        return new URL(url).host === new URL(upstream).host;
      } catch {
        return false;
      }
    });
  return { baseUrl: own ?? upstream, isMirror: false };
}
