/**
 * Parses a WWW-Authenticate header (RFC 7235) into challenges, as registries send them:
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"
 * Quoted values may hold commas and escaped quotes; scheme names are case-insensitive (lower-cased here).
 */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < header.length && (header[pos] === ' ' || header[pos] === '\t')) pos++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(header);
    if (!m) return undefined;
    pos = TOKEN.lastIndex;
    return m[0];
  };
  const quoted = (): string => {
    let out = '';
    pos++; // opening quote
    while (pos < header.length && header[pos] !== '"') {
      if (header[pos] === '\\' && pos + 1 < header.length) pos++;
      out += header[pos];
      pos++;
    }
    pos++; // closing quote
    return out;
  };

  while (pos < header.length) {
    skipSpace();
    if (header[pos] === ',') {
      pos++;
      continue;
    }
    const first = token();
    if (first === undefined) break;
    skipSpace();
    if (header[pos] === '=' && challenges.length > 0) {
      // a parameter of the current challenge
      pos++;
      skipSpace();
      const value = header[pos] === '"' ? quoted() : (token() ?? '');
      challenges[challenges.length - 1]!.params[first.toLowerCase()] = value;
    } else {
      challenges.push({ scheme: first.toLowerCase(), params: {} });
    }
    skipSpace();
    if (header[pos] === ',') pos++;
  }
  return challenges;
}
