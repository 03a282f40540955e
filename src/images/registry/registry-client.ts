/**
 * An OCI distribution client. Pull: manifests by tag or digest and blobs (with HTTP Range for resume),
 * across a host's mirrors. Push (distribution spec "Push"): blob HEAD, cross-repository mount, POST + PUT
 * monolithic upload streamed from the caller, manifest PUT; only ever to the reference's own host, never a
 * mirror. Both with Bearer-token (scope `pull`, or `pull,push` plus `pull` on a mount source) and Basic auth.
 * Callers verify blob digests (the content store does); manifests are verified here because their digest
 * is what a tag resolves to.
 *
 * Errors: 401 after auth -> UNAUTHENTICATED, 403 -> PERMISSION_DENIED (each with the registry's own
 * message), 404 -> NOT_FOUND, connection failures and 5xx -> UNAVAILABLE naming every endpoint tried
 * (a TLS certificate failure says so, and names the insecure_skip_verify key). A connection that drops or
 * stalls (no byte for requestTimeoutMs) in the middle of a body is UNAVAILABLE naming the endpoint and how
 * far it got; a blob body has no limit on its total time, only on silence.
 * Credentials are never logged or put in messages, nor sent to an upload URL on another origin.
 */
import { createHash } from 'node:crypto';
import { BerthError, errorCode, messageOf } from '../../base/errors.js';
import type { ErrorCode } from '../../base/errors.js';
import { parseWwwAuthenticate } from '../auth-challenge.js';
import { endpointsFor, pushEndpointFor } from './endpoints.js';
import type { MirrorConfig, RegistryEndpoint } from './endpoints.js';
import { createInsecureDispatcher } from './tls-dispatcher.js';
import type { FetchDispatcher, InsecureDispatcherFactory } from './tls-dispatcher.js';
import { uploadUrl, withDigest } from './upload-url.js';

export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (docker's identitytoken), exchanged at the token endpoint. */
  readonly identityToken?: string;
  /** A bearer token used as is. */
  readonly registryToken?: string;
}

/** TLS settings of one registry host, from `[plugins.cri.registry.configs."HOST".tls]`. */
export interface HostTlsConfig {
  /** Do not verify the certificate chain or host name of https:// requests to this host. */
  readonly insecureSkipVerify: boolean;
}

export interface RegistryClientConfig extends MirrorConfig {
  readonly credentialsFor?: (domain: string) => RegistryCredentials | undefined;
  /** Per request; for a blob upload, the longest time without a byte sent or an answer. */
  readonly requestTimeoutMs?: number;
  readonly maxManifestBytes?: number;
  readonly fetch?: typeof fetch;
  /** Keyed by "host[:port]" as requests name it: registry hosts, mirror hosts, token realms. */
  readonly tls?: Readonly<Record<string, HostTlsConfig>>;
  /** Makes the dispatcher for hosts with insecureSkipVerify (default: an undici Agent; tests inject one). */
  readonly insecureDispatcher?: InsecureDispatcherFactory;
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

/** A blob to push: what its descriptor says, and a way to read its bytes from the start (once per attempt). */
export interface BlobToPush {
  readonly digest: string;
  readonly sizeBytes: number;
  readonly open: () => AsyncIterable<Uint8Array>;
}

export interface PushBlobOptions extends RequestOptions {
  /** A repository on the same registry that holds the blob: tried with a cross-repository mount first. */
  readonly mountFrom?: Repository;
  /** Called with the total bytes sent so far while the blob uploads. */
  readonly onBytesSent?: (bytesSent: number) => void;
}

/** What pushBlob did: found it there already, had the registry mount it from mountFrom, or sent it. */
export type PushBlobOutcome = 'exists' | 'mounted' | 'uploaded';

/** An upload session the registry opened (POST .../blobs/uploads/): where the bytes go. */
export interface UploadSession {
  readonly repo: Repository;
  readonly endpoint: RegistryEndpoint;
  /** Absolute URL from the Location header, with any query the registry put there (e.g. _state). */
  readonly url: string;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const DEFAULT_TIMEOUT_MS = 30_000;
/** Codes of certificate failures as Node's tls errors name them (OpenSSL names, plus ERR_TLS_CERT_ALTNAME_INVALID). */
const CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/;
const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const TOKEN_FALLBACK_TTL_MS = 60_000;

interface CachedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/** One HTTP exchange as request() makes it; body is a factory because a 401 retry needs a fresh stream. */
interface Call {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  readonly url: string;
  /** Token scopes, e.g. ["repository:a/b:pull,push", "repository:c/d:pull"]. */
  readonly scopes: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: () => RequestBody;
  /** Replaces the fixed per-request timeout (uploads use an idle timer). */
  readonly timeout?: AbortSignal;
}

type RequestBody = string | Buffer | AsyncIterable<Uint8Array>;

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
  /** Endpoints that asked for Basic auth: later requests send it up front (a streamed PUT cannot be replayed cheaply). */
  private readonly basicEndpoints = new Set<string>();
  private readonly fetchFn: typeof fetch;
  private insecure: Promise<FetchDispatcher> | undefined;

  constructor(private readonly config: RegistryClientConfig) {
    this.fetchFn = config.fetch ?? fetch;
  }

  endpoints(domain: string): RegistryEndpoint[] {
    return endpointsFor(domain, this.config);
  }

  /** Closes the insecure-TLS dispatcher, if one was made. Idempotent. */
  async close(): Promise<void> {
    const insecure = this.insecure;
    this.insecure = undefined;
    if (insecure !== undefined) await (await insecure.catch(() => undefined))?.close();
  }

  async fetchManifest(repo: Repository, tagOrDigest: string, opts: RequestOptions = {}): Promise<FetchedManifest> {
    const what = `manifest ${repo.domain}/${repo.path}:${tagOrDigest}`;
    return this.acrossEndpoints(repo, what, async (endpoint) => {
      const res = await this.request(
        endpoint,
        repo.domain,
        this.pullCall(endpoint, repo, `manifests/${tagOrDigest}`, { Accept: MANIFEST_ACCEPT }),
        opts,
      );
      if (!res.ok) throw statusError(res.status, what, await registryMessage(res));
      const limit = this.config.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > limit) {
        throw new BerthError('RESOURCE_EXHAUSTED', `${what} is ${declared} bytes, over the ${limit} byte limit`);
      }
      const bytes = Buffer.from(
        await res.arrayBuffer().catch((err: unknown) => {
          throw dropped(what, endpoint, undefined, err, opts.signal);
        }),
      );
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
        // A layer may take minutes: the limit is on silence (re-armed per chunk), not on the whole download.
        const idle = new IdleTimer(this.config.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
        try {
          const res = await this.request(
            endpoint,
            repo.domain,
            { ...this.pullCall(endpoint, repo, `blobs/${digest}`, headers), timeout: idle.signal },
            opts,
          );
          if (!res.ok || res.body === null) throw statusError(res.status, what, await registryMessage(res));
          const length = res.headers.get('content-length');
          const isPartial = res.status === 206;
          const body = res.body as AsyncIterable<Uint8Array>;
          const signal = opts.signal;
          async function* watched(): AsyncGenerator<Uint8Array> {
            let received = 0;
            try {
              for await (const chunk of body) {
                idle.touch();
                received += chunk.length;
                yield chunk;
              }
            } catch (err) {
              throw dropped(what, endpoint, (isPartial ? offset : 0) + received, err, signal);
            } finally {
              idle.stop();
            }
          }
          return {
            body: watched(),
            isPartial,
            sizeBytes: length === null ? undefined : Number(length) + (isPartial ? offset : 0),
          };
        } catch (err) {
          idle.stop();
          throw err;
        }
      },
      opts.preferred,
    );
  }

  // ---- push (OCI distribution spec, "Push") ----

  /** The one endpoint pushes for repo go to: its own host, never a mirror. */
  pushEndpoint(repo: Repository): RegistryEndpoint {
    return pushEndpointFor(repo.domain, this.config);
  }

  /** HEAD /v2/<name>/blobs/<digest> with push rights: true when the repository already has the blob. */
  async hasBlob(repo: Repository, digest: string, opts: RequestOptions = {}): Promise<boolean> {
    return this.exists(repo, `blobs/${digest}`, `blob ${digest} of ${repo.domain}/${repo.path}`, opts);
  }

  /** HEAD /v2/<name>/manifests/<digest> with push rights. */
  async hasManifest(repo: Repository, digest: string, opts: RequestOptions = {}): Promise<boolean> {
    return this.exists(repo, `manifests/${digest}`, `manifest ${digest} of ${repo.domain}/${repo.path}`, opts);
  }

  /**
   * Asks the registry to mount a blob from another repository of the same registry. 201: mounted. 202: the
   * registry cannot (or will not) and opened an upload session instead, which the caller uses.
   */
  async mountBlob(
    repo: Repository,
    digest: string,
    from: Repository,
    opts: RequestOptions = {},
  ): Promise<{ readonly kind: 'mounted' } | { readonly kind: 'upload'; readonly session: UploadSession }> {
    const what = `mount blob ${digest} from ${from.path} into ${repo.domain}/${repo.path}`;
    if (from.domain !== repo.domain) {
      throw new BerthError('INVALID_ARGUMENT', `${what}: ${from.domain} is another registry`);
    }
    const endpoint = this.pushEndpoint(repo);
    const query = new URLSearchParams({ mount: digest, from: from.path }).toString();
    const res = await this.request(
      endpoint,
      repo.domain,
      {
        method: 'POST',
        url: `${endpoint.baseUrl}/v2/${repo.path}/blobs/uploads/?${query}`,
        scopes: [pushScope(repo), `repository:${from.path}:pull`],
        headers: { 'Content-Length': '0' },
      },
      opts,
    );
    if (res.status === 201) {
      await res.body?.cancel();
      return { kind: 'mounted' };
    }
    return { kind: 'upload', session: await this.sessionFrom(res, endpoint, repo, what) };
  }

  /** POST /v2/<name>/blobs/uploads/: opens an upload session. */
  async startUpload(repo: Repository, opts: RequestOptions = {}): Promise<UploadSession> {
    const what = `start blob upload to ${repo.domain}/${repo.path}`;
    const endpoint = this.pushEndpoint(repo);
    const res = await this.request(
      endpoint,
      repo.domain,
      {
        method: 'POST',
        url: `${endpoint.baseUrl}/v2/${repo.path}/blobs/uploads/`,
        scopes: [pushScope(repo)],
        headers: { 'Content-Length': '0' },
      },
      opts,
    );
    return this.sessionFrom(res, endpoint, repo, what);
  }

  /**
   * PUT <location>?digest=<digest> with the whole blob (a monolithic upload closing the session). The body
   * streams from blob.open(); the request fails when no byte moves for requestTimeoutMs.
   */
  async putBlob(
    session: UploadSession,
    blob: BlobToPush,
    opts: RequestOptions & { readonly onBytesSent?: (bytesSent: number) => void } = {},
  ): Promise<void> {
    const { repo, endpoint } = session;
    const what = `upload blob ${blob.digest} to ${repo.domain}/${repo.path}`;
    const idleMs = this.config.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The idle timer: re-armed on every chunk, disarmed for good once the request settles (undici may
    // still pull the body after an abort). Unref'd: the request itself keeps the process alive.
    const idle = new AbortController();
    let isSettled = false;
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      if (isSettled) return;
      timer = setTimeout(
        () => idle.abort(new Error(`no progress for ${idleMs} ms (image_pull_progress_timeout)`)),
        idleMs,
      ).unref();
    };
    touch();
    async function* counted(): AsyncGenerator<Uint8Array> {
      let sent = 0;
      for await (const chunk of blob.open()) {
        touch();
        yield chunk;
        sent += chunk.length;
        opts.onBytesSent?.(sent);
      }
      touch(); // the registry now checks the digest: give it a full period to answer
    }
    try {
      const res = await this.request(
        endpoint,
        repo.domain,
        {
          method: 'PUT',
          url: withDigest(session.url, blob.digest),
          scopes: [pushScope(repo)],
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.sizeBytes) },
          body: counted,
          timeout: idle.signal,
        },
        opts,
      );
      if (res.status !== 201) throw statusError(res.status, what, await registryMessage(res));
      await res.body?.cancel();
    } finally {
      isSettled = true;
      clearTimeout(timer);
    }
  }

  /**
   * Makes sure repo has the blob: HEAD, then a mount from opts.mountFrom when it is another repository of
   * the same registry, then an upload (reusing the session a refused mount opened).
   */
  async pushBlob(repo: Repository, blob: BlobToPush, opts: PushBlobOptions = {}): Promise<PushBlobOutcome> {
    if (await this.hasBlob(repo, blob.digest, opts)) return 'exists';
    const from = opts.mountFrom;
    let session: UploadSession | undefined;
    if (from !== undefined && from.domain === repo.domain && from.path !== repo.path) {
      const mounted = await this.mountBlob(repo, blob.digest, from, opts);
      if (mounted.kind === 'mounted') return 'mounted';
      session = mounted.session;
    }
    session ??= await this.startUpload(repo, opts);
    await this.putBlob(session, blob, opts);
    return 'uploaded';
  }

  /**
   * PUT /v2/<name>/manifests/<tag or digest> with its media type as Content-Type; answers the digest the
   * registry stored it under, which must be the sha256 of the bytes.
   */
  async putManifest(
    repo: Repository,
    reference: string,
    manifest: { readonly bytes: Buffer; readonly mediaType: string },
    opts: RequestOptions = {},
  ): Promise<string> {
    const what = `push manifest ${repo.domain}/${repo.path}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const digest = sha256(manifest.bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new BerthError('INVALID_ARGUMENT', `${what}: content has digest ${digest}`);
    }
    const endpoint = this.pushEndpoint(repo);
    const res = await this.request(
      endpoint,
      repo.domain,
      {
        method: 'PUT',
        url: `${endpoint.baseUrl}/v2/${repo.path}/manifests/${reference}`,
        scopes: [pushScope(repo)],
        headers: { 'Content-Type': manifest.mediaType },
        body: () => manifest.bytes,
      },
      opts,
    );
    if (res.status !== 201) throw statusError(res.status, what, await registryMessage(res));
    await res.body?.cancel();
    const stored = res.headers.get('docker-content-digest');
    if (stored !== null && stored !== digest) {
      throw new BerthError('DATA_LOSS', `${what}: registry stored it as ${stored}, its content is ${digest}`);
    }
    return digest;
  }

  private async exists(repo: Repository, path: string, what: string, opts: RequestOptions): Promise<boolean> {
    const endpoint = this.pushEndpoint(repo);
    // Accept matters for manifests: distribution answers 404 for an OCI manifest a client does not accept.
    const res = await this.request(
      endpoint,
      repo.domain,
      {
        method: 'HEAD',
        url: `${endpoint.baseUrl}/v2/${repo.path}/${path}`,
        scopes: [pushScope(repo)],
        headers: { Accept: MANIFEST_ACCEPT },
      },
      opts,
    );
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    // A HEAD answer has no body: the status alone names the failure.
    throw statusError(res.status, what, `HTTP ${res.status}`);
  }

  /** The session a 202 opened; its Location may be relative, absolute, and carry its own query. */
  private async sessionFrom(
    res: Response,
    endpoint: RegistryEndpoint,
    repo: Repository,
    what: string,
  ): Promise<UploadSession> {
    if (res.status !== 202) throw statusError(res.status, what, await registryMessage(res));
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (location === null || location === '') {
      throw new BerthError('UNAVAILABLE', `${what}: registry answered 202 without a Location`);
    }
    return {
      repo,
      endpoint,
      url: uploadUrl(location, res.url || `${endpoint.baseUrl}/v2/${repo.path}/blobs/uploads/`),
    };
  }

  private pullCall(endpoint: RegistryEndpoint, repo: Repository, path: string, headers: Record<string, string>): Call {
    return {
      method: 'GET',
      url: `${endpoint.baseUrl}/v2/${repo.path}/${path}`,
      scopes: [`repository:${repo.path}:pull`],
      headers,
    };
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
    const codes: string[] = [];
    let last: unknown;
    for (const endpoint of ordered) {
      try {
        return await attempt(endpoint);
      } catch (err) {
        const code = errorCode(err);
        const isRetryable = code === 'UNAVAILABLE' || (code === 'NOT_FOUND' && endpoint.isMirror);
        if (!isRetryable) throw err;
        codes.push(code);
        failures.push(`${endpoint.baseUrl}: ${messageOf(err)}`);
        last = err;
      }
    }
    if (failures.length === 1) throw last;
    // A registry that answered "not found" is a firmer fact than one that could not be reached: report
    // NOT_FOUND then, as containerd does for a mirror without the image (kubelet shows ErrImagePull either way).
    const code = codes.includes('NOT_FOUND') ? 'NOT_FOUND' : errorCode(last);
    throw new BerthError(
      code === 'UNKNOWN' ? 'UNAVAILABLE' : code,
      `${what}: every endpoint failed: ${failures.join('; ')}`,
    );
  }

  /**
   * One request with auth: on 401 answer the challenge once and retry. Redirects are followed by fetch.
   * Authorization goes only to the endpoint's own origin: an upload Location on another host (object
   * storage) gets none, as fetch does for cross-origin redirects.
   */
  private async request(
    endpoint: RegistryEndpoint,
    domain: string,
    call: Call,
    opts: RequestOptions,
  ): Promise<Response> {
    const scope = call.scopes.join(' ');
    const creds = opts.credentials ?? this.config.credentialsFor?.(domain);
    const isOwnOrigin = new URL(call.url).origin === new URL(endpoint.baseUrl).origin;
    const cacheKey = `${endpoint.baseUrl} ${scope}`;
    const cached = this.tokens.get(cacheKey);
    const basic = creds?.username !== undefined ? basicAuth(creds) : undefined;
    const auth = !isOwnOrigin
      ? undefined
      : creds?.registryToken
        ? `Bearer ${creds.registryToken}`
        : cached && cached.expiresAtMs > Date.now()
          ? `Bearer ${cached.token}`
          : this.basicEndpoints.has(endpoint.baseUrl)
            ? basic
            : undefined;
    let res = await this.send(call, auth, opts.signal);
    if (res.status !== 401 || !isOwnOrigin) return res;
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const hasBasic = challenges.some((c) => c.scheme === 'basic');
    let authorization: string | undefined;
    if (bearer && !creds?.registryToken) {
      await res.body?.cancel();
      const token = await this.fetchToken(bearer.params, call.scopes, creds, opts.signal);
      this.tokens.set(cacheKey, token);
      authorization = `Bearer ${token.token}`;
    } else if (hasBasic && basic !== undefined && auth !== basic) {
      await res.body?.cancel();
      this.basicEndpoints.add(endpoint.baseUrl);
      authorization = basic;
    }
    if (authorization === undefined) return res;
    // fetch drops Authorization on a cross-origin redirect (blob storage), as the Fetch spec requires.
    res = await this.send(call, authorization, opts.signal);
    return res;
  }

  private async fetchToken(
    params: Readonly<Record<string, string>>,
    scopes: readonly string[],
    creds: RegistryCredentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    const realm = params['realm'];
    if (!realm) throw new BerthError('UNAUTHENTICATED', 'registry asked for a bearer token but named no realm');
    const service = params['service'] ?? '';
    let res: Response;
    if (creds?.identityToken) {
      // docker's OAuth2 refresh-token grant for identity tokens; OAuth2 scopes are space-separated.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        service,
        scope: scopes.join(' '),
      });
      form.set('client_id', 'berth');
      res = await this.send(
        {
          method: 'POST',
          url: realm,
          scopes,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: () => form.toString(),
        },
        undefined,
        signal,
      );
    } else {
      // The distribution token spec repeats the scope parameter, one per resource.
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const basic = creds?.username !== undefined ? basicAuth(creds) : undefined;
      res = await this.send({ method: 'GET', url: url.toString(), scopes }, basic, signal);
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
    call: Call,
    authorization: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const { url } = call;
    const timeout = call.timeout ?? AbortSignal.timeout(this.config.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    const dispatcher = await this.dispatcherFor(url);
    const headers = { ...call.headers, ...(authorization !== undefined ? { Authorization: authorization } : {}) };
    try {
      return await this.fetchFn(url, {
        method: call.method,
        headers,
        ...(call.body !== undefined ? { body: call.body(), duplex: 'half' } : {}),
        redirect: 'follow',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        ...(dispatcher !== undefined ? { dispatcher } : {}),
      });
    } catch (err) {
      const origin = new URL(url).origin;
      if (signal?.aborted) throw new BerthError('CANCELLED', `request to ${origin} cancelled`);
      throw new BerthError('UNAVAILABLE', `cannot reach ${origin}: ${describeFetchFailure(err, url)}`, {
        cause: err,
      });
    }
  }

  /** The insecure dispatcher for https:// URLs of hosts with insecureSkipVerify, else none (fetch's default). */
  private async dispatcherFor(url: string): Promise<FetchDispatcher | undefined> {
    const { protocol, host } = new URL(url);
    if (protocol !== 'https:' || this.config.tls?.[host]?.insecureSkipVerify !== true) return undefined;
    this.insecure ??= (this.config.insecureDispatcher ?? createInsecureDispatcher)();
    return this.insecure;
  }
}

/**
 * An AbortSignal that fires after `idleMs` without touch(): a download may take as long as it needs while bytes
 * keep coming. Unref'd (the request keeps the process alive); stop() disarms it for good.
 */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private isStopped = false;

  constructor(private readonly idleMs: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    if (this.isStopped) return;
    this.timer = setTimeout(
      () => this.controller.abort(new Error(`no byte for ${this.idleMs} ms (image_pull_progress_timeout)`)),
      this.idleMs,
    ).unref();
  }

  stop(): void {
    this.isStopped = true;
    clearTimeout(this.timer);
  }
}

/**
 * A body that broke off: UNAVAILABLE naming the endpoint and how far it got (the pull retries and resumes from
 * there), or CANCELLED when the caller gave up.
 */
function dropped(
  what: string,
  endpoint: RegistryEndpoint,
  atByte: number | undefined,
  err: unknown,
  signal: AbortSignal | undefined,
): BerthError {
  if (signal?.aborted) return new BerthError('CANCELLED', `${what}: cancelled`, { cause: err });
  const cause = (err as { cause?: unknown }).cause;
  const why = messageOf(cause instanceof Error ? cause : err);
  const where = atByte === undefined ? '' : ` after byte ${atByte}`;
  return new BerthError('UNAVAILABLE', `${what}: connection to ${endpoint.baseUrl} dropped${where}: ${why}`, {
    cause: err,
  });
}

function pushScope(repo: Repository): string {
  return `repository:${repo.path}:pull,push`;
}

function basicAuth(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
}

/** undici wraps the socket error in `cause`; a certificate failure names the key that would allow it. */
function describeFetchFailure(err: unknown, url: string): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : undefined;
  if (code !== undefined && CERT_ERROR.test(code)) {
    const host = new URL(url).host;
    return (
      `TLS certificate error ${code}${message ? ` (${message})` : ''}; trust the registry's CA, or set ` +
      `[plugins.cri.registry.configs."${host}".tls] insecure_skip_verify = true`
    );
  }
  return code ?? message ?? messageOf(err);
}
