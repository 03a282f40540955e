/** Docker's `auth` credential field: base64 of "username:password" (config.json, CRI AuthConfig). */
import { BerthError } from '../../base/errors.js';

export function decodeDockerAuth(auth: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw new BerthError('INVALID_ARGUMENT', 'auth must be base64 of "username:password"');
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
