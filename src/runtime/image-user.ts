/**
 * Who a container runs as: the CRI security context (run_as_user, run_as_group, run_as_username, supplemental
 * groups) over the image config's `User` ("name", "uid", "name:group", "uid:gid"), with names resolved from the
 * container's own /etc/passwd and /etc/group (never the node's), as containerd and CRI-O do. Groups of the
 * user in the image's /etc/group are added, like `id -G` inside the container would show.
 */
import { BerthError } from '../base/errors.js';

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
}

export interface UserRequest {
  /** The image config's User, '' when unset. */
  readonly imageUser: string;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsUsername?: string;
  readonly supplementalGroups?: readonly number[];
  readonly runAsNonRoot?: boolean;
}

/** The largest uid/gid: (uid_t)-1 is "no id" to the kernel. */
const MAX_ID = 2 ** 32 - 2;

function parseId(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_ID ? n : undefined;
}

/** /etc/passwd lines "name:x:uid:gid:gecos:home:shell"; malformed lines are skipped as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (f[0] !== '' && uid !== undefined && gid !== undefined) out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

/** /etc/group lines "name:x:gid:member,member". */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = parseId(f[2]!);
    if (f[0] === '' || gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

export function resolveUser(
  req: UserRequest,
  passwd: readonly PasswdEntry[],
  groups: readonly GroupEntry[],
): ResolvedUser {
  const [imageUserPart = '', imageGroupPart] = req.imageUser.split(':', 2);
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;

  const byName = (n: string): PasswdEntry => {
    const entry = passwd.find((p) => p.name === n);
    if (entry === undefined) {
      throw new BerthError('INVALID_ARGUMENT', `user "${n}" is not in the image's /etc/passwd`);
    }
    return entry;
  };

  for (const [what, id] of [
    ['runAsUser', req.runAsUser],
    ['runAsGroup', req.runAsGroup],
    ...(req.supplementalGroups ?? []).map((g) => ['supplementalGroups', g] as const),
  ] as const) {
    if (id !== undefined && !isValidId(id)) {
      throw new BerthError('INVALID_ARGUMENT', `${what} ${id} is not a valid id (0-${MAX_ID})`);
    }
  }

  if (req.runAsUser !== undefined) {
    uid = req.runAsUser;
    const entry = passwd.find((p) => p.uid === uid);
    gid = entry?.gid;
    name = entry?.name;
  } else if (req.runAsUsername !== undefined && req.runAsUsername !== '') {
    const entry = byName(req.runAsUsername);
    ({ uid, gid, name } = entry);
  } else if (imageUserPart !== '') {
    const numeric = parseId(imageUserPart);
    if (numeric !== undefined) {
      uid = numeric;
      const entry = passwd.find((p) => p.uid === uid);
      gid = entry?.gid;
      name = entry?.name;
    } else {
      ({ uid, gid, name } = byName(imageUserPart));
    }
  } else {
    uid = 0;
    gid = 0;
    name = passwd.find((p) => p.uid === 0)?.name ?? 'root';
  }

  // The image's group part applies unless the pod names a group itself.
  if (req.runAsGroup !== undefined) {
    gid = req.runAsGroup;
  } else if (
    imageGroupPart !== undefined &&
    imageGroupPart !== '' &&
    req.runAsUser === undefined &&
    !req.runAsUsername
  ) {
    const numeric = parseId(imageGroupPart);
    if (numeric !== undefined) gid = numeric;
    else {
      const group = groups.find((g) => g.name === imageGroupPart);
      if (group === undefined) {
        throw new BerthError('INVALID_ARGUMENT', `group "${imageGroupPart}" is not in the image's /etc/group`);
      }
      gid = group.gid;
    }
  }
  const primary = gid ?? 0;

  if (req.runAsNonRoot === true && uid === 0) {
    throw new BerthError(
      'FAILED_PRECONDITION',
      'container has runAsNonRoot and image will run as root (set runAsUser to a non-zero uid)',
    );
  }

  const extra = new Set<number>();
  if (name !== undefined) for (const g of groups) if (g.members.includes(name)) extra.add(g.gid);
  for (const g of req.supplementalGroups ?? []) extra.add(g);
  extra.delete(primary);
  return { uid, gid: primary, additionalGids: [...extra].sort((a, b) => a - b) };
}

function isValidId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id <= MAX_ID;
}
