// Pinned network namespaces for CNI integration tests, made the way Berth's sandbox code pins them: a
// bind-mounted nsfs file created with util-linux `unshare --net=FILE`.
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';

export async function createNetns(path: string): Promise<void> {
  await writeFile(path, '');
  execFileSync('unshare', [`--net=${path}`, 'true']);
}

export async function removeNetns(path: string): Promise<void> {
  try {
    execFileSync('umount', [path], { stdio: 'ignore' });
  } catch {
    // already unmounted
  }
  await rm(path, { force: true });
}

/** Runs a command inside the netns and returns its stdout. */
export function inNetns(path: string, argv: readonly string[]): string {
  return execFileSync('nsenter', [`--net=${path}`, ...argv], { encoding: 'utf8' });
}
