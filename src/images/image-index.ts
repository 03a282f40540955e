/**
 * The in-memory index of image records, rebuilt at startup from the store and kept current by the image
 * service, so ListImages and ImageStatus (polled by kubelet) never touch SQLite or the disk.
 *
 * Vocabulary: a *name* is one image record (a normalized reference, tag or digest form); an *image* is
 * every name of one namespace that points at the same config digest, which is the CRI image id.
 */
import { BerthError } from '../base/errors.js';
import type { ImageRecord } from '../store/index.js';

export interface IndexedImage {
  /** The config digest ("sha256:…"): the CRI image id. */
  readonly id: string;
  readonly namespace: string;
  /** Records pointing at this image, sorted by name. */
  readonly records: readonly ImageRecord[];
}

const HEX64 = /^[0-9a-f]{64}$/;

export class ImageIndex {
  /** namespace -> name -> record */
  private readonly byName = new Map<string, Map<string, ImageRecord>>();
  /** namespace -> config digest -> names */
  private readonly byId = new Map<string, Map<string, Set<string>>>();

  constructor(records: readonly ImageRecord[] = []) {
    for (const r of records) this.add(r);
  }

  put(record: ImageRecord): void {
    this.remove(record.namespace, record.name);
    this.add(record);
  }

  remove(namespace: string, name: string): ImageRecord | undefined {
    const names = this.byName.get(namespace);
    const old = names?.get(name);
    if (old === undefined) return undefined;
    names?.delete(name);
    const ids = this.byId.get(namespace);
    const set = ids?.get(old.configDigest);
    set?.delete(name);
    if (set?.size === 0) ids?.delete(old.configDigest);
    return old;
  }

  getByName(namespace: string, name: string): ImageRecord | undefined {
    return this.byName.get(namespace)?.get(name);
  }

  getById(namespace: string, id: string): IndexedImage | undefined {
    const names = this.byId.get(namespace)?.get(id);
    if (names === undefined || names.size === 0) return undefined;
    const records = [...names]
      .sort()
      .map((n) => this.byName.get(namespace)?.get(n))
      .filter((r): r is ImageRecord => r !== undefined);
    return { id, namespace, records };
  }

  list(namespace: string): IndexedImage[] {
    const ids = this.byId.get(namespace);
    if (ids === undefined) return [];
    return [...ids.keys()].sort().flatMap((id) => {
      const image = this.getById(namespace, id);
      return image === undefined ? [] : [image];
    });
  }

  /** Every config digest in use in any namespace (GC roots). */
  allIds(): Set<string> {
    const out = new Set<string>();
    for (const ids of this.byId.values()) for (const id of ids.keys()) out.add(id);
    return out;
  }

  /** Every record in every namespace. */
  allRecords(): ImageRecord[] {
    return [...this.byName.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * Finds an image by id: "sha256:<hex>", "<hex>", or a unique prefix of at least 3 hex characters
   * (as crictl and docker accept). Ambiguous prefixes are INVALID_ARGUMENT; no match is undefined.
   */
  findById(namespace: string, idOrPrefix: string): IndexedImage | undefined {
    const hex = idOrPrefix.startsWith('sha256:') ? idOrPrefix.slice('sha256:'.length) : idOrPrefix;
    if (!/^[0-9a-f]{3,64}$/.test(hex)) return undefined;
    if (HEX64.test(hex)) return this.getById(namespace, `sha256:${hex}`);
    const ids = [...(this.byId.get(namespace)?.keys() ?? [])].filter((id) => id.startsWith(`sha256:${hex}`));
    if (ids.length > 1) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `image id prefix "${idOrPrefix}" is ambiguous: ${ids.length} images match`,
      );
    }
    return ids[0] === undefined ? undefined : this.getById(namespace, ids[0]);
  }

  private add(record: ImageRecord): void {
    let names = this.byName.get(record.namespace);
    if (names === undefined) this.byName.set(record.namespace, (names = new Map<string, ImageRecord>()));
    names.set(record.name, record);
    let ids = this.byId.get(record.namespace);
    if (ids === undefined) this.byId.set(record.namespace, (ids = new Map<string, Set<string>>()));
    let set = ids.get(record.configDigest);
    if (set === undefined) ids.set(record.configDigest, (set = new Set()));
    set.add(record.name);
  }
}
