/**
 * An OCI distribution client for pulling: manifests by tag or digest and blobs (with HTTP Range for
 * resume), across a host's mirrors, with Bearer-token and Basic auth. Callers verify blob digests (the
 * content store does); manifests are verified here because their digest is what a tag resolves to.
 *
 * Errors: 401 after auth -> UNAUTHENTICATED, 403 -> PERMISSION_DENIED (each with the registry's own
 * message), 404 -> NOT_FOUND, connection failures and 5xx -> UNAVAILABLE naming every endpoint tried.
 * Credentials are never logged or put in messages.
 */
import { createHash } from 'node:crypto';
import { BerthError, errorCode, messageOf } from '../../base/errors.js';
import type { ErrorCode } from '../../base/errors.js';
import { parseWwwAuthenticate } from '../auth-challenge.js';
import { endpointsFor } from './endpoints.js';
import type { MirrorConfig, RegistryEndpoint } from './endpoints.js';

export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (docker's identitytoken), exchanged at the token endpoint. */
  readonly identityToken?: string;
  /** A bearer token used as is. */
  readonly registryToken?: string;
}

export interface RegistryClientConfig extends MirrorConfig {
  readonly credentialsFor?: (domain: string) => RegistryCredentials | undefined;
  readonly requestTimeoutMs?: number;
  readonly maxManifestBytes?: number;
  readonly fetch?: typeof fetch;
}

export interface Repository {
  /** "docker.io", "127.0.0.1:5000" */
  readonly domain: string;
  /** "library/busybox" */
  readonly path: string;
}

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly digest: string;
  /** The endpoint that answered; later blob requests go there first. */
  readonly endpoint: RegistryEndpoint;
}

export interface FetchedBlob {
  readonly body: AsyncIterable<Uint8Array>;
  /** True when the server honoured the Range request (206): body starts at the offset asked for. */
  readonly isPartial: boolean;
  readonly sizeBytes: number | undefined;
}

export interface RequestOptions {
  readonly credentials?: RegistryCredentials;
  readonly signal?: AbortSignal;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const TOKEN_FALLBACK_TTL_MS = 60_000;

interface CachedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The registry's own message from a distribution error body {"errors":[{"code","message"}]}. */
async function registryMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = body.errors?.[0];
    if (first) return [first.code, first.message].filter((x) => typeof x === 'string' && x !== '').join(': ');
  } catch {
    // not JSON: fall through to the status text
  }
  return text.trim().slice(0, 200) || `HTTP ${res.status}`;
}

function statusError(status: number, what: string, detail: string): BerthError {
  const code: ErrorCode =
    status === 401
      ? 'UNAUTHENTICATED'
      : status === 403
        ? 'PERMISSION_DENIED'
        : status === 404
          ? 'NOT_FOUND'
          : status === 429
            ? 'RESOURCE_EXHAUSTED'
            : 'UNAVAILABLE';
  return new BerthError(code, `${what}: ${detail}`);
}

export class RegistryClient {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly fetchFn: typeof fetch;

  constructor(private readonly config: RegistryClientConfig) {
    this.fetchFn = config.fetch ?? fetch;
  }

  endpoints(domain: string): RegistryEndpoint[] {
    return endpointsFor(domain, this.config);
  }

  async fetchManifest(repo: Repository, tagOrDigest: string, opts: RequestOptions = {}): Promise<FetchedManifest> {
    const what = `manifest ${repo.domain}/${repo.path}:${tagOrDigest}`;
    return this.acrossEndpoints(repo, what, async (endpoint) => {
      const res = await this.request(endpoint, repo, `manifests/${tagOrDigest}`, { Accept: MANIFEST_ACCEPT }, opts);
      if (!res.ok) throw statusError(res.status, what, await registryMessage(res));
      const limit = this.config.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > limit) {
        throw new BerthError('RESOURCE_EXHAUSTED', `${what} is ${declared} bytes, over the ${limit} byte limit`);
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length > limit) {
        throw new BerthError('RESOURCE_EXHAUSTED', `${what} is over the ${limit} byte limit`);
      }
      const digest = sha256(bytes);
      const expected = tagOrDigest.startsWith('sha256:') ? tagOrDigest : res.headers.get('docker-content-digest');
      if (expected && expected.startsWith('sha256:') && expected !== digest) {
        throw new BerthError('DATA_LOSS', `${what}: content has digest ${digest}, expected ${expected}`);
      }
      const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
      return { bytes, mediaType, digest, endpoint };
    });
  }

  /** GET a blob, from `offset` with a Range request when offset > 0. */
  async fetchBlob(
    repo: Repository,
    digest: string,
    opts: RequestOptions & { readonly offset?: number; readonly preferred?: RegistryEndpoint } = {},
  ): Promise<FetchedBlob> {
    const what = `blob ${digest} of ${repo.domain}/${repo.path}`;
    const offset = opts.offset ?? 0;
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    return this.acrossEndpoints(
      repo,
      what,
      async (endpoint) => {
        const res = await this.request(endpoint, repo, `blobs/${digest}`, headers, opts);
        if (!res.ok || res.body === null) throw statusError(res.status, what, await registryMessage(res));
        const length = res.headers.get('content-length');
        const isPartial = res.status === 206;
        return {
          body: res.body as AsyncIterable<Uint8Array>,
          isPartial,
          sizeBytes: length === null ? undefined : Number(length) + (isPartial ? offset : 0),
        };
      },
      opts.preferred,
    );
  }

  /** Tries each endpoint in order; moves on after connection errors, 5xx and a mirror's 404. */
  private async acrossEndpoints<T>(
    repo: Repository,
    what: string,
    attempt: (endpoint: RegistryEndpoint) => Promise<T>,
    preferred?: RegistryEndpoint,
  ): Promise<T> {
    const all = this.endpoints(repo.domain);
    const ordered = preferred ? [preferred, ...all.filter((e) => e.baseUrl !== preferred.baseUrl)] : all;
    const failures: string[] = [];
    let last: unknown;
    for (const endpoint of ordered) {
      try {
        return await attempt(endpoint);
      } catch (err) {
        const code = errorCode(err);
        const isRetryable = code === 'UNAVAILABLE' || (code === 'NOT_FOUND' && endpoint.isMirror);
        if (!isRetryable) throw err;
        failures.push(`${endpoint.baseUrl}: ${messageOf(err)}`);
        last = err;
      }
    }
    if (failures.length === 1) throw last;
    const code = errorCode(last);
    throw new BerthError(
      code === 'UNKNOWN' ? 'UNAVAILABLE' : code,
      `${what}: every endpoint failed: ${failures.join('; ')}`,
    );
  }

  /** One request with auth: on 401 answer the challenge once and retry. Redirects are followed by fetch. */
  private async request(
    endpoint: RegistryEndpoint,
    repo: Repository,
    path: string,
    headers: Record<string, string>,
    opts: RequestOptions,
  ): Promise<Response> {
    const url = `${endpoint.baseUrl}/v2/${repo.path}/${path}`;
    const scope = `repository:${repo.path}:pull`;
    const creds = opts.credentials ?? this.config.credentialsFor?.(repo.domain);
    const cacheKey = `${endpoint.baseUrl} ${scope}`;
    const cached = this.tokens.get(cacheKey);
    const auth = creds?.registryToken
      ? `Bearer ${creds.registryToken}`
      : cached && cached.expiresAtMs > Date.now()
        ? `Bearer ${cached.token}`
        : undefined;
    let res = await this.send(url, { ...headers, ...(auth ? { Authorization: auth } : {}) }, opts.signal);
    if (res.status !== 401) return res;
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel();
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    let authorization: string | undefined;
    if (bearer && !creds?.registryToken) {
      const token = await this.fetchToken(bearer.params, scope, creds, opts.signal);
      this.tokens.set(cacheKey, token);
      authorization = `Bearer ${token.token}`;
    } else if (basic && creds?.username !== undefined) {
      authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    if (authorization === undefined) return res;
    // fetch drops Authorization on a cross-origin redirect (blob storage), as the Fetch spec requires.
    res = await this.send(url, { ...headers, Authorization: authorization }, opts.signal);
    return res;
  }

  private async fetchToken(
    params: Readonly<Record<string, string>>,
    scope: string,
    creds: RegistryCredentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    const realm = params['realm'];
    if (!realm) throw new BerthError('UNAUTHENTICATED', 'registry asked for a bearer token but named no realm');
    const service = params['service'] ?? '';
    let res: Response;
    if (creds?.identityToken) {
      // docker's OAuth2 refresh-token grant for identity tokens.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        service,
        scope,
      });
      form.set('client_id', 'berth');
      res = await this.send(
        realm,
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        signal,
        'POST',
        form.toString(),
      );
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      url.searchParams.set('scope', scope);
      const headers: Record<string, string> =
        creds?.username !== undefined
          ? { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` }
          : {};
      res = await this.send(url.toString(), headers, signal);
    }
    if (!res.ok)
      throw statusError(res.status === 400 ? 401 : res.status, 'get registry token', await registryMessage(res));
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const token = typeof body['token'] === 'string' ? body['token'] : body['access_token'];
    if (typeof token !== 'string' || token === '') {
      throw new BerthError('UNAUTHENTICATED', 'registry token endpoint answered without a token');
    }
    const ttlMs = typeof body['expires_in'] === 'number' ? body['expires_in'] * 1000 : TOKEN_FALLBACK_TTL_MS;
    return { token, expiresAtMs: Date.now() + ttlMs - 5000 };
  }

  private async send(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    method = 'GET',
    body?: string,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.config.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      return await this.fetchFn(url, {
        method,
        headers,
        body,
        redirect: 'follow',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw new BerthError('CANCELLED', `request to ${new URL(url).origin} cancelled`);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new BerthError(
        'UNAVAILABLE',
        `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
  }
}
