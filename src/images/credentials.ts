/** Credentials as CRI AuthConfig (and Berth's admin RegistryAuth) carry them -> registry credentials. */
import { decodeDockerAuth } from './registry/docker-auth.js';
import type { RegistryCredentials } from './registry/registry-client.js';

export interface AuthFields {
  readonly username: string;
  readonly password: string;
  /** base64("user:password") as in docker's config.json; wins over username/password. */
  readonly auth: string;
  readonly identityToken: string;
  readonly registryToken: string;
}

export function credentialsFromAuth(auth: AuthFields | undefined): RegistryCredentials | undefined {
  if (auth === undefined) return undefined;
  let { username, password } = auth;
  if (auth.auth !== '') ({ username, password } = decodeDockerAuth(auth.auth));
  const creds: RegistryCredentials = {
    ...(username !== '' ? { username, password } : {}),
    ...(auth.identityToken !== '' ? { identityToken: auth.identityToken } : {}),
    ...(auth.registryToken !== '' ? { registryToken: auth.registryToken } : {}),
  };
  return Object.keys(creds).length === 0 ? undefined : creds;
}
