/**
 * Upload-session URLs (OCI distribution spec, "Pushing blobs"). The Location a registry answers may be
 * relative ("/v2/a/blobs/uploads/<uuid>?_state=…") or absolute (another host, e.g. object storage), and
 * may already carry a query the registry needs back verbatim. The closing PUT adds `digest=` to that query
 * without re-encoding what is there: URLSearchParams would rewrite it in form encoding ("+" for spaces,
 * "%3D" for "="), and some registries compare the state they handed out byte for byte.
 */
import { BerthError } from '../../base/errors.js';

/** The absolute URL of a Location header, resolved against the URL of the request that got it (RFC 9110 10.2.2). */
export function uploadUrl(location: string, requestUrl: string): string {
  let url: URL;
  try {
    url = new URL(location, requestUrl);
  } catch {
    throw new BerthError('UNAVAILABLE', `registry answered an unusable upload Location "${location.slice(0, 200)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BerthError('UNAVAILABLE', `registry answered an upload Location with scheme ${url.protocol}`);
  }
  url.hash = '';
  return url.toString();
}

/** url with `digest=<digest>` appended to its query, the rest of the query left as it was. */
export function withDigest(url: string, digest: string): string {
  const parsed = new URL(url);
  const param = `digest=${encodeURIComponent(digest)}`;
  parsed.search = parsed.search === '' || parsed.search === '?' ? `?${param}` : `${parsed.search}&${param}`;
  return parsed.toString();
}
