/** OCI image spec ChainID: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
import { createHash } from 'node:crypto';

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(
      parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`,
    );
  }
  return out;
}
